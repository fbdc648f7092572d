"""/health job and worker counts (reference §1.6). Each test has a fresh emulator: exact counts."""

from __future__ import annotations

import pytest

from tests.emulators.runpod.helpers import ECHO_WORKER, ONE_WARM_WORKER

JOB_KEYS = {"completed", "failed", "inProgress", "inQueue", "retried"}
WORKER_KEYS = {"idle", "initializing", "ready", "running", "throttled", "unhealthy"}


@pytest.fixture
def endpoint(start_runpod):
    return start_runpod(*ONE_WARM_WORKER, worker=ECHO_WORKER)


def test_health_has_every_documented_job_and_worker_count(api):
    health = api.health()

    assert health["jobs"].keys() >= JOB_KEYS
    assert health["workers"].keys() >= WORKER_KEYS
    assert all(
        isinstance(count, int) for count in [*health["jobs"].values(), *health["workers"].values()]
    )


@pytest.mark.slow
def test_health_counts_queued_running_completed_and_failed_jobs(api):
    running = api.submit({"sleep": 2})
    api.wait_for_status(running, "IN_PROGRESS")
    queued = [api.submit({"echo": "queued"}), api.submit({"fail": "queued too"})]

    api.wait_for_health(jobs={"inQueue": 2, "inProgress": 1}, workers={"running": 1, "idle": 0})

    for job_id in queued:
        api.wait_for_status(job_id)
    api.wait_for_health(
        jobs={"inQueue": 0, "inProgress": 0, "completed": 2, "failed": 1},
        workers={"running": 0, "idle": 1},
    )


@pytest.mark.slow
def test_health_counts_a_cold_starting_worker_as_initializing_then_idle(start_api):
    api = start_api("--workers-min", "1", "--cold-start", "3")

    api.wait_for_health(workers={"initializing": 1, "idle": 0})
    api.wait_for_health(workers={"initializing": 0, "idle": 1})
