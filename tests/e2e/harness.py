"""Run the dashboard's own processes for whole-stack tests and benchmarks: a Celery worker that
shares the test database, and the environment that points it there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from tests.support.processes import REPO_ROOT, wait_until


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database in tests)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class CeleryWorker:
    """`celery -A dashboard worker -P solo` consuming one queue, its output in a log file."""

    def __init__(self, *, queue: str, env: dict[str, str], log_path: Path, concurrency: int = 1):
        self.queue = queue
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> CeleryWorker:
        pool = (
            ["-P", "solo"]
            if self.concurrency == 1
            else ["-P", "threads", "-c", str(self.concurrency)]
        )
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            *pool,
            "-Q",
            self.queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            **self.env,
        }
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._ready, timeout=timeout, interval=0.1, what="the Celery worker")
        except Exception:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"celery worker exited:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()
