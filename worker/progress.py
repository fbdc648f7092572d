"""Throttled progress updates that can never overtake a job's result.

RunPod's `progress_update` is fire-and-forget from a fresh thread, so an update sent just before
the handler returns can reach the control plane after the result and overwrite it
(runpod/runpod-python#250, shared/reference/runpod.md §3.4). `ProgressReporter` therefore:
- sends at most one update per `interval`, the first one `interval` after the job started (a
  job shorter than that sends none), later ones replacing a held update (latest wins),
- sends from one thread, one update at a time,
- on `close()` drops the held update and waits for the one in flight, so by the time the handler
  returns its result no progress POST is outstanding.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], None]


class ProgressReporter:
    """Forward progress payloads to `send`, throttled, from a background thread."""

    def __init__(self, send: Sender, *, interval: float = 1.0) -> None:
        self._send = send
        self._interval = interval
        self._condition = threading.Condition()
        self._pending: dict[str, Any] | None = None
        self._closed = False
        self._last_sent = time.monotonic()  # the first update waits one interval too
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def update(self, payload: dict[str, Any]) -> None:
        """Queue `payload`; it replaces any update still waiting for its turn."""
        with self._condition:
            if self._closed:
                return
            self._pending = payload
            self._condition.notify()

    def close(self, *, timeout: float = 10.0) -> None:
        """Drop any held update and wait until the update in flight (if any) has been sent."""
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                wait = self._last_sent + self._interval - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)  # close() or a newer update may arrive meanwhile
                    continue
                payload, self._pending = self._pending, None
                self._last_sent = time.monotonic()
            try:
                self._send(payload)
                self.sent += 1
            except Exception:  # a lost progress update must never fail the job
                log.warning("progress update failed", exc_info=True)


def runpod_sender(job: dict[str, Any]) -> Sender:
    """Send progress through the runpod SDK's job-done channel, synchronously.

    Same request as `runpod.serverless.progress_update`, but it returns only once the POST is
    done, which is what lets `ProgressReporter.close()` guarantee ordering.
    """
    from runpod.http_client import AsyncClientSession
    from runpod.serverless.modules.rp_http import send_result

    async def post(payload: dict[str, Any]) -> None:
        async with AsyncClientSession() as session:
            await send_result(session, {"status": "IN_PROGRESS", "output": payload}, job)

    def send(payload: dict[str, Any]) -> None:
        asyncio.run(post(payload))

    return send
