"""The running emulator: one object holding the endpoint, jobs, workers, scaler, faults and the
background loops, with the wiring between them. Route handlers reach it as `request.app[EMULATOR]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from .config import Settings
from .endpoint import Endpoint
from .faults import FaultState
from .jobs import Job, JobStore
from .notify import Notifier
from .ratelimit import RateLimiter
from .scaler import Scaler
from .webhooks import WebhookSender
from .workers import Worker, WorkerPool, WorkerStatus

log = logging.getLogger("emulators.runpod")

SWEEP_SECONDS = 0.1
WORKER_EXITED_ERROR = "worker exited unexpectedly"


class Emulator:
    """Everything one emulator instance holds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closing = False
        # Wakes every long poll (job-take, job-stop, runsync) and the scaler on any change.
        self.wakeup = Notifier()
        self.endpoint = Endpoint.from_settings(settings)
        self.faults = FaultState.from_settings(settings)
        self.rate_limiter = RateLimiter(settings.rate_limit)
        self.webhooks = WebhookSender(retry_interval=settings.webhook_retry_interval)
        self.jobs = JobStore(
            run_retention=settings.run_retention,
            runsync_retention=settings.runsync_retention,
            default_execution_timeout_ms=lambda: self.endpoint.timeout_ms,
            wakeup=self.wakeup,
        )
        self.workers = WorkerPool(
            command=settings.worker_command,
            endpoint=self.endpoint,
            callback_base=f"http://{settings.callback_host}:{settings.port}",
            cold_start=settings.cold_start,
            wakeup=self.wakeup,
        )
        self.scaler = Scaler(
            endpoint=self.endpoint, jobs=self.jobs, pool=self.workers, wakeup=self.wakeup
        )
        self.jobs.on_final = self._job_finished
        self.jobs.on_release = self.workers.release
        self.workers.on_exit = self._worker_exited
        self._loops: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------- lifecycle
    def start(self, port: int) -> None:
        """Start the scaler and the sweeper, once we know the port workers call back on."""
        self.workers.callback_base = f"http://{self.settings.callback_host}:{port}"
        self._loops = [
            asyncio.ensure_future(self.scaler.run()),
            asyncio.ensure_future(self._sweep_forever()),
        ]

    async def shutdown(self) -> None:
        """Stop scaling, answer every long poll, stop all worker process groups, drop webhooks."""
        self.closing = True
        self.scaler.stop()
        self.wakeup.notify()
        await self.workers.stop_all()
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.webhooks.close()

    async def _sweep_forever(self) -> None:
        while not self.closing:
            try:
                self.jobs.sweep()
            except Exception:
                log.exception("sweeper pass failed")
            await asyncio.sleep(SWEEP_SECONDS)

    # ----------------------------------------------------------------- hooks
    def _job_finished(self, job: Job) -> None:
        log.info("job %s %s", job.id, job.status.value)
        if job.request.webhook:
            self.webhooks.deliver(job.request.webhook, job.webhook_payload())
        self.wakeup.notify()

    def _worker_exited(self, worker: Worker, unexpected: bool) -> None:
        if not unexpected:
            return
        for job_id in sorted(worker.jobs):
            job = self.jobs.running_on(job_id, worker.id)
            if job is not None:
                self.jobs.fail(job, WORKER_EXITED_ERROR)

    # ----------------------------------------------------------------- views
    def health(self) -> dict[str, Any]:
        """The `/health` body (§1.6)."""
        counts = self._worker_counts()
        return {
            "jobs": {
                "completed": self.jobs.completed_count,
                "failed": self.jobs.failed_count,
                "inProgress": self.jobs.in_progress_count(),
                "inQueue": self.jobs.queued_count(),
                "retried": self.jobs.retried_count,
            },
            "workers": {
                "idle": counts[WorkerStatus.IDLE],
                "initializing": counts[WorkerStatus.INITIALIZING],
                "ready": counts[WorkerStatus.IDLE] + counts[WorkerStatus.RUNNING],
                "running": counts[WorkerStatus.RUNNING],
                "throttled": counts[WorkerStatus.THROTTLED],
                "unhealthy": counts[WorkerStatus.UNHEALTHY],
            },
        }

    def workers_view(self) -> dict[str, Any]:
        """The REST v2 `/workers` body (§5.2)."""
        now = time.monotonic()
        data_center = (self.endpoint.data_center_ids or ["EU-RO-1"])[0]
        listed = sorted(self.workers.live() + self.workers.unhealthy(), key=lambda w: w.spawned_at)
        workers = [worker.view(now, self.endpoint.version, data_center) for worker in listed]
        counts = self._worker_counts()
        summary = {
            "running": counts[WorkerStatus.RUNNING],
            "idle": counts[WorkerStatus.IDLE],
            "initializing": counts[WorkerStatus.INITIALIZING],
            "throttled": counts[WorkerStatus.THROTTLED],
            "unhealthy": counts[WorkerStatus.UNHEALTHY],
            "total": len(workers),
        }
        return {"endpointVersion": self.endpoint.version, "summary": summary, "workers": workers}

    def state_view(self, base_url: str) -> dict[str, Any]:
        """Everything, for `/emulator/state`."""
        now = time.monotonic()
        return {
            "endpoint": self.endpoint.view(base_url),
            "faults": self.faults.as_dict(),
            "health": self.health(),
            "scalerTarget": self.scaler.target(),
            "workerCommand": list(self.settings.worker_command),
            "jobs": [job.debug_view() for job in self.jobs.all()],
            "workers": [worker.debug_view(now) for worker in self.workers.all()],
        }

    def _worker_counts(self) -> dict[WorkerStatus, int]:
        now = time.monotonic()
        counts = dict.fromkeys(WorkerStatus, 0)
        for worker in self.workers.live() + self.workers.unhealthy():
            counts[worker.status(now)] += 1
        return counts


EMULATOR = web.AppKey("emulator", Emulator)
