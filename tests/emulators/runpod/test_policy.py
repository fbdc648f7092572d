"""Per-job policy and result retention (reference §1.3 `policy`, §1.5 retention)."""

from __future__ import annotations

import pytest

from tests.emulators.runpod.helpers import ONE_WARM_WORKER, eventually


@pytest.fixture(scope="module")
def endpoint(start_module_runpod):
    return start_module_runpod(*ONE_WARM_WORKER, "--run-retention", "2", "--runsync-retention", "2")


def status_code_of(api, job_id: str) -> int:
    return api.call("GET", f"status/{job_id}").status_code


@pytest.mark.slow
def test_job_running_past_its_execution_timeout_is_timed_out_and_stopped(api):
    worker_id = api.run_to_end({"echo": "warm"})["workerId"]
    job_id = api.submit({"sleep": 120}, policy={"executionTimeout": 5000})

    assert api.wait_for_status(job_id, timeout=30)["status"] == "TIMED_OUT"
    # the only worker got a stop signal, so it is free long before its 120 s sleep would end
    next_job = api.run_to_end({"echo": "next"})
    assert (next_job["status"], next_job["workerId"]) == ("COMPLETED", worker_id)


@pytest.mark.slow
def test_job_outliving_its_ttl_is_deleted_even_while_running(api):
    job_id = api.submit({"sleep": 14}, policy={"ttl": 10000})
    api.wait_for_status(job_id, "IN_PROGRESS")

    eventually(
        lambda: status_code_of(api, job_id),
        lambda code: code == 404,
        what=f"/status/{job_id} to answer 404 after the 10 s TTL",
        timeout=25,
    )


def test_run_result_is_gone_after_the_run_retention(api):
    job = api.run_to_end({"echo": "short-lived"})

    eventually(
        lambda: status_code_of(api, job["id"]),
        lambda code: code == 404,
        what="the result to expire after --run-retention 2",
        timeout=15,
    )


def test_runsync_result_is_gone_after_the_runsync_retention(api):
    job = api.call("POST", "runsync", json={"input": {"echo": "short-lived"}}).json()
    assert job["status"] == "COMPLETED"

    eventually(
        lambda: status_code_of(api, job["id"]),
        lambda code: code == 404,
        what="the result to expire after --runsync-retention 2",
        timeout=15,
    )


def test_failed_job_cannot_be_retried_once_its_result_expired(api):
    job_id = api.run_to_end({"fail": "expired"})["id"]
    eventually(
        lambda: status_code_of(api, job_id),
        lambda code: code == 404,
        what="the failed result to expire",
        timeout=15,
    )

    response = api.call("POST", f"retry/{job_id}")

    assert 400 <= response.status_code < 500
    assert status_code_of(api, job_id) == 404
