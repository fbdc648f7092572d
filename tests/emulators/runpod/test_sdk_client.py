"""The official runpod SDK client, unchanged, pointed at the emulator (reference §2.1, §2.2).

`import runpod` is slow and adds a root log handler (§2.2 gotcha 8), so it happens in a fixture,
only when these tests run, and the handler is taken off again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.emulators.runpod.helpers import (
    API_KEY,
    JOB_DEADLINE,
    LONG_JOB,
    STREAM_WORKER_ENV,
    eventually,
)

pytestmark = pytest.mark.timeout(120)  # Job.stream() polls forever if no final status comes


@pytest.fixture(scope="module")
def runpod_sdk() -> Iterator[ModuleType]:
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    runpod = importlib.import_module("runpod")
    for handler in [h for h in root.handlers if h not in handlers_before]:
        root.removeHandler(handler)
    configured = (runpod.api_key, runpod.endpoint_url_base)
    yield runpod
    runpod.api_key, runpod.endpoint_url_base = configured


def sdk_endpoint(runpod: ModuleType, base_url: str):
    """A `runpod.Endpoint` for the emulator, configured the documented way (§2.1)."""
    runpod.api_key = API_KEY
    runpod.endpoint_url_base = f"{base_url}/v2"  # read when the Endpoint is built
    return runpod.Endpoint("local")


@pytest.fixture
def endpoint_client(runpod_sdk, endpoint):
    return sdk_endpoint(runpod_sdk, endpoint.base_url)


def test_run_sync_returns_the_output(endpoint_client):
    output = endpoint_client.run_sync({"echo": "sync"}, timeout=60)

    assert output["echo"] == "sync"


def test_run_then_status_and_output(endpoint_client):
    job = endpoint_client.run({"echo": "async", "sleep": 0.5})

    assert job.status() in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    assert job.output(timeout=60)["echo"] == "async"
    assert job.status() == "COMPLETED"


def test_job_stream_yields_every_chunk(runpod_sdk, start_module_runpod):
    streaming = start_module_runpod(
        "--workers-min", "1", "--cold-start", "0", env=STREAM_WORKER_ENV
    )
    job = sdk_endpoint(runpod_sdk, streaming.base_url).run({"stream": 3, "interval": 0.3})

    assert list(job.stream()) == [{"chunk": index} for index in range(3)]


def test_job_cancel_cancels_a_running_job(endpoint_client, api):
    job = endpoint_client.run(LONG_JOB)
    api.wait_until_handler_runs(job.job_id)

    assert job.cancel()["status"] == "CANCELLED"
    assert api.job(job.job_id)["status"] == "CANCELLED"


def test_health_returns_job_and_worker_counts(endpoint_client):
    health = endpoint_client.health()

    assert {"jobs", "workers"} <= health.keys()


def test_purge_queue_reports_the_removed_jobs(endpoint_client):
    running = endpoint_client.run({"sleep": 1.5})
    eventually(
        running.status,
        lambda status: status == "IN_PROGRESS",
        what="the job to start",
        timeout=JOB_DEADLINE,
    )
    for index in range(2):
        endpoint_client.run({"echo": index})

    assert endpoint_client.purge_queue() == {"removed": 2, "status": "completed"}
    running.output(timeout=30)
    assert running.status() == "COMPLETED"
