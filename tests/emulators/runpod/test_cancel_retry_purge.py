"""/cancel, /retry and /purge-queue (reference §1.2; stop channel §3.3). One worker, max one."""

from __future__ import annotations

from tests.emulators.runpod.helpers import LONG_JOB, ONE_WARM_WORKER
from tests.support.processes import wait_until


def never_ran(api, job_id: str) -> bool:
    response = api.call("GET", f"status/{job_id}")
    if response.status_code == 404:
        return True
    job = response.json()
    return job["status"] not in ("IN_PROGRESS", "COMPLETED") and job.get("output") is None


def assert_worker_serves_the_next_job(api, worker_id: str, cancelled_id: str) -> None:
    """The same single worker takes a new job long before a 120 s sleep could end: the stop
    signal reached the handler, and the worker was not replaced. The cancelled job stays so."""
    after = api.run_to_end({"echo": "next"})
    assert (after["status"], after["workerId"]) == ("COMPLETED", worker_id)
    assert api.job(cancelled_id)["status"] == "CANCELLED"


def test_cancelling_a_running_job_stops_it_and_frees_the_worker(api):
    worker_id = api.run_to_end({"echo": "warm"})["workerId"]
    job_id = api.submit(LONG_JOB)
    api.wait_until_handler_runs(job_id)

    response = api.call("POST", f"cancel/{job_id}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (job_id, "CANCELLED")
    assert api.job(job_id)["status"] == "CANCELLED"
    assert_worker_serves_the_next_job(api, worker_id, job_id)


def test_cancelling_a_job_the_moment_a_worker_takes_it_still_stops_it(start_api):
    # The SDK only stops jobs whose handler task already exists (rp_scale `stop_job`); a job it
    # has just taken waits ~0.1 s in its local queue first, so one stop signal can be missed.
    # An emulator of its own: a worker left running the job must not block the other tests.
    api = start_api(*ONE_WARM_WORKER)
    worker_id = api.run_to_end({"echo": "warm"})["workerId"]
    job_id = api.submit(LONG_JOB)
    wait_until(lambda: api.job(job_id)["status"] == "IN_PROGRESS", timeout=30, interval=0.005)

    assert api.call("POST", f"cancel/{job_id}").json()["status"] == "CANCELLED"

    assert_worker_serves_the_next_job(api, worker_id, job_id)


def test_cancelling_a_queued_job_means_it_never_runs(api):
    blocker = api.submit({"sleep": 1.5})
    api.wait_for_status(blocker, "IN_PROGRESS")
    queued = api.submit({"echo": "never"})

    response = api.call("POST", f"cancel/{queued}")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    api.wait_for_status(blocker)
    api.run_to_end({"echo": "after"})  # the worker has had every chance to take the cancelled job
    assert api.job(queued)["status"] == "CANCELLED"
    assert api.job(queued).get("output") is None


def test_retrying_a_failed_job_requeues_the_same_id_and_runs_it_again(api):
    job_id = api.submit({"sleep": 2, "echo": "second try"})
    api.wait_for_status(job_id, "IN_PROGRESS")
    api.kill_busy_worker()
    assert api.wait_for_status(job_id)["status"] == "FAILED"

    response = api.call("POST", f"retry/{job_id}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (job_id, "IN_QUEUE")
    assert api.job(job_id).get("error") is None  # the old result is cleared
    final = api.wait_for_status(job_id)
    assert final["status"] == "COMPLETED"
    assert final["output"]["echo"] == "second try"
    assert final.get("error") is None


def test_retrying_a_handler_failure_runs_the_same_input_again(api):
    job_id = api.run_to_end({"fail": "still bad"})["id"]

    response = api.call("POST", f"retry/{job_id}")

    assert response.status_code == 200
    assert response.json()["id"] == job_id
    again = api.wait_for_status(job_id)
    assert (again["status"], again["error"]) == ("FAILED", "still bad")


def test_retrying_a_completed_job_is_refused(api):
    job = api.run_to_end({"echo": "done"})

    response = api.call("POST", f"retry/{job['id']}")

    assert 400 <= response.status_code < 500
    assert api.job(job["id"]) == job


def test_purge_queue_removes_only_queued_jobs_and_the_running_one_continues(api):
    running = api.submit({"sleep": 1.5, "echo": "kept"})
    api.wait_for_status(running, "IN_PROGRESS")
    queued = [api.submit({"echo": index}) for index in range(3)]

    response = api.call("POST", "purge-queue")

    assert response.status_code == 200
    assert response.json() == {"removed": 3, "status": "completed"}
    assert api.health()["jobs"]["inQueue"] == 0
    assert api.wait_for_status(running)["output"]["echo"] == "kept"
    api.run_to_end({"echo": "after"})
    assert all(never_ran(api, job_id) for job_id in queued)
