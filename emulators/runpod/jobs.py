"""Jobs: the request body, the job model and state machine, and the store with its sweeper.

States (§1.4): IN_QUEUE → IN_PROGRESS → COMPLETED | FAILED | CANCELLED | TIMED_OUT. Retention,
TTL and execution timeouts follow §1.3 and §1.5.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .config import MAX_EXECUTION_TIMEOUT_MS, MIN_EXECUTION_TIMEOUT_MS
from .notify import Notifier

log = logging.getLogger("emulators.runpod.jobs")

DEFAULT_TTL_MS = 24 * 3600 * 1000
MIN_TTL_MS = 10_000
MAX_TTL_MS = 7 * 24 * 3600 * 1000


class JobStatus(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


FINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)
RETRYABLE_STATUSES = frozenset({JobStatus.FAILED, JobStatus.TIMED_OUT})


class RequestError(ValueError):
    """A `/run` or `/runsync` body RunPod would answer with 400."""


@dataclass(frozen=True)
class JobRequest:
    """A validated `/run` or `/runsync` body (§1.3)."""

    input: Any
    webhook: str | None = None
    s3_config: dict[str, Any] | None = None
    execution_timeout_ms: int | None = None
    ttl_ms: int = DEFAULT_TTL_MS
    low_priority: bool = False


def _int_in_range(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise RequestError(f"{name} must be an integer number of milliseconds")
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low} and {high} ms")
    return int(value)


def parse_job_request(body: Any) -> JobRequest:
    """Validate a job body: `input` is required; `webhook`, `policy`, `s3Config` are optional."""
    if not isinstance(body, dict):
        raise RequestError('request body must be a JSON object like {"input": {...}}')
    if body.get("input") is None:
        raise RequestError('"input" is required: send {"input": {...}}')
    webhook = body.get("webhook")
    if webhook is not None and not (
        isinstance(webhook, str) and webhook.startswith(("http://", "https://"))
    ):
        raise RequestError("webhook must be an http(s) URL")
    s3_config = body.get("s3Config")
    if s3_config is not None and not isinstance(s3_config, dict):
        raise RequestError("s3Config must be an object")
    policy = body.get("policy") or {}
    if not isinstance(policy, dict):
        raise RequestError("policy must be an object")
    execution_timeout = None
    if policy.get("executionTimeout") is not None:
        execution_timeout = _int_in_range(
            policy["executionTimeout"],
            "policy.executionTimeout",
            MIN_EXECUTION_TIMEOUT_MS,
            MAX_EXECUTION_TIMEOUT_MS,
        )
    ttl = DEFAULT_TTL_MS
    if policy.get("ttl") is not None:
        ttl = _int_in_range(policy["ttl"], "policy.ttl", MIN_TTL_MS, MAX_TTL_MS)
    low_priority = policy.get("lowPriority", False)
    if not isinstance(low_priority, bool):
        raise RequestError("policy.lowPriority must be true or false")
    return JobRequest(
        input=body["input"],
        webhook=webhook,
        s3_config=s3_config,
        execution_timeout_ms=execution_timeout,
        ttl_ms=ttl,
        low_priority=low_priority,
    )


def new_job_id(*, sync: bool) -> str:
    """Ids look like RunPod's: a UUID with a `-u1` suffix, `sync-` in front for /runsync (§1.4)."""
    return f"{'sync-' if sync else ''}{uuid.uuid4()}-u1"


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


@dataclass
class Job:
    """One job and everything the API reports about it."""

    id: str
    request: JobRequest
    sync: bool
    execution_timeout_ms: int
    retention: float  # seconds a finished result stays readable
    submitted_at: float = field(default_factory=time.monotonic)
    status: JobStatus = JobStatus.IN_QUEUE
    worker_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] = field(default_factory=dict)  # "output" and/or "error" when present
    stream: list[Any] = field(default_factory=list)  # chunks not yet read through /stream
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def view(self) -> dict[str, Any]:
        """The `/status` object: id, status, delayTime, executionTime, workerId, output/error."""
        body: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.started_at is not None:
            body["delayTime"] = _ms(self.started_at - self.submitted_at)
            if self.finished_at is not None:
                body["executionTime"] = _ms(self.finished_at - self.started_at)
        if self.worker_id is not None:
            body["workerId"] = self.worker_id
        body.update(self.result)
        return body

    def webhook_payload(self) -> dict[str, Any]:
        """What the webhook receives: the status object plus input and webhook (§1.3, #409)."""
        return {**self.view(), "input": self.request.input, "webhook": self.request.webhook}

    def worker_payload(self) -> dict[str, Any]:
        """The job handed to a worker by job-take: `{"id","input"}` plus s3Config/webhook (§3.3)."""
        body: dict[str, Any] = {"id": self.id, "input": self.request.input}
        if self.request.s3_config is not None:
            body["s3Config"] = self.request.s3_config
        if self.request.webhook is not None:
            body["webhook"] = self.request.webhook
        return body

    def debug_view(self) -> dict[str, Any]:
        """Everything, for `/emulator/state`."""
        return {
            **self.view(),
            "sync": self.sync,
            "input": self.request.input,
            "webhook": self.request.webhook,
            "lowPriority": self.request.low_priority,
            "executionTimeout": self.execution_timeout_ms,
            "ttl": self.request.ttl_ms,
            "pendingStreamChunks": len(self.stream),
        }


