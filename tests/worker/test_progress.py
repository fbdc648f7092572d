"""ProgressReporter: throttled, latest wins, and nothing in flight once closed."""

from __future__ import annotations

import threading
import time

from tests.support.processes import wait_until
from worker.progress import ProgressReporter


class Recorder:
    """A progress sink that records what it got and when."""

    def __init__(self, *, block: threading.Event | None = None) -> None:
        self.sent: list[tuple[float, dict]] = []
        self.started = threading.Event()
        self._block = block

    def __call__(self, payload: dict) -> None:
        self.started.set()
        if self._block is not None:
            self._block.wait(5)
        self.sent.append((time.monotonic(), payload))


def test_a_job_shorter_than_the_interval_sends_nothing():
    recorder = Recorder()
    with ProgressReporter(recorder, interval=10) as reporter:
        reporter.update({"n": 1})
    assert recorder.sent == []


def test_the_first_update_goes_out_one_interval_after_the_start():
    recorder = Recorder()
    started = time.monotonic()
    with ProgressReporter(recorder, interval=0.2) as reporter:
        reporter.update({"n": 1})
        wait_until(lambda: recorder.sent, timeout=2)
    ((sent_at, payload),) = recorder.sent
    assert payload == {"n": 1}
    assert sent_at - started >= 0.19


def test_updates_are_throttled_and_the_latest_wins():
    recorder = Recorder()
    reporter = ProgressReporter(recorder, interval=0.3)
    reporter.update({"n": 1})
    wait_until(lambda: recorder.sent, timeout=2)
    for n in range(2, 10):
        reporter.update({"n": n})
    wait_until(lambda: len(recorder.sent) == 2, timeout=2)
    reporter.close()
    (first, _), (second, payload) = recorder.sent
    assert payload == {"n": 9}
    assert second - first >= 0.29


def test_close_drops_a_held_update():
    recorder = Recorder()
    reporter = ProgressReporter(recorder, interval=0.2)
    reporter.update({"n": 1})
    wait_until(lambda: recorder.sent, timeout=2)
    reporter.update({"n": 2})  # held: the next slot is 0.2 s away
    reporter.close()
    assert [payload for _, payload in recorder.sent] == [{"n": 1}]


def test_close_waits_for_the_update_in_flight():
    release = threading.Event()
    recorder = Recorder(block=release)
    reporter = ProgressReporter(recorder, interval=0)
    reporter.update({"n": 1})
    recorder.started.wait(2)
    closer = threading.Thread(target=reporter.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive(), "close() returned while a progress POST was still in flight"
    release.set()
    closer.join(2)
    assert not closer.is_alive()
    assert len(recorder.sent) == 1


def test_updates_after_close_are_ignored():
    recorder = Recorder()
    reporter = ProgressReporter(recorder, interval=0)
    reporter.close()
    reporter.update({"n": 1})
    assert recorder.sent == []


def test_a_failing_sender_does_not_stop_later_updates():
    calls: list[dict] = []

    def flaky(payload: dict) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise ConnectionError("control plane hiccup")

    reporter = ProgressReporter(flaky, interval=0)
    reporter.update({"n": 1})
    wait_until(lambda: calls, timeout=2)
    reporter.update({"n": 2})
    wait_until(lambda: len(calls) == 2, timeout=2)
    reporter.close()
    assert reporter.sent == 1
