"""Cold-start analytics: cold or warm from delayTime and worker id, p50/p95 by hour and model,
and what warm workers cost against the waiting they saved."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from dashboard.fleet import analytics
from dashboard.fleet.analytics import JobTiming
from dashboard.fleet.models import WarmSchedule
from tests.dashboard.factories import make_endpoint, make_member, make_team
from tests.dashboard.fleet.health_support import finished_generation, reading

T0 = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # a Monday


def job(n: int, minutes: float, worker: str, delay_ms: int, execution_ms: int = 2000, **kw):
    return JobTiming(
        id=n,
        created_at=T0 + timedelta(minutes=minutes),
        endpoint_id=kw.get("endpoint_id", 1),
        model=kw.get("model", "sdxl"),
        worker_id=worker,
        delay_ms=delay_ms,
        execution_ms=execution_ms,
    )


def kinds(jobs) -> list[bool]:
    return [c.cold for c in sorted(analytics.classify(jobs), key=lambda c: c.job.id)]


def test_a_long_wait_is_cold_and_a_quick_pickup_on_a_busy_worker_is_warm():
    jobs = [job(1, 0, "w1", 45_000), job(2, 2, "w1", 300), job(3, 4, "w1", 1_500)]
    assert kinds(jobs) == [True, False, False]


def test_a_worker_idle_longer_than_the_memory_is_new_again():
    jobs = [job(1, 0, "w1", 200), job(2, 1, "w1", 200), job(3, 40, "w1", 2_500)]
    classified = sorted(analytics.classify(jobs), key=lambda c: c.job.id)
    assert [c.cold for c in classified] == [False, False, True]
    assert "no job in the last 15 minutes" in classified[2].reason


def test_a_warm_pool_worker_taking_its_first_job_at_once_is_warm():
    # Kept warm by workers.min but never seen running a job: no wait means no cold start.
    assert kinds([job(1, 0, "warm-1", 150)]) == [False]


def test_workers_are_told_apart_per_endpoint():
    jobs = [job(1, 0, "w1", 300, endpoint_id=1), job(2, 1, "w1", 2_000, endpoint_id=2)]
    assert kinds(jobs) == [False, True]


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert analytics.percentile(values, 50) == 50
    assert analytics.percentile(values, 95) == 95
    assert analytics.percentile([7], 95) == 7
    assert analytics.percentile([], 50) is None


@pytest.fixture
def berlin_member(db):
    team = make_team("Berlin", time_zone="Europe/Berlin")
    return make_member(team)


def test_report_groups_delay_by_local_hour_and_by_model(berlin_member):
    endpoint = make_endpoint(berlin_member.team)
    at = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    for minute, delay, model in [(0, 60_000, "flux"), (1, 400, "flux"), (2, 500, "sdxl")]:
        finished_generation(
            berlin_member,
            endpoint,
            at=at + timedelta(minutes=minute),
            cost="0.01",
            delay_ms=delay,
            worker_id="w1",
            model=model,
        )
    finished_generation(berlin_member, endpoint, at=at, cost=None, model="flux")  # never ran

    report = analytics.cold_start_report(berlin_member.team, at, at + timedelta(hours=1))

    assert (report.overall.jobs, report.cold.jobs, report.warm.jobs) == (3, 1, 2)
    assert [(h.key, h.jobs, h.cold) for h in report.by_hour] == [("09", 3, 1)]
    flux = next(m for m in report.by_model if m.key == "flux")
    assert (flux.jobs, flux.p50_ms, flux.p95_ms) == (2, 400, 60_000)


def test_warm_workers_cost_is_measured_from_min_workers_and_weighed_against_waiting(
    member, settings
):
    settings.HEALTH_INTERVAL_SECONDS = 60
    endpoint = make_endpoint(member.team, gpu_price_per_second=Decimal("0.001"))
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    for minute in range(60):  # one warm worker for an hour
        reading(endpoint, now - timedelta(hours=2) + timedelta(minutes=minute), workers_min=1)
    reading(endpoint, now - timedelta(hours=1), workers_min=0)
    for n in range(4):  # a cold start (61 s), then a warm job on that worker 2 minutes later
        first = now - timedelta(days=1, minutes=30 * n)
        for at, delay in ((first, 61_000), (first + timedelta(minutes=2), 1_000)):
            finished_generation(
                member, endpoint, at=at, cost="0.01", delay_ms=delay, worker_id=f"w{n}"
            )

    value = analytics.warm_pool_value(member.team, now=now)

    assert value.source == "measured"
    assert value.worker_seconds == 3600
    assert value.cost == Decimal("3.6")
    assert (value.cold_p50_ms, value.warm_p50_ms, value.warm_jobs) == (61_000, 1_000, 4)
    assert value.saved_minutes == 4.0  # 4 warm jobs x 60 s less waiting


def test_without_readings_the_warm_schedules_give_the_cost(berlin_member):
    endpoint = make_endpoint(berlin_member.team, gpu_price_per_second=Decimal("0.0002"))
    WarmSchedule.objects.create(
        endpoint=endpoint,
        weekdays=[0, 1, 2, 3, 4],
        start_time=time(9),
        end_time=time(18),
        warm_workers=2,
    )
    now = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)  # Monday 01:00 Berlin: Mon-Fri before it

    value = analytics.warm_pool_value(berlin_member.team, now=now)

    assert value.source == "scheduled"
    assert value.worker_seconds == 5 * 9 * 3600 * 2
    assert value.cost == Decimal("64.8")
    assert value.saved_minutes is None  # no jobs to compare


def test_no_warm_workers_means_no_cost(member):
    make_endpoint(member.team)
    value = analytics.warm_pool_value(member.team)
    assert (value.source, value.cost, value.worker_seconds) == ("none", 0, 0)
