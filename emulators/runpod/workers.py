"""Workers: real processes running `<worker command>`, their states, and their stop channel.

Each worker is spawned with the env of docs/emulators.md so the runpod SDK's own job loop talks to
our worker-facing routes (§3.3). A worker is INITIALIZING until its cold start has passed and it
has polled job-take once; then IDLE or RUNNING. A process that dies on its own fails the job it
was running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .endpoint import Endpoint, utc_iso
from .notify import Notifier

log = logging.getLogger("emulators.runpod.workers")

# A stop signal is sent again while the worker still holds the job: the SDK drops a signal that
# arrives before it has started the job's task (rp_scale.py `stop_job`).
STOP_RESEND_SECONDS = 1.0
STOP_GRACE_SECONDS = 3.0  # SIGTERM, then SIGKILL after this long
SHUTDOWN_GRACE_SECONDS = 1.5  # the same when the whole emulator stops
EXTERNAL_WORKER_SILENCE = 30.0  # forget a worker we did not spawn after this long without a poll
GPU_TYPE = "NVIDIA GeForce RTX 4090"

# Started in front of the worker command: ask the kernel to SIGKILL the worker when the emulator
# dies, so a crashed or SIGKILLed emulator never leaves workers spinning on a dead URL.
_LAUNCHER = """
import ctypes, os, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(os.environ.pop("_RUNPOD_EMULATOR_PID", "0")):
    sys.exit(1)
os.execvp(sys.argv[1], sys.argv[1:])
"""


class WorkerStatus(StrEnum):
    RUNNING = "RUNNING"
    IDLE = "IDLE"
    INITIALIZING = "INITIALIZING"
    THROTTLED = "THROTTLED"
    UNHEALTHY = "UNHEALTHY"


def new_worker_id() -> str:
    """Worker (pod) ids look like RunPod's: 14 lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(14))


@dataclass
class Worker:
    """One worker. `process` is None for a worker we did not spawn (an external SDK loop)."""

    id: str
    version: int
    ready_at: float  # monotonic time its cold start ends
    process: asyncio.subprocess.Process | None = None
    started_at: float = field(default_factory=time.time)
    spawned_at: float = field(default_factory=time.monotonic)
    polled: bool = False  # has asked for a job at least once
    jobs: set[str] = field(default_factory=set)  # running here, as far as we know
    # Jobs we stopped (cancel, timeout, TTL) that the worker has not let go of yet, with when the
    # stop signal was last sent (0: not yet).
    draining: dict[str, float] = field(default_factory=dict)
    idle_since: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    stopping: bool = False
    unhealthy: bool = False  # died before its first poll: the endpoint is crash-looping
    ended_at: float | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def managed(self) -> bool:
        return self.process is not None

    @property
    def busy(self) -> bool:
        return bool(self.jobs or self.draining)

    def is_ready(self, now: float) -> bool:
        return now >= self.ready_at

    def status(self, now: float) -> WorkerStatus:
        if self.unhealthy:
            return WorkerStatus.UNHEALTHY
        if not (self.polled and self.is_ready(now)):
            return WorkerStatus.INITIALIZING
        return WorkerStatus.RUNNING if self.busy else WorkerStatus.IDLE

    def view(self, now: float, endpoint_version: int, data_center: str) -> dict[str, Any]:
        """The REST v2 worker object (§5.2)."""
        return {
            "id": self.id,
            "status": self.status(now).value,
            "isStale": self.version != endpoint_version,
            "version": self.version,
            "gpuCount": 1,
            "gpuTypeId": GPU_TYPE,
            "dataCenterId": data_center,
            "uptimeSeconds": int((self.ended_at or now) - self.spawned_at),
            "startedAt": utc_iso(self.started_at),
        }

    def debug_view(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status(now).value,
            "pid": self.process.pid if self.process else None,
            "managed": self.managed,
            "version": self.version,
            "jobs": sorted(self.jobs),
            "draining": sorted(self.draining),
            "stopping": self.stopping,
            "polled": self.polled,
            "readyIn": max(0.0, round(self.ready_at - now, 3)),
        }


# Called when a worker process ends: (worker, unexpected) — unexpected means we did not stop it.
ExitHook = Callable[[Worker, bool], None]


