"""Worker scaling, cold starts, idle timeout and worker crashes (reference §5.1; emulator docs).

Each test starts an emulator of its own with the settings it is about.
"""

from __future__ import annotations

import pytest

from tests.emulators.runpod.helpers import ONE_WARM_WORKER, eventually
from tests.support.processes import wait_until


def test_workers_min_keeps_a_worker_warm_before_any_job(start_api):
    api = start_api("--workers-min", "1", "--cold-start", "0")

    api.wait_for_health(workers={"idle": 1})
    assert len(api.workers()["workers"]) == 1
    assert api.health()["jobs"]["completed"] == 0


@pytest.mark.slow
def test_queued_slow_jobs_are_served_by_as_many_workers_as_workers_max(start_api):
    api = start_api("--workers-min", "0", "--workers-max", "2", "--cold-start", "0")

    job_ids = [api.submit({"sleep": 3, "echo": index}) for index in range(3)]
    finished = [api.wait_for_status(job_id) for job_id in job_ids]

    assert [job["status"] for job in finished] == ["COMPLETED"] * 3
    assert len({job["workerId"] for job in finished}) == 2  # more than one, never above the max


@pytest.mark.slow
def test_low_priority_job_does_not_start_a_worker_but_runs_on_one_started_for_others(start_api):
    api = start_api("--workers-min", "0", "--cold-start", "0")
    low = api.submit({"echo": "low"}, policy={"lowPriority": True})

    with pytest.raises(TimeoutError):  # reference §1.3: lowPriority does not trigger scale-up
        wait_until(lambda: api.workers()["workers"], timeout=3)

    assert api.run_to_end({"echo": "normal"})["status"] == "COMPLETED"
    assert api.wait_for_status(low)["status"] == "COMPLETED"


@pytest.mark.slow
def test_cold_start_delays_the_first_job_but_not_the_next_one_on_the_warm_worker(start_api):
    # 4 s is well above the ~2 s a worker process needs to boot, so only an emulated
    # cold start can push the first delayTime past it.
    api = start_api("--workers-min", "0", "--cold-start", "4")

    first = api.run_to_end({"echo": "cold"})
    second = api.run_to_end({"echo": "warm"})

    assert first["delayTime"] >= 4000
    assert second["workerId"] == first["workerId"]
    assert second["delayTime"] < 2000


def test_idle_worker_is_stopped_after_the_idle_timeout(start_api):
    api = start_api("--workers-min", "0", "--idle-timeout", "1", "--cold-start", "0")
    api.run_to_end({"echo": "only job"})

    eventually(
        api.workers,
        lambda listing: listing["workers"] == [],
        what="the idle worker to go away after --idle-timeout 1",
        timeout=15,
    )
    api.wait_for_health(workers={"idle": 0, "running": 0, "initializing": 0}, timeout=5)


@pytest.mark.slow
def test_idle_timeout_longer_than_a_job_poll_still_stops_the_worker(start_api):
    # An idle worker keeps polling for jobs (each poll waits up to ~5 s); a poll with nothing to
    # hand back must not count as activity, or RunPod's default idle timeout of 5 s never fires.
    api = start_api("--workers-min", "0", "--idle-timeout", "6", "--cold-start", "0")
    api.run_to_end({"echo": "only job"})

    eventually(
        api.workers,
        lambda listing: listing["workers"] == [],
        what="the idle worker to go away after --idle-timeout 6",
        timeout=30,
    )


@pytest.mark.slow
def test_killed_busy_worker_fails_its_job_and_a_replacement_serves_the_next(start_api):
    api = start_api(*ONE_WARM_WORKER)
    killed_worker = api.run_to_end({"echo": "warm"})["workerId"]
    job_id = api.submit({"sleep": 120})
    api.wait_for_status(job_id, "IN_PROGRESS")

    api.kill_busy_worker()

    failed = api.wait_for_status(job_id, timeout=15)
    assert (failed["status"], failed["error"]) == ("FAILED", "worker exited unexpectedly")
    after = api.run_to_end({"echo": "after the crash"})
    assert after["status"] == "COMPLETED"
    assert after["workerId"] != killed_worker
