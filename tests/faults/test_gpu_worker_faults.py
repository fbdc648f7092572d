"""Faults on the GPU side: a worker killed mid-job, SwarmUI forgetting its sessions, its backend
errored, its WebSocket dropped, a job running past its execution timeout.

Each generation ends either succeeded or with an error a person can act on, and none is left in
a non-final state; where the fault has passed, a retry through the API succeeds.
"""

from __future__ import annotations

import time

import pytest
import requests

from dashboard.generations.models import Generation, Status
from tests.faults.client import DashboardApi
from tests.faults.conftest import BACKEND_DOWN_GRACE, api_for, launch_dashboard
from tests.faults.ledger import active_count, runpod_jobs_by_generation
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

EXECUTION_TIMEOUT_MS = 5000  # RunPod's smallest executionTimeout
STEP_SECONDS = 0.02  # the shared cloud's SwarmUI step delay


@pytest.fixture(scope="module")
def dashboard(django_db_setup, tmp_path_factory):
    stack = launch_dashboard(
        tmp_path_factory.mktemp("gpu-faults"),
        webhooks=True,
        settings={
            "GENERATION_EXECUTION_TIMEOUT_MS": str(EXECUTION_TIMEOUT_MS),
            "GENERATION_POLL_SCHEDULE": "0.25,0.5,1",
        },
    )
    yield stack
    stack.stop()


@pytest.fixture
def api(dashboard, team_on_cloud) -> DashboardApi:
    return api_for(dashboard, team_on_cloud)


def swarmui_faults(cloud, **faults) -> None:
    requests.post(f"{cloud.swarmui.base_url}/emulator/faults", json=faults, timeout=5)


def finish(generation_id: int, *, timeout: float = 60) -> Generation:
    """Wait for the generation to be final (a hang fails the test) and time it."""
    started = time.monotonic()
    generation = wait_until(
        lambda: (g := Generation.objects.get(pk=generation_id)).is_final and g,
        timeout=timeout,
        interval=0.05,
        what=f"generation {generation_id} to reach a final state",
    )
    generation.seconds_to_final = round(time.monotonic() - started, 2)
    return generation


def outcome(generation: Generation) -> dict:
    return {
        "status": generation.status,
        "error": generation.error,
        "seconds_to_final": generation.seconds_to_final,
    }


def test_worker_killed_mid_job_fails_clearly_and_a_retry_succeeds(
    api, cloud, team_on_cloud, report
):
    created = api.generate("killed mid-job", steps=100)  # 2 s of sampling
    wait_until(
        lambda: any(
            job["status"] == "IN_PROGRESS"
            for job in runpod_jobs_by_generation(cloud).get(created["id"], [])
        ),
        timeout=60,
        interval=0.05,
        what="a worker to start the job",
    )
    killed = requests.post(f"{cloud.runpod.base_url}/emulator/workers/busy/kill", timeout=10)
    assert killed.status_code == 200, killed.text
    failed = finish(created["id"])
    retried = finish(api.retry(created["id"])["id"])
    report(killed_worker=killed.json()["id"], first=outcome(failed), retry=outcome(retried))
    assert failed.status == Status.FAILED
    assert failed.error == "worker exited unexpectedly"
    assert retried.status == Status.SUCCEEDED, retried.error
    assert retried.images.count() == 1
    assert active_count(team_on_cloud["team"]) == 0


def test_forgotten_swarmui_sessions_are_renewed(api, cloud, team_on_cloud, report):
    first = finish(api.generate("before amnesia")["id"])
    swarmui_faults(cloud, forget_sessions=True)
    after = finish(api.generate("after amnesia")["id"])
    report(before=outcome(first), after=outcome(after))
    assert (first.status, after.status) == (Status.SUCCEEDED, Status.SUCCEEDED), after.error
    assert after.images.count() == 1


def test_errored_backend_fails_fast_and_a_retry_succeeds_once_it_is_back(
    api, cloud, team_on_cloud, report
):
    swarmui_faults(cloud, backend_status="errored")
    failed = finish(api.generate("no backend")["id"])
    swarmui_faults(cloud, backend_status="running")
    retried = finish(api.retry(failed.pk)["id"])
    report(first=outcome(failed), retry=outcome(retried), grace_seconds=BACKEND_DOWN_GRACE)
    assert failed.status == Status.FAILED, failed.error
    # A worker that has served a job hears SwarmUI's refusal at once; a fresh one waits out the
    # grace for an AutoRestart, then says the backend is down and asks RunPod for a new worker.
    assert (
        "No backends available" in failed.error
        or "no SwarmUI backend can run (0=errored)" in failed.error
    ), failed.error
    assert failed.seconds_to_final < EXECUTION_TIMEOUT_MS / 1000
    assert retried.status == Status.SUCCEEDED, retried.error


def test_dropped_websocket_is_reconnected_once_then_reported(api, cloud, team_on_cloud, report):
    # Dropped after 4 steps of a job of two 3-step images: the worker reconnects, gets both.
    swarmui_faults(cloud, drop_ws_after_steps=4)
    recovered = finish(api.generate("flaky socket", steps=3, images=2, seed=5)["id"])
    # Dropped after every step: the one reconnect is not enough, the job fails with the reason.
    swarmui_faults(cloud, drop_ws_after_steps=1)
    broken = finish(api.generate("broken socket", steps=5)["id"])
    report(recovered=outcome(recovered), broken=outcome(broken))
    assert recovered.status == Status.SUCCEEDED, recovered.error
    assert [image.seed for image in recovered.images.all()] == [5, 6]
    assert broken.status == Status.FAILED
    assert "WebSocket unexpectedly" in broken.error


def test_job_past_its_execution_timeout_times_out_and_the_worker_serves_the_next(
    api, cloud, team_on_cloud, report
):
    # A backend that never finishes loading holds the job inside the worker.
    swarmui_faults(cloud, backend_status="loading")
    stuck = finish(api.generate("never loads")["id"], timeout=EXECUTION_TIMEOUT_MS / 1000 + 60)
    swarmui_faults(cloud, backend_status="running")
    retried = finish(api.retry(stuck.pk)["id"])
    [job] = runpod_jobs_by_generation(cloud)[stuck.pk]
    report(
        first=outcome(stuck),
        runpod_status=job["status"],
        execution_timeout_ms=job["executionTimeout"],
        retry=outcome(retried),
    )
    assert job["status"] == "TIMED_OUT"
    assert stuck.status == Status.TIMED_OUT
    assert "execution timeout" in stuck.error
    # A fresh worker waits for SwarmUI's backend to load, a warm one for SwarmUI to start the job.
    assert "The worker's last report: waiting for" in stuck.error
    assert retried.status == Status.SUCCEEDED, retried.error
    assert active_count(team_on_cloud["team"]) == 0
