"""Webhook delivery: the full job object POSTed when a job ends, retried like RunPod (§1.3).

A delivery that does not get a 200 is tried 2 more times, `retry_interval` seconds apart
(10 s on RunPod; `--webhook-retry-interval` changes it for tests).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger("emulators.runpod.webhooks")

ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 10.0


class WebhookSender:
    """Sends webhooks in the background; `close()` cancels what is still pending."""

    def __init__(self, *, retry_interval: float) -> None:
        self.retry_interval = retry_interval
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def deliver(self, url: str, payload: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._deliver(url, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
                headers={"User-Agent": "RunPod-Emulator-Webhook/1.0"},
            )
        return self._session

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        job_id = payload.get("id")
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._client().post(url, json=payload) as response:
                    await response.read()
                    if response.status == 200:
                        log.info("webhook for %s delivered to %s", job_id, url)
                        return
                    outcome = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                outcome = f"{type(error).__name__}: {error}"
            log.warning(
                "webhook for %s to %s failed (attempt %s/%s): %s",
                job_id,
                url,
                attempt,
                ATTEMPTS,
                outcome,
            )
            if attempt < ATTEMPTS:
                await asyncio.sleep(self.retry_interval)
        log.warning("webhook for %s to %s abandoned after %s attempts", job_id, url, ATTEMPTS)
