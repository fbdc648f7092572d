"""Helpers for the health, alert, usage and budget tests: endpoints on an emulator, readings and
generations with chosen numbers, a local server that records webhook POSTs, and submissions
racing each other."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from django.core.exceptions import ValidationError
from django.db import connection

from dashboard.fleet.models import HealthSample, RunPodEndpoint
from dashboard.generations.models import Status
from tests.dashboard.factories import make_endpoint, make_generation
from tests.support.processes import ServerProcess, wait_until

API_KEY = "local-dev-key"


def emulated_endpoint(team, server: ServerProcess, **fields) -> RunPodEndpoint:
    """An endpoint of `team` on the RunPod emulator (job API and REST v2 on the same base)."""
    return make_endpoint(team, api_base_url=f"{server.base_url}/v2", **fields)


def emulator_settings(server: ServerProcess) -> dict:
    """The emulated endpoint's REST v2 object (workers.min/max and the rest)."""
    response = requests.get(
        f"{server.base_url}/v2/serverless/local",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def patch_emulator_workers(server: ServerProcess, **workers: int) -> None:
    """Change workers.min/max as RunPod (or someone in its console) would."""
    response = requests.patch(
        f"{server.base_url}/v2/serverless/local",
        json={"workers": workers},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    response.raise_for_status()


def emulator_health(server: ServerProcess) -> dict:
    response = requests.get(
        f"{server.base_url}/v2/local/health",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def wait_for_workers(server: ServerProcess, state: str, *, timeout: float = 30) -> dict:
    return wait_until(
        lambda: (health := emulator_health(server))["workers"].get(state) and health,
        timeout=timeout,
        what=f"a {state} worker on the emulator",
    )


def reading(endpoint: RunPodEndpoint, at: datetime, **counts) -> HealthSample:
    """A stored health reading with the given counts (others 0)."""
    return HealthSample.objects.create(endpoint=endpoint, taken_at=at, **counts)


def finished_generation(membership, endpoint, *, at: datetime, cost: str | None, **fields):
    """A succeeded generation created at `at` that cost `cost` dollars."""
    generation = make_generation(
        membership,
        endpoint,
        status=fields.pop("status", Status.SUCCEEDED),
        cost=Decimal(cost) if cost is not None else None,
        **fields,
    )
    generation.created_at = at
    generation.save(update_fields=["created_at"])
    return generation


class WebhookReceiver:
    """A local HTTP server that records the JSON bodies POSTed to it and answers `status`."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/secret-token"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def submit_at_once(create, attempts: int = 8) -> list[str]:
    """Call `create()` from `attempts` threads released together; the sorted outcomes: "created",
    "refused" (a ValidationError on `budget`), or the text of any other error."""
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def one():
        try:
            start.wait()
            create()
            outcomes.append("created")
        except ValidationError as exc:
            outcomes.append("refused" if "budget" in exc.message_dict else str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)
