"""Job lifecycle through /run, /runsync and /status (reference §1.2 to §1.4, §3.2, §3.4)."""

from __future__ import annotations

import json

from tests.emulators.runpod.helpers import post_like_a_worker

MB = 1000 * 1000


def test_run_answers_in_queue_with_a_job_id(api):
    response = api.run({"echo": "hello"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "IN_QUEUE"
    assert isinstance(body["id"], str)
    assert body["id"]


def test_job_goes_in_queue_then_in_progress_then_completed(api):
    api.submit({"sleep": 1.5})  # the only worker is busy with this one, so the next one waits
    job_id = api.submit({"sleep": 1, "echo": "second"})

    assert api.observed_statuses(job_id) == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


def test_completed_job_carries_output_worker_id_and_timings(api):
    job = api.run_to_end({"echo": "hello", "sleep": 0.5})

    assert job["status"] == "COMPLETED"
    assert job["output"] == {"echo": "hello", "worker_id": job["workerId"]}
    assert isinstance(job["delayTime"], int)
    assert job["delayTime"] >= 0
    assert isinstance(job["executionTime"], int)
    assert job["executionTime"] >= 500


def test_handler_returning_an_error_fails_the_job_with_that_plain_string(api):
    job = api.run_to_end({"fail": "prompt is empty"})

    assert job["status"] == "FAILED"
    assert job["error"] == "prompt is empty"


def test_handler_raising_fails_the_job_with_the_sdk_error_as_a_json_string(api):
    job = api.run_to_end({"raise": "boom"})

    assert job["status"] == "FAILED"
    error = json.loads(job["error"])
    assert "RuntimeError" in error["error_type"]
    assert error["error_message"] == "boom"
    assert "error_traceback" in error
    assert {"delayTime", "executionTime"} <= job.keys()


def test_progress_update_is_the_output_while_in_progress(api):
    job_id = api.submit({"sleep": 2, "progress": 2, "echo": "done"})

    running = api.wait_for_job(
        job_id,
        lambda job: job["status"] == "IN_PROGRESS" and job.get("output"),
        what="progress output while IN_PROGRESS",
    )
    assert running["output"] in ({"step": 1, "of": 2}, {"step": 2, "of": 2})
    final = api.wait_for_status(job_id)
    assert final["output"] == {"echo": "done", "worker_id": final["workerId"]}


def test_progress_arriving_after_completion_does_not_replace_the_output(api):
    job = api.run_to_end({"echo": "final"})

    # The SDK sends progress fire-and-forget, so it can land after the result (runpod-python#250).
    post_like_a_worker(
        api.base_url, job["workerId"], job["id"], {"status": "IN_PROGRESS", "output": {"step": 9}}
    )

    assert api.job(job["id"]) == job


def test_output_of_a_few_megabytes_comes_back_whole(api):
    job = api.run_to_end({"big": 5 * MB})

    assert job["status"] == "COMPLETED"
    assert len(job["output"]["big"]) == 5 * MB


def test_output_over_the_20_mb_result_limit_is_not_returned(api):
    # About 20 MB of output makes the worker's result POST fail with 400; clients then see the
    # job end without its output (reference §1.5; worker-comfyui#129, runpod-python#309).
    job = api.run_to_end({"big": 25 * MB})

    assert job["status"] in ("COMPLETED", "FAILED")
    assert job.get("output") is None


def test_runsync_returns_the_full_completed_job_with_a_sync_id(api):
    response = api.call("POST", "runsync", json={"input": {"echo": "now"}})

    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "COMPLETED"
    assert job["id"].startswith("sync-")
    assert job["output"] == {"echo": "now", "worker_id": job["workerId"]}
    assert {"delayTime", "executionTime"} <= job.keys()
    assert api.job(job["id"])["status"] == "COMPLETED"


def test_runsync_of_a_failing_job_returns_the_failed_job_with_its_error(api):
    response = api.call("POST", "runsync", json={"input": {"fail": "bad seed"}})

    assert response.status_code == 200
    assert response.json()["status"] == "FAILED"
    assert response.json()["error"] == "bad seed"


def test_runsync_that_outlasts_its_wait_returns_the_unfinished_job_which_then_completes(api):
    response = api.call("POST", "runsync?wait=1000", json={"input": {"sleep": 3, "echo": "late"}})

    assert response.status_code == 200
    job = response.json()
    assert job["status"] in ("IN_QUEUE", "IN_PROGRESS")
    assert job["id"].startswith("sync-")
    assert api.wait_for_status(job["id"])["output"]["echo"] == "late"


def test_status_of_an_unknown_job_is_404(api):
    assert api.call("GET", "status/no-such-job-u1").status_code == 404
