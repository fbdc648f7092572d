"""The autoscaler: keep `workers.min` warm, add workers while jobs queue, retire idle ones (§5.1).

Simplification: a queued job asks for a worker at once (RunPod's QUEUE_DELAY scaler waits
`queueDelay` seconds first); low-priority jobs never ask for one (§1.3).
"""

from __future__ import annotations

import logging
import time

from .endpoint import Endpoint
from .jobs import JobStore
from .notify import Notifier
from .workers import WorkerPool, WorkerStatus

log = logging.getLogger("emulators.runpod.scaler")

TICK_SECONDS = 0.2


class Scaler:
    """Reconciles the number of workers with the endpoint settings and the queue."""

    def __init__(
        self, *, endpoint: Endpoint, jobs: JobStore, pool: WorkerPool, wakeup: Notifier
    ) -> None:
        self.endpoint = endpoint
        self.jobs = jobs
        self.pool = pool
        self._wakeup = wakeup
        self._running = True

    def stop(self) -> None:
        self._running = False
        self._wakeup.notify()

    async def run(self) -> None:
        while self._running:
            try:
                await self.reconcile()
            except Exception:
                log.exception("scaler pass failed")
            await self._wakeup.wait(TICK_SECONDS)

    def target(self) -> int:
        """How many workers the endpoint should have right now."""
        busy = sum(1 for worker in self.pool.live() if worker.busy)
        demand = busy + self.jobs.queued_count(include_low_priority=False)
        return min(self.endpoint.workers_max, max(self.endpoint.workers_min, demand))

    async def reconcile(self) -> None:
        now = time.monotonic()
        endpoint = self.endpoint
        self.pool.reap_silent_external(now)
        for worker in self.pool.live():
            # Rolling release: idle workers on an old endpoint version are replaced (§5.1).
            if worker.managed and worker.version != endpoint.version and not worker.busy:
                self.pool.stop(worker, "endpoint has a new release")

        target = self.target()
        self.pool.unhealthy_cap = max(1, target)
        if target == 0:
            self.pool.clear_unhealthy()  # nobody wants a worker: nothing is crash-looping
        missing = target - len(self.pool.live())
        if missing > 0 and self.pool.command and now >= self.pool.spawn_not_before:
            for _ in range(missing):
                if self._running and await self.pool.spawn() is None:
                    break

        live = self.pool.live()
        excess = len(live) - target
        over_max = len(live) - endpoint.workers_max
        if excess <= 0:
            return
        idle = sorted(
            (w for w in live if w.managed and w.status(now) is WorkerStatus.IDLE),
            key=lambda worker: worker.idle_since,
        )
        for worker in idle:
            if excess <= 0:
                break
            if over_max > 0 or now - worker.idle_since >= endpoint.idle_timeout:
                reason = "above workers.max" if over_max > 0 else "idle timeout"
                self.pool.stop(worker, reason)
                excess -= 1
                over_max -= 1
        if over_max > 0:
            starting = sorted(
                (w for w in live if w.managed and not w.stopping and not w.busy),
                key=lambda worker: worker.spawned_at,
                reverse=True,
            )
            for worker in starting[:over_max]:
                self.pool.stop(worker, "above workers.max")
