"""The RunPod handler: validate the job, run its action against SwarmUI, shape the result.

`python -m worker.handler` waits for SwarmUI (see worker.readiness) and then runs the runpod SDK's
job loop. The handler is async so RunPod can cancel a job (runpod.md §3.2): the action runs in a
thread, and on cancellation its cancel event makes it stop and tell SwarmUI to stop too.

Every failure comes back as `{"error": "<text>"}` with a string value (runpod-python#299); the
worker never raises for a job, so it keeps serving the next one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from worker.actions import RUNNERS
from worker.config import ConfigError, WorkerConfig
from worker.contract import ContractError, parse_job_input
from worker.outputs import OutputError, bucket_from_s3_config
from worker.progress import ProgressReporter, Sender, runpod_sender
from worker.readiness import (
    BackendsDown,
    NotReady,
    SwarmUIDied,
    swarmui_process,
    wait_until_ready,
)
from worker.runtime import ActionError, JobContext, Runtime
from worker.swarmui_client import (
    SwarmUICancelled,
    SwarmUIClient,
    SwarmUIError,
    SwarmUITimeout,
    SwarmUIUnavailable,
)

log = logging.getLogger("worker")

SenderFactory = Callable[[dict[str, Any]], Sender]

# SwarmUI's answer when nothing is running or loading (`BackendHandler`, swarmui-api.md §6.2).
NO_BACKENDS = "No backends available"


class Worker:
    """Handles jobs for one SwarmUI; the process-wide state lives in its Runtime."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        client: SwarmUIClient | None = None,
        progress_sender: SenderFactory = runpod_sender,
    ) -> None:
        self.config = config
        self.runtime = Runtime(config, client)
        self._progress_sender = progress_sender

    async def handle(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one RunPod job; the result is the action's output or `{"error": str}`."""
        job_id = str(job.get("id") or "local")
        try:
            request = parse_job_input(job.get("input"))
        except ContractError as error:
            return {"error": str(error)}
        cancel = threading.Event()
        reporter = ProgressReporter(
            self._progress_sender(job), interval=self.config.progress_interval
        )
        context = JobContext(
            job_id=job_id,
            runtime=self.runtime,
            progress=reporter,
            cancel=cancel,
            bucket=bucket_from_s3_config(job.get("s3Config"), self.config.bucket),
        )
        log.info("job %s: %s", job_id, request.action)
        try:
            output = await asyncio.to_thread(RUNNERS[request.action], context, request)
        except asyncio.CancelledError:
            # RunPod cancelled the job: stop the action (it interrupts SwarmUI) and send nothing.
            log.info("job %s cancelled", job_id)
            cancel.set()
            reporter.close(timeout=0)
            raise
        except Exception as error:  # every failure becomes a readable string
            result = self._error_result(job_id, error)
        else:
            result = output.model_dump(mode="json", exclude_none=True)
        # No progress update may still be travelling when the result goes out (runpod-python#250).
        await asyncio.to_thread(reporter.close)
        return result

    def _error_result(self, job_id: str, error: Exception) -> dict[str, Any]:
        if isinstance(error, (ActionError, OutputError, ContractError)):
            return {"error": str(error)}
        if isinstance(error, SwarmUIUnavailable) and not isinstance(error, SwarmUIDied):
            process = swarmui_process(self.config.swarmui_pid_file)
            if process.alive is False:  # it went away during the job
                error = SwarmUIDied(f"SwarmUI (pid {process.pid}) exited during the job: {error}")
        if isinstance(error, SwarmUIDied):
            # Only a restart brings SwarmUI back: ask RunPod to replace this worker.
            self.runtime.mark_unready()
            return {"error": f"SwarmUI is not running: {error}", "refresh_worker": True}
        if isinstance(error, BackendsDown):
            # A fresh worker starts a fresh SwarmUI, which starts its backend again.
            return {"error": f"SwarmUI cannot generate: {error}", "refresh_worker": True}
        if isinstance(error, SwarmUICancelled):
            return {"error": "the job was cancelled"}
        if isinstance(error, SwarmUITimeout):
            self.runtime.mark_unready()
            return {"error": f"SwarmUI timed out: {error}"}
        if isinstance(error, SwarmUIUnavailable):
            self.runtime.mark_unready()
            return {"error": f"SwarmUI is unavailable: {error}"}
        if isinstance(error, SwarmUIError):
            if NO_BACKENDS in str(error):
                self.runtime.mark_unready()  # the next job sees why, or waits for a restart
            return {"error": f"SwarmUI: {error}"}
        log.exception("job %s failed inside the worker", job_id)
        return {"error": f"internal worker error ({type(error).__name__}): {error}"}


_worker: Worker | None = None


async def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The function given to `runpod.serverless.start`."""
    global _worker
    if _worker is None:
        _worker = Worker(WorkerConfig.from_env())
    return await _worker.handle(job)


def main() -> int:
    """Wait for SwarmUI, then run the runpod SDK job loop."""
    global _worker
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    try:
        config = WorkerConfig.from_env()
    except ConfigError as error:
        log.error("invalid configuration: %s", error)
        return 2
    _worker = Worker(config)
    try:
        # Jobs go to other workers while this one is still starting (a first boot installs ComfyUI).
        wait_until_ready(
            _worker.runtime.client,
            timeout=config.startup_timeout,
            pid_file=config.swarmui_pid_file,
            down_grace=config.backend_down_grace,
        )
    except BackendsDown as error:
        # Take jobs anyway: each one is answered with this reason (and a worker refresh)
        # instead of waiting in the queue for a worker that never comes up.
        log.error("%s; starting the RunPod job loop, jobs will fail with this reason", error)
    except (SwarmUIDied, NotReady) as error:
        log.error("%s", error)
        return 1
    else:
        log.info("SwarmUI is ready at %s; starting the RunPod job loop", config.swarmui_api_url)
    import runpod  # heavy (≈2 s, adds a root log handler): only in the real worker process

    runpod.serverless.start({"handler": handler})
    return 0


if __name__ == "__main__":
    sys.exit(main())
