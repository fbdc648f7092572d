"""The dashboard's own processes for fault tests and benchmarks: Redis, gunicorn, a Celery worker
and beat, sharing one environment. Each can be SIGKILLed and started again on the same port, the
way a crash and a supervisor's restart would do it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from dashboard.devstack import redis_server_binary
from tests.e2e.harness import CeleryWorker
from tests.support.processes import REPO_ROOT, ServerProcess, free_port, wait_until


def sigkill(process: subprocess.Popen | None) -> None:
    """SIGKILL a process and its whole group (every helper here starts one in its own session)."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class CeleryBeat:
    """`celery -A dashboard beat` with the settings' scheduler, its output in a log file."""

    def __init__(self, *, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> CeleryBeat:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashboard", "beat", "--loglevel", "INFO"],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._started, timeout=timeout, interval=0.1, what="celery beat")
        return self

    def _started(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"celery beat exited:\n{self.log()}")
        return "beat: Starting..." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        sigkill(self.process)  # beat holds nothing worth a graceful stop
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()


class DashboardProcesses:
    """Redis, gunicorn (web), one Celery worker and, if asked, beat, on fixed ports.

    `settings` are environment variables for all of them (e.g. `GENERATION_STALE_SECONDS`).
    With `webhooks`, PUBLIC_BASE_URL points at the web process, so every job carries a webhook.
    """

    def __init__(
        self,
        directory: Path,
        *,
        database_url: str,
        webhooks: bool = True,
        beat: bool = False,
        worker_concurrency: int = 4,
        web_workers: int = 2,
        settings: dict[str, str] | None = None,
    ):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.media_root = directory / "media"
        self.with_beat = beat
        self.worker_concurrency = worker_concurrency
        self.queue = f"faults-{uuid.uuid4().hex[:8]}"
        self.redis = ServerProcess(
            args=[
                redis_server_binary() or "redis-server",
                *("--bind", "127.0.0.1", "--port", str(port := free_port())),
                *("--save", "", "--appendonly", "no", "--dir", str(directory)),
            ],
            host="127.0.0.1",
            port=port,
            log_path=directory / "redis.log",
        )
        web_port = free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "MEDIA_ROOT": str(self.media_root),
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_BASE_URL": self.web_url if webhooks else "",
            "STORAGE_S3_BUCKET": "",  # images under MEDIA_ROOT, where the tests count them
            # Nothing but generations talks to RunPod here: the request counts stay ours.
            "WARM_POOL_INTERVAL_SECONDS": "86400",
            "HEALTH_INTERVAL_SECONDS": "86400",
            "CATALOGUE_SYNC_INTERVAL_SECONDS": "86400",
            **(settings or {}),
        }
        self.web = ServerProcess(
            args=[
                str(Path(sys.executable).parent / "gunicorn"),
                "dashboard.wsgi:application",
                *("--bind", f"127.0.0.1:{web_port}", "--workers", str(web_workers)),
                *("--threads", "4"),
            ],
            host="127.0.0.1",
            port=web_port,
            log_path=directory / "web.log",
            env=self.env,
        )
        self.worker: CeleryWorker | None = None
        self.beat: CeleryBeat | None = None
        self._starts = 0

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]

    # --- start and stop ----------------------------------------------------------------------
    def start(self) -> DashboardProcesses:
        """Redis first, then web, worker and beat side by side (each imports Django: seconds)."""
        self.redis.start()
        starters = [self.web.start, self.start_worker]
        if self.with_beat:
            starters.append(self.start_beat)
        with ThreadPoolExecutor(len(starters)) as pool:
            for future in [pool.submit(start) for start in starters]:
                future.result()
        return self

    def start_worker(self) -> CeleryWorker:
        self._starts += 1
        self.worker = CeleryWorker(
            queue=self.queue,
            env=self.env,
            log_path=self.directory / f"celery-{self._starts}.log",
            concurrency=self.worker_concurrency,
        ).start()
        return self.worker

    def start_beat(self) -> CeleryBeat:
        self._starts += 1
        self.beat = CeleryBeat(env=self.env, log_path=self.directory / f"beat-{self._starts}.log")
        return self.beat.start()

    def kill_worker(self) -> None:
        sigkill(self.worker.process if self.worker else None)
        if self.worker is not None:
            self.worker.stop()

    def kill_all(self) -> None:
        """SIGKILL web, worker, beat and Redis (whose data dies with it: no persistence)."""
        self.kill_worker()
        if self.beat is not None:
            self.beat.stop()
        for server in (self.web, self.redis):
            sigkill(server.process)
            server.stop()

    def flush_redis(self) -> None:
        redis.Redis.from_url(self.redis_url, socket_timeout=5).flushall()

    def restart_redis(self) -> None:
        """SIGKILL Redis and start an empty one on the same port."""
        sigkill(self.redis.process)
        self.redis.stop()
        self.redis.start()

    def stop(self) -> None:
        """The test is over and the database holds everything: no graceful shutdown needed."""
        self.kill_all()

    def logs(self) -> str:
        """Every log of this stack, for a failure message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.directory.glob("*.log"))
        )
