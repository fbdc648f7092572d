"""Webhook delivery when a job finishes (reference §1.3 `webhook`, §4.5 "Webhook body")."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.emulators.runpod.helpers import ONE_WARM_WORKER
from tests.support.processes import wait_until

JOB_FIELDS = ("id", "status", "delayTime", "executionTime")


@pytest.fixture(scope="module")
def endpoint(start_module_runpod):
    # The cloud retries a failed delivery 10 s apart; the emulator's test-speed flag shortens that.
    return start_module_runpod(*ONE_WARM_WORKER, "--webhook-retry-interval", "0.2")


@dataclass
class WebhookReceiver:
    url: str
    deliveries: list[dict] = field(default_factory=list)  # JSON bodies, in arrival order


@pytest.fixture
def start_receiver() -> Iterator[Callable[[int], WebhookReceiver]]:
    """`start_receiver(500)` → a local HTTP server answering every POST with that status."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer_status: int = 200) -> WebhookReceiver:
        receiver = WebhookReceiver(url="")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    receiver.deliveries.append(json.loads(body))
                except ValueError:
                    receiver.deliveries.append({"not JSON": body.decode(errors="replace")})
                self.send_response(answer_status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # keep pytest output clean

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/runpod"
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def first_delivery(receiver: WebhookReceiver) -> dict:
    return wait_until(lambda: receiver.deliveries, timeout=15, what="a webhook delivery")[0]


def test_completed_job_is_posted_to_its_webhook_as_the_full_job_object(api, start_receiver):
    receiver = start_receiver()
    job = api.run_to_end({"echo": "hooked"}, webhook=receiver.url)

    delivered = first_delivery(receiver)

    assert {key: delivered[key] for key in JOB_FIELDS} == {key: job[key] for key in JOB_FIELDS}
    assert delivered["status"] == "COMPLETED"
    assert delivered["output"] == {"echo": "hooked", "worker_id": job["workerId"]}


def test_failed_job_is_posted_to_its_webhook_too(api, start_receiver):
    receiver = start_receiver()
    job = api.run_to_end({"fail": "no such model"}, webhook=receiver.url)

    delivered = first_delivery(receiver)

    assert (delivered["id"], delivered["status"]) == (job["id"], "FAILED")
    assert delivered["error"] == "no such model"


def test_accepted_webhook_is_delivered_only_once(api, start_receiver):
    receiver = start_receiver()
    api.run_to_end({"echo": "once"}, webhook=receiver.url)
    first_delivery(receiver)

    with pytest.raises(TimeoutError):  # a retry would come 0.2 s later
        wait_until(lambda: len(receiver.deliveries) > 1, timeout=1.5)


def test_webhook_answered_with_500_is_delivered_three_times_in_all(api, start_receiver):
    receiver = start_receiver(500)
    job = api.run_to_end({"echo": "retried"}, webhook=receiver.url)

    wait_until(lambda: len(receiver.deliveries) >= 3, timeout=15, what="three deliveries")
    with pytest.raises(TimeoutError):  # a fourth would come 0.2 s after the third
        wait_until(lambda: len(receiver.deliveries) > 3, timeout=1.5)
    assert [delivery["id"] for delivery in receiver.deliveries] == [job["id"]] * 3
