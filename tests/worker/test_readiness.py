"""Readiness: a session and a running backend, while the SwarmUI process lives."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from tests.support.processes import free_port
from tests.worker.conftest import set_faults
from worker.readiness import (
    BackendsDown,
    NotReady,
    SwarmUIDied,
    backends_down,
    swarmui_process,
    wait_until_ready,
)
from worker.swarmui_client import SwarmUICancelled, SwarmUIClient


@pytest.fixture
def exited_pid_file(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    pid_file = tmp_path / "exited.pid"
    pid_file.write_text(f"{process.pid}\n")
    return pid_file


@pytest.fixture
def live_pid_file(tmp_path):
    pid_file = tmp_path / "live.pid"
    pid_file.write_text(str(os.getpid()))
    return pid_file


def test_a_running_backend_is_ready(swarmui):
    wait_until_ready(SwarmUIClient(swarmui.base_url), timeout=5, pid_file=None)


def test_waits_while_backends_load(start_swarmui, live_pid_file):
    server = start_swarmui("--boot-delay", "1.5")
    seen: list[str] = []
    started = time.monotonic()
    wait_until_ready(
        SwarmUIClient(server.base_url), timeout=20, pid_file=live_pid_file, on_wait=seen.append
    )
    assert time.monotonic() - started >= 1.0
    assert any("loading" in state for state in seen), seen


def test_a_dead_swarmui_process_fails_at_once(exited_pid_file):
    client = SwarmUIClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    started = time.monotonic()
    with pytest.raises(SwarmUIDied, match="has exited"):
        wait_until_ready(client, timeout=60, pid_file=exited_pid_file)
    assert time.monotonic() - started < 2


def test_gives_up_after_the_startup_timeout_saying_what_it_saw(swarmui):
    set_faults(swarmui, backend_status="loading")
    with pytest.raises(NotReady, match=r"not ready after 1s .*backends: 0=loading"):
        wait_until_ready(SwarmUIClient(swarmui.base_url), timeout=1, pid_file=None, interval=0.1)


@pytest.mark.parametrize("status", ["errored", "disabled"])
def test_a_backend_that_cannot_come_up_fails_after_the_grace_not_the_timeout(swarmui, status):
    set_faults(swarmui, backend_status=status)
    started = time.monotonic()
    with pytest.raises(BackendsDown, match=rf"no SwarmUI backend can run \(0={status}\)"):
        wait_until_ready(
            SwarmUIClient(swarmui.base_url), timeout=60, pid_file=None, down_grace=1, interval=0.1
        )
    assert 1 <= time.monotonic() - started < 10


def test_a_backend_auto_restarting_within_the_grace_is_waited_for(swarmui):
    # SwarmUI's AutoRestart: errored for ~2 s after a crash, then loading, then running.
    set_faults(swarmui, backend_status="errored")
    threading.Timer(0.6, set_faults, args=(swarmui,), kwargs={"backend_status": "loading"}).start()
    threading.Timer(1.2, set_faults, args=(swarmui,), kwargs={"backend_status": None}).start()
    seen: list[str] = []
    wait_until_ready(
        SwarmUIClient(swarmui.base_url),
        timeout=20,
        pid_file=None,
        down_grace=1,
        interval=0.1,
        on_wait=seen.append,
    )
    assert seen == ["backends: 0=errored", "backends: 0=loading"]


def test_the_grace_restarts_whenever_a_backend_is_loading_again(swarmui):
    # errored → loading → errored: the second errored spell gets a full grace of its own.
    set_faults(swarmui, backend_status="errored")
    threading.Timer(0.7, set_faults, args=(swarmui,), kwargs={"backend_status": "loading"}).start()
    threading.Timer(0.9, set_faults, args=(swarmui,), kwargs={"backend_status": "errored"}).start()
    started = time.monotonic()
    with pytest.raises(BackendsDown):
        wait_until_ready(
            SwarmUIClient(swarmui.base_url), timeout=30, pid_file=None, down_grace=1, interval=0.1
        )
    assert time.monotonic() - started >= 1.9


def test_which_backend_listings_are_down():
    assert backends_down({"0": {"status": "errored"}, "1": {"status": "disabled"}})
    assert not backends_down({"0": {"status": "errored"}, "1": {"status": "loading"}})
    assert not backends_down({"0": {"status": "waiting"}})
    assert not backends_down({})  # SwarmUI answers before it has read its backends


def test_sessions_alone_are_enough_when_no_backend_is_needed(swarmui):
    set_faults(swarmui, backend_status="loading")
    wait_until_ready(SwarmUIClient(swarmui.base_url), timeout=2, pid_file=None, need_backend=False)


def test_an_unreachable_swarmui_is_waited_for_while_its_process_lives(live_pid_file):
    client = SwarmUIClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(NotReady, match="not answering yet"):
        wait_until_ready(client, timeout=1, pid_file=live_pid_file, interval=0.1)


def test_waiting_stops_when_cancelled(swarmui):
    set_faults(swarmui, backend_status="loading")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(SwarmUICancelled):
        wait_until_ready(SwarmUIClient(swarmui.base_url), timeout=30, pid_file=None, cancel=cancel)


def test_process_state_reads_the_pid_file(tmp_path, live_pid_file, exited_pid_file):
    assert swarmui_process(None).alive is None
    assert swarmui_process(tmp_path / "absent.pid").alive is None
    assert swarmui_process(live_pid_file).alive is True
    assert swarmui_process(exited_pid_file).alive is False