class WorkerPool:
    """Spawns, tracks, stops and kills workers. The scaler decides how many; this does the work."""

    def __init__(
        self,
        *,
        command: tuple[str, ...],
        endpoint: Endpoint,
        callback_base: str,
        cold_start: float,
        wakeup: Notifier,
    ) -> None:
        self.command = command
        self.endpoint = endpoint
        self.callback_base = callback_base
        self.cold_start = cold_start
        self._wakeup = wakeup
        self._workers: dict[str, Worker] = {}
        self._retired: set[str] = set()
        # Recent workers that crashed before their first poll, reported as UNHEALTHY until a
        # worker starts fine (runpod-mcp#62: crash-looping workers show as unhealthy).
        self._unhealthy: dict[str, Worker] = {}
        self.unhealthy_cap = 1  # set by the scaler to its target
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_exit: ExitHook = lambda worker, unexpected: None
        self.crash_streak = 0  # consecutive workers that died before their first poll
        self.spawn_not_before = 0.0

    # ----------------------------------------------------------------- reading
    def get(self, worker_id: str) -> Worker | None:
        return self._workers.get(worker_id)

    def live(self) -> list[Worker]:
        """Workers that count: everything not on its way out."""
        return [worker for worker in self._workers.values() if not worker.stopping]

    def all(self) -> list[Worker]:
        return list(self._workers.values())

    def unhealthy(self) -> list[Worker]:
        """The most recent crashed workers, at most as many as the scaler wants running."""
        return list(self._unhealthy.values())[-self.unhealthy_cap :]

    def clear_unhealthy(self) -> None:
        self._unhealthy.clear()

    def first_busy(self) -> Worker | None:
        busy = [worker for worker in self.live() if worker.jobs]
        return min(busy, key=lambda worker: worker.spawned_at) if busy else None

    def check_in(self, worker_id: str) -> Worker | None:
        """A worker called us. Unknown ids become external workers (an SDK loop someone started by
        hand against this emulator, §4.4); ids of workers that are gone stay gone."""
        worker = self._workers.get(worker_id)
        now = time.monotonic()
        if worker is None:
            if worker_id in self._retired:
                return None
            worker = Worker(id=worker_id, version=self.endpoint.version, ready_at=now)
            self._workers[worker_id] = worker
            log.info("external worker %s checked in", worker_id)
        worker.last_seen = now
        return worker

    # ------------------------------------------------------------ job tracking
    def assign(self, worker: Worker, job_id: str) -> None:
        worker.jobs.add(job_id)
        worker.draining.pop(job_id, None)  # a retried job back on the same worker

    def release(self, worker_id: str, job_id: str, stop: bool) -> None:
        """A job stopped running on a worker. With `stop`, tell the worker through /job-stop."""
        worker = self._workers.get(worker_id)
        if worker is None:
            return
        worker.jobs.discard(job_id)
        if stop:
            worker.draining[job_id] = 0.0
        if not worker.busy:
            worker.idle_since = time.monotonic()
        self._wakeup.notify()

    def let_go(self, worker: Worker, job_id: str | None = None) -> None:
        """The worker is done with a job we had stopped (or, without an id, with all of them)."""
        was_busy = worker.busy
        if job_id is None:
            worker.draining.clear()
        else:
            worker.draining.pop(job_id, None)
        # Idle from now only if this freed it: a worker that polls with nothing to let go stays
        # idle since it last was, so the idle timeout can scale it down.
        if was_busy and not worker.busy:
            worker.idle_since = time.monotonic()

    def due_stop_signals(self, worker: Worker, now: float) -> tuple[list[str], float | None]:
        """Job ids to send on /job-stop now (marked sent), and when the next one falls due."""
        due = [
            job_id for job_id, sent in worker.draining.items() if now - sent >= STOP_RESEND_SECONDS
        ]
        for job_id in due:
            worker.draining[job_id] = now
        next_due = min(worker.draining.values(), default=None)
        return due, None if next_due is None else next_due + STOP_RESEND_SECONDS

    # --------------------------------------------------------------- processes
    async def spawn(self) -> Worker | None:
        """Start one worker process in its own process group; None if it could not start."""
        worker_id = new_worker_id()
        env = self._worker_env(worker_id)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _LAUNCHER,
                *self.command,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: we signal the whole group
            )
        except OSError as error:
            log.error("could not start worker command %s: %s", " ".join(self.command), error)
            self._note_crash()
            return None
        now = time.monotonic()
        worker = Worker(
            id=worker_id,
            version=self.endpoint.version,
            ready_at=now + self.cold_start,
            process=process,
        )
        self._workers[worker_id] = worker
        log.info(
            "worker %s started (pid %s, cold start %ss)", worker_id, process.pid, self.cold_start
        )
        self._track(self._pump_output(worker))
        self._track(self._watch(worker))
        return worker

    def stop(self, worker: Worker, reason: str) -> None:
        """Graceful stop: no more jobs, SIGTERM to the group, SIGKILL after a grace period."""
        if worker.stopping:
            return
        worker.stopping = True
        self._wakeup.notify()  # its pending long polls answer 204 now
        if not worker.managed:
            self._forget(worker)
            return
        log.info("stopping worker %s (%s)", worker.id, reason)
        self._signal(worker, signal.SIGTERM)
        self._track(self._kill_after(worker, STOP_GRACE_SECONDS))

    async def kill(self, worker: Worker) -> None:
        """SIGKILL a worker's process group and wait until its exit has been handled."""
        if worker.managed:
            log.info("killing worker %s", worker.id)
            self._signal(worker, signal.SIGKILL)
        else:
            self._forget(worker, unexpected=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.exited.wait(), 10)

    async def stop_all(self) -> None:
        """Shut every worker down: SIGTERM, a grace period, SIGKILL; wait for all of them."""
        workers = self.all()
        for worker in workers:
            worker.stopping = True
            if worker.managed:
                self._signal(worker, signal.SIGTERM)
            else:
                self._forget(worker)
        self._wakeup.notify()
        managed = [worker for worker in workers if worker.managed]
        if managed:
            waits = [asyncio.create_task(worker.exited.wait()) for worker in managed]
            _, pending = await asyncio.wait(waits, timeout=SHUTDOWN_GRACE_SECONDS)
            for worker in managed:
                if not worker.exited.is_set():
                    self._signal(worker, signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=5)
        for task in list(self._tasks):
            task.cancel()

    def reap_silent_external(self, now: float) -> None:
        for worker in self.live():
            if not worker.managed and now - worker.last_seen > EXTERNAL_WORKER_SILENCE:
                log.info("external worker %s went silent", worker.id)
                self._forget(worker, unexpected=True)

    # --------------------------------------------------------------- internal
    def _worker_env(self, worker_id: str) -> dict[str, str]:
        env = dict(os.environ)
        # No API key and no ping URL: the SDK's heartbeat process stays off (§4.4).
        for name in ("RUNPOD_AI_API_KEY", "RUNPOD_WEBHOOK_PING", "RUNPOD_PING_INTERVAL"):
            env.pop(name, None)
        env.update(self.endpoint.env)
        env.setdefault("RUNPOD_LOG_LEVEL", "INFO")  # the SDK defaults to DEBUG, one line per poll
        base = self.callback_base
        env.update(
            {
                "RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID?gpu=emulator",
                "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=emulator",
                "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=emulator",
                "RUNPOD_POD_ID": worker_id,
                "RUNPOD_POD_HOSTNAME": f"{worker_id}-emulator",
                "RUNPOD_ENDPOINT_ID": self.endpoint.id,
                "RUNPOD_SKIP_GPU_CHECK": "true",
                "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
                "PYTHONUNBUFFERED": "1",
                "_RUNPOD_EMULATOR_PID": str(os.getpid()),
            }
        )
        return env

    def _track(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _signal(self, worker: Worker, signum: int) -> None:
        assert worker.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.process.pid, signum)

    async def _kill_after(self, worker: Worker, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.exited.wait(), seconds)
        if not worker.exited.is_set():
            log.info("worker %s ignored SIGTERM; killing it", worker.id)
            self._signal(worker, signal.SIGKILL)

    async def _pump_output(self, worker: Worker) -> None:
        """Copy the worker's output to our stdout, each line prefixed with the worker id."""
        assert worker.process is not None
        assert worker.process.stdout is not None
        stream = worker.process.stdout
        pending = b""
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._print_line(worker, line)
        if pending:
            self._print_line(worker, pending)

    @staticmethod
    def _print_line(worker: Worker, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        if len(text) > 2000:
            text = f"{text[:2000]}… ({len(text)} chars)"
        sys.stdout.write(f"[{worker.id}] {text}\n")
        sys.stdout.flush()

    async def _watch(self, worker: Worker) -> None:
        assert worker.process is not None
        code = await worker.process.wait()
        # Take the rest of the group down too (e.g. a ping process the SDK started).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.process.pid, signal.SIGKILL)
        unexpected = not worker.stopping
        if unexpected:
            log.warning("worker %s exited unexpectedly (exit code %s)", worker.id, code)
            if not worker.polled:
                self._note_crash()
                self._mark_unhealthy(worker)
        else:
            log.info("worker %s stopped (exit code %s)", worker.id, code)
        self._forget(worker, unexpected=unexpected)

    def _note_crash(self) -> None:
        """Workers that die before their first poll are crash-looping: back off respawns."""
        self.crash_streak += 1
        delay = min(30.0, 0.5 * 2 ** (self.crash_streak - 1))
        self.spawn_not_before = time.monotonic() + delay
        log.warning("worker crash streak %s: next spawn in %.1fs", self.crash_streak, delay)

    def note_first_poll(self, worker: Worker) -> None:
        if not worker.polled:
            worker.polled = True
            # Idle time counts from when the worker could first take a job.
            worker.idle_since = max(time.monotonic(), worker.ready_at)
            if worker.managed:
                self.crash_streak = 0
                self._unhealthy.clear()

    def _mark_unhealthy(self, worker: Worker) -> None:
        worker.unhealthy = True
        self._unhealthy[worker.id] = worker
        while len(self._unhealthy) > max(1, self.endpoint.workers_max):
            self._unhealthy.pop(next(iter(self._unhealthy)))

    def _forget(self, worker: Worker, *, unexpected: bool = False) -> None:
        if self._workers.pop(worker.id, None) is None:
            return
        self._retired.add(worker.id)
        worker.ended_at = time.monotonic()
        worker.stopping = True
        self.on_exit(worker, unexpected)
        worker.exited.set()
        self._wakeup.notify()
