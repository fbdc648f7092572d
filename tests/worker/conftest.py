"""Fixtures for the worker's tests: configs pointing at the SwarmUI emulator, a progress recorder,
a local file server for model downloads, and a real `moto_server` for bucket mode."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.support.emulators import moto_server
from tests.support.processes import ServerProcess
from worker.config import BucketConfig, WorkerConfig
from worker.handler import Worker

T = TypeVar("T")


class ProgressRecorder:
    """Stands in for RunPod's job-done channel: records each progress payload with its time."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, dict[str, Any]]] = []
        self.by_job: dict[str, int] = {}
        self._lock = threading.Lock()

    def sender(self, job: dict[str, Any]):
        def send(payload: dict[str, Any]) -> None:
            with self._lock:
                self.updates.append((time.monotonic(), payload))
                self.by_job[job["id"]] = self.by_job.get(job["id"], 0) + 1

        return send

    @property
    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for _, payload in self.updates]

    def stages(self) -> list[str]:
        return [payload["stage"] for payload in self.payloads]


def worker_config(swarmui: ServerProcess, **overrides: Any) -> WorkerConfig:
    """A config for the emulator at `swarmui`, with test-sized timeouts."""
    volume = swarmui.volume
    assert volume is not None
    base = WorkerConfig(
        swarmui_api_url=swarmui.base_url,
        startup_timeout=20,
        generation_timeout=30,
        request_timeout=5,
        ws_idle_timeout=10,
        download_timeout=30,
        volume_path=volume,
        swarmui_dir=volume / "SwarmUI",
        swarmui_pid_file=None,
        progress_interval=0.05,
    )
    return replace(base, **overrides)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a session fixture (Playwright's sync API) may leave
    an event loop running in the main thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_job(worker: Worker, job_input: Any, **job: Any) -> dict[str, Any]:
    """Run one job through the async handler, as the runpod SDK would."""
    job_id = job.pop("id", f"job-{uuid.uuid4().hex[:8]}")
    return run_async(worker.handle({"id": job_id, "input": job_input, **job}))


def set_faults(swarmui: ServerProcess, **faults: Any) -> dict[str, Any]:
    response = requests.post(f"{swarmui.base_url}/emulator/faults", json=faults, timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def recorder() -> ProgressRecorder:
    return ProgressRecorder()


@pytest.fixture
def make_worker(swarmui, recorder):
    """`make_worker(**config_overrides)` → a Worker on the `swarmui` emulator, progress recorded."""

    def make(server: ServerProcess | None = None, **overrides: Any) -> Worker:
        config = worker_config(server or swarmui, **overrides)
        return Worker(config, progress_sender=recorder.sender)

    return make


@pytest.fixture
def worker(make_worker) -> Worker:
    return make_worker()


@pytest.fixture
def file_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A static HTTP server over a temp folder: (base URL, folder)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def moto_s3(tmp_path) -> Iterator[BucketConfig]:
    """A real S3 API (moto_server) with one empty bucket."""
    import boto3

    server = moto_server(tmp_path).start()
    bucket = BucketConfig(
        endpoint_url=server.base_url,
        access_key_id="testing",
        secret_access_key="testing",
        name="swarmdeck-outputs",
        region="us-east-1",
        prefix="jobs/",
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=bucket.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket.name)
    yield bucket
    server.stop()
