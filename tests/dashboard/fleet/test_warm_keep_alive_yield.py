"""A generation takes the worker of a keep_alive job: the rule, the record and RunPod errors.

The rule is pure (warm_pools). The rest runs over real HTTP against a scripted RunPod, which can
put a yield exactly in the middle of a warm tick; the whole flow against the emulators and the
real worker is in test_warm_keep_alive_yield_stack.py.
"""

import logging
from datetime import timedelta

import pytest
from django.db import connection

from dashboard.fleet.models import RunPodEndpoint, WarmMode, WarmState
from dashboard.fleet.warm_pools import (
    KeepAliveJob,
    KeepAlivePlan,
    keep_alive_jobs_to_yield,
    plan_keep_alive,
)
from dashboard.fleet.warm_services import schedule_create, warm_pool_apply, yield_keep_alive_worker
from tests.dashboard import factories
from tests.dashboard.fleet.test_warm_services import NOW, OFFICE
from tests.dashboard.scripted_http import ScriptedServer

INTERVAL = timedelta(seconds=60)


def running(job_id, ends_in):
    return KeepAliveJob(job_id, "IN_PROGRESS", False, NOW + timedelta(seconds=ends_in))


def queued(job_id, low=False):
    return KeepAliveJob(job_id, "IN_QUEUE", low, None)


# --- the rule ------------------------------------------------------------------------------------


def test_the_keep_alive_job_that_would_run_longest_frees_its_worker_first():
    jobs = [running("a", ends_in=20), queued("b", low=True), running("c", ends_in=80)]

    candidates = keep_alive_jobs_to_yield(jobs, idle_workers=0, generation_status="IN_QUEUE")

    assert [job.id for job in candidates] == ["c", "a"]


@pytest.mark.parametrize(
    ("idle_workers", "generation_status"),
    [(1, "IN_QUEUE"), (0, "IN_PROGRESS"), (0, "COMPLETED"), (0, "None")],
)
def test_no_worker_is_taken_while_one_is_idle_or_the_generation_has_one(
    idle_workers, generation_status
):
    jobs = [running("a", ends_in=80)]

    assert (
        keep_alive_jobs_to_yield(
            jobs, idle_workers=idle_workers, generation_status=generation_status
        )
        == []
    )


def test_while_the_generation_runs_its_worker_is_followed_at_low_priority():
    successor = [queued("b", low=True)]
    # Counted as busy, the generation's worker keeps its successor and needs nothing sent...
    assert plan_keep_alive(successor, desired=1, now=NOW, interval=INTERVAL, other_busy=1) == (
        KeepAlivePlan()
    )
    # ...or a low-priority one that waits for it, never a normal one that starts a cold worker.
    replacement = plan_keep_alive([], desired=1, now=NOW, interval=INTERVAL, other_busy=1)
    assert (replacement.submit_normal, replacement.submit_low) == (0, 1)


# --- against a scripted RunPod -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_retries(settings):
    settings.RUNPOD_RETRIES = 0  # each scripted answer is the only one


def entry(job_id, *, submitted=NOW, low=False, **extra):
    """A keep_alive job as WarmState.keep_alive_jobs records it (90 s long)."""
    return {
        "id": job_id,
        "submitted": submitted.isoformat(),
        "duration": 90,
        "low": low,
        "expires": (submitted + timedelta(seconds=210)).isoformat(),
        **extra,
    }


def job(job_id, status, **fields):
    return (200, {"id": job_id, "status": status, **fields})


def health(idle=0):
    return (200, {"jobs": {}, "workers": {"idle": idle, "running": 1}})


def keep_alive_endpoint(team, server, *entries) -> RunPodEndpoint:
    endpoint = factories.make_endpoint(team, api_base_url=f"{server.base_url}/v2")
    WarmState.objects.create(
        endpoint=endpoint,
        mode=WarmMode.KEEP_ALIVE,
        management_forbidden_at=NOW,
        desired_workers=1,
        keep_alive_jobs=list(entries),
    )
    return endpoint


def record(endpoint) -> list[dict]:
    return WarmState.objects.get(endpoint=endpoint).keep_alive_jobs


def cancels(server) -> list[str]:
    return [path.rsplit("/", 1)[1] for method, path in server.requests if "/cancel/" in path]


def test_without_keep_alive_jobs_runpod_is_not_asked(team):
    with ScriptedServer([]) as server:
        cold = factories.make_endpoint(team, api_base_url=f"{server.base_url}/v2")
        all_claimed = keep_alive_endpoint(team, server, entry("ka-1", yielded_to="gen-0"))

        assert yield_keep_alive_worker(endpoint=cold, job_id="gen-1") is None
        assert yield_keep_alive_worker(endpoint=all_claimed, job_id="gen-1") is None

    assert server.requests == []


def test_each_waiting_generation_takes_a_different_keep_alive_worker(team):
    later = NOW + timedelta(seconds=30)
    script = [
        *(health(), job("ka-1", "IN_PROGRESS"), job("ka-2", "IN_PROGRESS")),
        *(job("gen-1", "IN_QUEUE"), job("ka-2", "CANCELLED")),
        *(health(), job("ka-1", "IN_PROGRESS"), job("gen-2", "IN_QUEUE")),
        job("ka-1", "CANCELLED"),
    ]
    with ScriptedServer(script) as server:
        endpoint = keep_alive_endpoint(team, server, entry("ka-1"), entry("ka-2", submitted=later))

        # ka-2 started later, so it would run longer: the first generation takes its worker.
        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-1") == "ka-2"
        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-2") == "ka-1"
        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-3") is None

    assert cancels(server) == ["ka-2", "ka-1"]
    assert [item.get("yielded_to") for item in record(endpoint)] == ["gen-2", "gen-1"]
    assert server.script == []  # the third generation asked nothing: no job was left to take


