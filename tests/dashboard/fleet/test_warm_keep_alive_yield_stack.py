"""A generation takes the warm worker from a keep_alive job, on the emulated cloud: the RunPod and
SwarmUI emulators and the real worker, one worker at most and a slow cold start, so a generation
that waited for a worker of its own would be unmistakable.

"Now" for the warm ticks is Monday 2026-12-07 10:00 in Berlin, inside the office window.
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from dashboard.fleet.models import WarmState
from dashboard.fleet.warm_services import schedule_create, warm_pool_apply
from dashboard.generations.models import Status
from dashboard.generations.services import SubmitResult, refresh_generation, submit_generation
from tests.dashboard import factories
from tests.dashboard.fleet.test_warm_services import NOW, OFFICE, READ_ONLY_KEY, Cloud
from tests.dashboard.stack import start_stack
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

COLD_START = 8  # seconds before a new emulated worker takes its first job


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("yield-cloud"),
        runpod_flags=(
            *("--readonly-api-key", READ_ONLY_KEY),
            *("--cold-start", str(COLD_START)),
            *("--workers-max", "1", "--idle-timeout", "30"),
        ),
        swarmui_flags=("--step-delay", "0.5"),  # a generation of 8 steps runs for about 4 s
    )
    yield stack
    stack.stop()


@pytest.fixture
def emulator(cloud):
    helper = Cloud(cloud)
    helper.reset()
    return helper


@pytest.fixture
def endpoint(team, emulator):
    """An endpoint whose key may not manage it: its office window is kept warm by keep_alive."""
    team.time_zone = "Europe/Berlin"
    team.save()
    endpoint = factories.make_endpoint(
        team, api_key=READ_ONLY_KEY, api_base_url=emulator.stack.api_base
    )
    schedule_create(endpoint=endpoint, by=None, name="office", warm_workers=1, **OFFICE)
    return endpoint


def keep_alive_running(endpoint, emulator) -> dict:
    """Open the window: a warm-up boots the worker and a keep_alive job follows it there (and
    has reported progress, so the worker really runs it)."""
    assert warm_pool_apply(endpoint=endpoint, now=NOW).keep_alive_submitted == 1
    [entry] = WarmState.objects.get(endpoint=endpoint).keep_alive_jobs
    return once_running(emulator, entry["id"], what="the keep_alive job", reported=True)


def once_running(emulator, job_id: str, *, what: str, reported: bool = False) -> dict:
    """The job as soon as a worker runs it (`reported`: and it has reported progress)."""

    def running():
        job = emulator.job(job_id)
        return job["status"] == "IN_PROGRESS" and (job.get("output") or not reported) and job

    return wait_until(running, timeout=60, interval=0.05, what=f"{what} to run")


def generation(member, endpoint):
    prompt = f"a red fox {uuid.uuid4().hex[:8]}"
    return factories.make_generation(member, endpoint, prompt=prompt, steps=8)


def until_final(generation_id: int):
    return wait_until(
        lambda: (g := refresh_generation(generation_id=generation_id)).is_final and g,
        timeout=60,
        interval=0.1,
        what=f"generation {generation_id} to finish",
    )


def test_a_generation_takes_the_warm_worker_and_the_next_tick_keeps_it_warm(
    owner, endpoint, emulator
):
    keep_alive = keep_alive_running(endpoint, emulator)
    worker = keep_alive["workerId"]
    started = emulator.workers_started()
    fox = generation(owner, endpoint)

    assert submit_generation(generation_id=fox.pk) == SubmitResult.SUBMITTED

    fox.refresh_from_db()
    assert emulator.job(keep_alive["id"])["status"] == "CANCELLED"
    [claimed] = WarmState.objects.get(endpoint=endpoint).keep_alive_jobs
    assert (claimed["id"], claimed["yielded_to"]) == (keep_alive["id"], fox.runpod_job_id)
    running = once_running(emulator, fox.runpod_job_id, what="the generation")
    left = claimed["duration"] - emulator.job(keep_alive["id"])["executionTime"] / 1000
    print(
        f"\ngeneration delayTime {running['delayTime']} ms on the warm worker "
        f"{running['workerId']}; a cold start takes {COLD_START * 1000} ms here, and without "
        f"the yield it would have waited for the keep_alive job's other {left:.0f} s"
    )
    assert running["workerId"] == worker
    assert running["delayTime"] < 3000

    # The next tick while the generation runs: its worker counts as warm, and the replacement
    # waits for it at low priority instead of asking for a cold worker.
    tick = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=60))
    assert (tick.keep_alive_submitted, tick.keep_alive_cancelled, tick.error) == (1, 0, "")
    claimed, replacement = WarmState.objects.get(endpoint=endpoint).keep_alive_jobs
    assert claimed["yielded_to"] == fox.runpod_job_id
    assert replacement["low"] is True

    assert until_final(fox.pk).status == Status.SUCCEEDED
    warm_again = once_running(emulator, replacement["id"], what="the replacement keep_alive job")
    assert warm_again["workerId"] == worker
    assert emulator.workers_started() == started
    # The tick after: the generation is over, the replacement runs past the next tick.
    warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=70))
    assert [job["id"] for job in WarmState.objects.get(endpoint=endpoint).keep_alive_jobs] == [
        replacement["id"]
    ]


def test_two_generations_at_once_free_the_one_warm_worker_once(
    transactional_db, owner, endpoint, emulator
):
    keep_alive = keep_alive_running(endpoint, emulator)
    foxes = [generation(owner, endpoint) for _ in range(2)]
    results = {}
    both_ready = threading.Barrier(2, timeout=10)

    def submit(generation_id: int) -> None:
        try:
            both_ready.wait()
            results[generation_id] = submit_generation(generation_id=generation_id)
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=submit, args=(fox.pk,)) for fox in foxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results == {fox.pk: SubmitResult.SUBMITTED for fox in foxes}
    assert emulator.job(keep_alive["id"])["status"] == "CANCELLED"
    [claimed] = WarmState.objects.get(endpoint=endpoint).keep_alive_jobs
    job_ids = {fox.pk: until_final(fox.pk).runpod_job_id for fox in foxes}
    assert claimed["yielded_to"] in job_ids.values()
    workers = {emulator.job(job_id)["workerId"] for job_id in job_ids.values()}
    assert workers == {keep_alive["workerId"]}
    assert emulator.log().count(f"POST /v2/local/cancel/{keep_alive['id']}") == 1