# Called when a running job stops running on a worker: (worker_id, job_id, tell_worker_to_stop).
ReleaseHook = Callable[[str, str, bool], None]
FinalHook = Callable[[Job], None]


class JobStore:
    """All jobs of the endpoint, the queue, and every state change. One asyncio loop, no locks."""

    def __init__(
        self,
        *,
        run_retention: float,
        runsync_retention: float,
        default_execution_timeout_ms: Callable[[], int],
        wakeup: Notifier,
    ) -> None:
        self.run_retention = run_retention
        self.runsync_retention = runsync_retention
        self._default_timeout = default_execution_timeout_ms
        self._wakeup = wakeup
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self.on_final: FinalHook = lambda job: None
        self.on_release: ReleaseHook = lambda worker_id, job_id, stop: None
        self.completed_count = 0
        self.failed_count = 0
        self.retried_count = 0

    # ----------------------------------------------------------------- reading
    def get(self, job_id: str) -> Job | None:
        """The job, or None when unknown or past its retention (it reads as 404, §1.5)."""
        job = self._jobs.get(job_id)
        if job is not None and self._expired(job, time.monotonic()):
            self._delete(job)
            return None
        return job

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def queued_count(self, *, include_low_priority: bool = True) -> int:
        if include_low_priority:
            return len(self._queue)
        return sum(1 for job_id in self._queue if not self._jobs[job_id].request.low_priority)

    def in_progress_count(self) -> int:
        return sum(1 for job in self._jobs.values() if job.status is JobStatus.IN_PROGRESS)

    # ------------------------------------------------------------ client side
    def submit(self, request: JobRequest, *, sync: bool) -> Job:
        job = Job(
            id=new_job_id(sync=sync),
            request=request,
            sync=sync,
            execution_timeout_ms=request.execution_timeout_ms or self._default_timeout(),
            retention=self.runsync_retention if sync else self.run_retention,
        )
        self._jobs[job.id] = job
        self._enqueue(job)
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job; a finished job is left as it is (§1.2)."""
        job = self.get(job_id)
        if job is None or job.is_final:
            return job
        self._finish(job, JobStatus.CANCELLED)
        return job

    def retry(self, job_id: str) -> Job | None:
        """Requeue a FAILED/TIMED_OUT job under the same id and input, output cleared (§1.2).

        Returns None if unknown or expired; raises RequestError for any other status."""
        job = self.get(job_id)
        if job is None:
            return None
        if job.status not in RETRYABLE_STATUSES:
            raise RequestError(
                f"job {job_id} is {job.status.value}; only FAILED or TIMED_OUT jobs can be retried"
            )
        job.status = JobStatus.IN_QUEUE
        job.submitted_at = time.monotonic()
        job.worker_id = job.started_at = job.finished_at = None
        job.result = {}
        job.stream = []
        job.done = asyncio.Event()
        self.retried_count += 1
        self._enqueue(job)
        return job

    def purge(self) -> int:
        """Remove every queued job; running jobs go on (§1.2)."""
        removed = [self._jobs.pop(job_id) for job_id in self._queue]
        self._queue.clear()
        for job in removed:
            job.done.set()
        self._wakeup.notify()
        return len(removed)

    def set_retention(self, job: Job, seconds: float) -> None:
        """`/status?ttl=` shortens how long this job's result is kept (§1.2)."""
        job.retention = min(job.retention, seconds)

    # ------------------------------------------------------------ worker side
    def take(self, worker_id: str) -> Job | None:
        """Hand the next queued job to a worker: normal jobs first, then low-priority ones."""
        now = time.monotonic()
        for low_priority in (False, True):
            for job_id in self._queue:
                job = self._jobs[job_id]
                if job.request.low_priority is low_priority:
                    self._queue.remove(job_id)
                    job.status = JobStatus.IN_PROGRESS
                    job.worker_id = worker_id
                    job.started_at = now
                    return job
        return None

    def requeue(self, job: Job) -> None:
        """Put back a job whose hand-over to a worker failed (the worker never saw it)."""
        if job.status is not JobStatus.IN_PROGRESS:
            return
        job.status = JobStatus.IN_QUEUE
        job.worker_id = job.started_at = None
        job.result = {}
        self._queue.insert(0, job.id)
        self._wakeup.notify()

    def running_on(self, job_id: str, worker_id: str) -> Job | None:
        """The job if it is IN_PROGRESS on this worker; late or foreign reports get None."""
        job = self.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS or job.worker_id != worker_id:
            return None
        return job

    def record_progress(self, job: Job, output: Any) -> None:
        """`progress_update` payloads show as `output` while IN_PROGRESS (§3.4)."""
        job.result = {"output": output}

    def record_chunk(self, job: Job, output: Any) -> None:
        job.stream.append(output)

    def record_result(self, job: Job, body: dict[str, Any]) -> None:
        """A worker's final job-done body: `output` and/or `error` (§3.2)."""
        error = body.get("error")
        if "error" in body and error is not None and error != "":
            if isinstance(error, str):
                job.result = {"error": error}
                if "output" in body:
                    job.result["output"] = body["output"]
                self._finish(job, JobStatus.FAILED, stop_worker=False)
            else:
                # A non-string error ends COMPLETED with no output (runpod-python#299, §3.2).
                job.result = {}
                self._finish(job, JobStatus.COMPLETED, stop_worker=False)
            return
        job.result = {"output": body["output"]} if "output" in body else {}
        self._finish(job, JobStatus.COMPLETED, stop_worker=False)

    def complete_orphan(self, job: Job) -> None:
        """A job its worker gave up on without a result (e.g. the result POST was rejected as too
        large): it ends COMPLETED without output, as clients see on RunPod (runpod-python#309)."""
        job.result = {}
        self._finish(job, JobStatus.COMPLETED, stop_worker=False)

    def fail(self, job: Job, error: str) -> None:
        """The worker running this job died."""
        job.result = {"error": error}
        self._finish(job, JobStatus.FAILED, stop_worker=False)

    # ---------------------------------------------------------------- sweeper
    def sweep(self) -> None:
        """Apply TTLs, execution timeouts and retention; called a few times a second."""
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if job.is_final:
                if self._expired(job, now):
                    self._delete(job)
                continue
            if now - job.submitted_at >= job.request.ttl_ms / 1000:
                # The TTL is a hard limit on the whole life of a job: queued or running, it is
                # deleted and reads as 404; a running one is stopped on its worker (§1.3).
                log.info("job %s reached its TTL (%s): deleted", job.id, job.status.value)
                if job.status is JobStatus.IN_PROGRESS and job.worker_id is not None:
                    self.on_release(job.worker_id, job.id, True)
                self._delete(job)
                continue
            if (
                job.status is JobStatus.IN_PROGRESS
                and job.started_at is not None
                and now - job.started_at >= job.execution_timeout_ms / 1000
            ):
                log.info("job %s exceeded its execution timeout", job.id)
                self._finish(job, JobStatus.TIMED_OUT)

    # --------------------------------------------------------------- internal
    def _enqueue(self, job: Job) -> None:
        self._queue.append(job.id)
        self._wakeup.notify()

    def _finish(self, job: Job, status: JobStatus, *, stop_worker: bool = True) -> None:
        was_running = job.status is JobStatus.IN_PROGRESS
        if job.status is JobStatus.IN_QUEUE and job.id in self._queue:
            self._queue.remove(job.id)
        job.status = status
        job.finished_at = time.monotonic()
        if status is JobStatus.COMPLETED:
            self.completed_count += 1
        elif status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
            self.failed_count += 1
        if was_running and job.worker_id is not None:
            self.on_release(job.worker_id, job.id, stop_worker)
        job.done.set()
        self.on_final(job)

    def _expired(self, job: Job, now: float) -> bool:
        return job.finished_at is not None and now - job.finished_at >= job.retention

    def _delete(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        if job.id in self._queue:
            self._queue.remove(job.id)
        job.done.set()
        self._wakeup.notify()