def test_a_refused_cancel_is_logged_and_leaves_the_job_to_the_next_generation(team, caplog):
    script = [
        health(),
        job("ka-1", "IN_PROGRESS"),
        job("gen-1", "IN_QUEUE"),
        (400, {"error": "no"}),
    ]
    with ScriptedServer(script) as server, caplog.at_level(logging.WARNING):
        endpoint = keep_alive_endpoint(team, server, entry("ka-1"))

        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-1") is None

    assert record(endpoint) == [entry("ka-1")]
    assert "no keep-alive worker yielded to gen-1" in caplog.text


def test_runpod_unreachable_while_yielding_changes_nothing(team, caplog):
    with ScriptedServer([(503, {"error": "down"})]) as server, caplog.at_level(logging.WARNING):
        endpoint = keep_alive_endpoint(team, server, entry("ka-1"))

        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-1") is None

    assert record(endpoint) == [entry("ka-1")]
    assert cancels(server) == []
    assert "no keep-alive worker yielded to gen-1" in caplog.text


# --- the warm tick after a yield -----------------------------------------------------------------


@pytest.fixture
def berlin(team):
    team.time_zone = "Europe/Berlin"
    team.save()
    return team


def in_office_hours(endpoint: RunPodEndpoint) -> RunPodEndpoint:
    schedule_create(endpoint=endpoint, by=None, name="office", warm_workers=1, **OFFICE)
    # Edited before RunPod refused management: the tick does not ask for it again.
    RunPodEndpoint.objects.filter(pk=endpoint.pk).update(updated_at=NOW - timedelta(days=1))
    return RunPodEndpoint.objects.select_related("team").get(pk=endpoint.pk)


def test_the_tick_follows_the_generation_and_then_its_successor(berlin):
    claimed = entry("ka-1", yielded_to="gen-1")
    successor = entry("ka-2", low=True)
    script = [
        *(job("gen-1", "IN_PROGRESS"), job("ka-2", "IN_QUEUE"), health()),
        # ka-2 took the worker 70 s after it was sent: it runs past the next tick.
        *(job("gen-1", "COMPLETED"), job("ka-2", "IN_PROGRESS", delayTime=70_000), health()),
    ]
    with ScriptedServer(script) as server:
        endpoint = in_office_hours(keep_alive_endpoint(berlin, server, claimed, successor))

        while_it_runs = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=30))
        assert record(endpoint) == [claimed, successor]
        after_it = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=90))

    assert (while_it_runs.keep_alive_submitted, while_it_runs.keep_alive_cancelled) == (0, 0)
    assert (after_it.keep_alive_submitted, after_it.keep_alive_cancelled) == (0, 0)
    assert record(endpoint) == [successor]
    assert server.script == []


def test_a_worker_taken_without_a_successor_gets_a_low_priority_one(berlin):
    script = [job("gen-1", "IN_PROGRESS"), (200, {"id": "ka-2", "status": "IN_QUEUE"}), health()]
    with ScriptedServer(script) as server:
        endpoint = in_office_hours(
            keep_alive_endpoint(berlin, server, entry("ka-1", yielded_to="gen-1"))
        )

        tick = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=30))

    assert tick.keep_alive_submitted == 1
    [_, replacement] = record(endpoint)
    assert (replacement["id"], replacement["low"]) == ("ka-2", True)


def test_a_claim_made_while_a_tick_runs_survives_the_tick(transactional_db, berlin):
    """The tick writes its record at the end; a generation that claimed a job in between keeps
    its claim, so a second generation never cancels the same job again."""

    def generation_arrives():  # runs while the tick waits for RunPod's answer about ka-1
        try:
            yield_keep_alive_worker(endpoint=endpoint, job_id="gen-1")
        finally:
            connection.close()  # this thread's own database connection
        return job("ka-1", "CANCELLED")

    with ScriptedServer([]) as server:
        endpoint = in_office_hours(keep_alive_endpoint(berlin, server, entry("ka-1")))
        server.script = HookedScript(
            [
                generation_arrives,  # the tick asks about ka-1
                *(health(), job("ka-1", "IN_PROGRESS"), job("gen-1", "IN_QUEUE")),
                job("ka-1", "CANCELLED"),
                (200, {"id": "ka-2", "status": "IN_QUEUE"}),  # the tick's replacement
                health(),
                *(health(), job("ka-2", "IN_QUEUE"), job("gen-2", "IN_QUEUE")),  # nothing to take
            ]
        )

        warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(seconds=30))
        assert yield_keep_alive_worker(endpoint=endpoint, job_id="gen-2") is None

    assert [(item["id"], item.get("yielded_to")) for item in record(endpoint)] == [
        ("ka-1", "gen-1"),
        ("ka-2", None),
    ]
    assert cancels(server) == ["ka-1"]
    assert server.script == []


class HookedScript(list):
    """A ScriptedServer script whose callable entries run when their request arrives."""

    def pop(self, index=-1):
        step = super().pop(index)
        return step() if callable(step) else step
