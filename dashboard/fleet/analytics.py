"""Cold-start analytics: each generation classified cold or warm from RunPod's delayTime and its
worker id; p50/p95 delay by hour of day and by model; and what warm workers cost against the
waiting they saved.

A job is cold when it waited long (RunPod counts the worker's start-up in delayTime), or when its
worker had done nothing for a while and the job still waited more than a warm worker would take
to pick it up (runpod.md §1.4, §5.1).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from dashboard.fleet.models import RunPodEndpoint, WarmSchedule
from dashboard.fleet.usage import team_zone
from dashboard.generations.models import Generation

COLD_DELAY_MS = 10_000  # waited this long: a worker was started for it
NEW_WORKER_DELAY_MS = 1_000  # a warm worker takes a job well within this
WORKER_MEMORY = timedelta(minutes=15)  # a worker idle longer than this counts as new
BASELINE = timedelta(days=30)  # cold and warm delays are compared over this long


@dataclass(frozen=True)
class JobTiming:
    id: int
    created_at: datetime
    endpoint_id: int | None
    model: str
    worker_id: str
    delay_ms: int
    execution_ms: int | None


@dataclass(frozen=True)
class ClassifiedJob:
    job: JobTiming
    cold: bool
    reason: str


def classify(jobs: Iterable[JobTiming]) -> list[ClassifiedJob]:
    """Cold or warm for each job, in the order workers took them. Pass the jobs of the
    WORKER_MEMORY before a period too: they tell which workers were active when it began."""
    last_active: dict[tuple[int | None, str], datetime] = {}
    result = []
    for job in sorted(jobs, key=lambda j: j.created_at + timedelta(milliseconds=j.delay_ms)):
        taken_at = job.created_at + timedelta(milliseconds=job.delay_ms)
        worker = (job.endpoint_id, job.worker_id)
        seen = last_active.get(worker) if job.worker_id else None
        new_worker = bool(job.worker_id) and (seen is None or taken_at - seen > WORKER_MEMORY)
        if job.delay_ms >= COLD_DELAY_MS:
            cold, reason = True, f"waited {job.delay_ms / 1000:.1f} s for a worker"
        elif new_worker and job.delay_ms >= NEW_WORKER_DELAY_MS:
            idle_minutes = int(WORKER_MEMORY.total_seconds() // 60)
            cold, reason = True, f"its worker had run no job in the last {idle_minutes} minutes"
        else:
            cold, reason = False, "picked up by a running worker"
        if job.worker_id:
            finished = taken_at + timedelta(milliseconds=job.execution_ms or 0)
            last_active[worker] = max(finished, seen) if seen else finished
        result.append(ClassifiedJob(job, cold, reason))
    return result


def _timings(team, start: datetime, end: datetime) -> list[JobTiming]:
    rows = (
        Generation.objects.filter(
            team=team, created_at__gte=start, created_at__lt=end, delay_ms__isnull=False
        )
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "endpoint_id", "model", "worker_id", "delay_ms", "execution_ms"
        )
    )
    return [JobTiming(*row) for row in rows]


def classified_generations(team, start: datetime, end: datetime) -> list[ClassifiedJob]:
    """The team's generations created in [start, end) that reached a worker, classified."""
    history = _timings(team, start - WORKER_MEMORY, end)
    return [c for c in classify(history) if c.job.created_at >= start]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class DelayStats:
    key: str
    jobs: int
    cold: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def cold_percent(self) -> int:
        return round(self.cold * 100 / self.jobs) if self.jobs else 0


def delay_stats(key: str, jobs: list[ClassifiedJob]) -> DelayStats:
    delays = [c.job.delay_ms for c in jobs]
    return DelayStats(
        key=key,
        jobs=len(jobs),
        cold=sum(c.cold for c in jobs),
        p50_ms=percentile(delays, 50),
        p95_ms=percentile(delays, 95),
    )


def delay_by(jobs: list[ClassifiedJob], key: Callable[[ClassifiedJob], str]) -> list[DelayStats]:
    groups: dict[str, list[ClassifiedJob]] = defaultdict(list)
    for job in jobs:
        groups[key(job)].append(job)
    return [delay_stats(name, groups[name]) for name in sorted(groups)]


@dataclass(frozen=True)
class ColdStartReport:
    overall: DelayStats
    cold: DelayStats
    warm: DelayStats
    by_hour: list[DelayStats]  # hour of day in the team's time zone, "00".."23", hours with jobs
    by_model: list[DelayStats]


def cold_start_report(team, start: datetime, end: datetime) -> ColdStartReport:
    jobs = classified_generations(team, start, end)
    zone = team_zone(team)
    return ColdStartReport(
        overall=delay_stats("all", jobs),
        cold=delay_stats("cold", [c for c in jobs if c.cold]),
        warm=delay_stats("warm", [c for c in jobs if not c.cold]),
        by_hour=delay_by(jobs, lambda c: f"{c.job.created_at.astimezone(zone):%H}"),
        by_model=delay_by(jobs, lambda c: c.job.model or "—"),
    )


# --- warm workers: cost against waiting saved -----------------------------------------------------
@dataclass(frozen=True)
class WarmPoolValue:
    start: datetime
    end: datetime
    worker_seconds: float
    cost: Decimal
    source: str  # "measured" (workers.min in health readings), "scheduled", or "none"
    warm_jobs: int
    cold_p50_ms: float | None
    warm_p50_ms: float | None

    @property
    def saved_minutes(self) -> float | None:
        """Warm jobs times how much less they waited than cold ones (None: nothing to compare)."""
        if self.cold_p50_ms is None or self.warm_p50_ms is None:
            return None
        return round(self.warm_jobs * max(0.0, self.cold_p50_ms - self.warm_p50_ms) / 60_000, 1)


def _measured_worker_seconds(endpoint: RunPodEndpoint, start: datetime, end: datetime):
    """Active-worker seconds from the workers.min of each reading, held until the next one (at
    most two beat intervals: a gap in readings is not billed time we know of)."""
    readings = list(
        endpoint.health_samples.filter(
            taken_at__gte=start, taken_at__lt=end, workers_min__isnull=False
        )
        .order_by("taken_at")
        .values_list("taken_at", "workers_min")
    )
    if not readings:
        return None
    longest = 2 * settings.HEALTH_INTERVAL_SECONDS
    total = 0.0
    for (at, workers), (following, _) in zip(readings, [*readings[1:], (end, 0)], strict=True):
        total += workers * min((following - at).total_seconds(), longest)
    return total


def _scheduled_worker_seconds(endpoint: RunPodEndpoint, start: datetime, end: datetime) -> float:
    """Active-worker seconds the endpoint's enabled warm schedules ask for in [start, end)."""
    schedules = list(WarmSchedule.objects.filter(endpoint=endpoint, enabled=True))
    if not schedules:
        return 0.0
    zone = team_zone(endpoint.team)
    total = 0.0
    day = start.astimezone(zone).date()
    while datetime.combine(day, datetime.min.time(), tzinfo=zone) < end:
        for schedule in schedules:
            if day.weekday() not in (schedule.weekdays or []):
                continue
            opens = max(datetime.combine(day, schedule.start_time, tzinfo=zone), start)
            closes = min(datetime.combine(day, schedule.end_time, tzinfo=zone), end)
            if closes > opens:
                total += (closes - opens).total_seconds() * schedule.warm_workers
        day += timedelta(days=1)
    return total


def warm_pool_value(team, *, now: datetime | None = None, days: int = 7) -> WarmPoolValue:
    """What active (warm) workers cost over the last `days`, measured from health readings where
    there are any, else from the warm schedules; and the waiting the warm jobs were spared."""
    end = now or timezone.now()
    start = end - timedelta(days=days)
    seconds, cost, sources = 0.0, Decimal("0"), set()
    for endpoint in RunPodEndpoint.objects.filter(team=team).select_related("team"):
        measured = _measured_worker_seconds(endpoint, start, end)
        if measured is not None:
            used, source = measured, "measured"
        else:
            used, source = _scheduled_worker_seconds(endpoint, start, end), "scheduled"
        if used:
            sources.add(source)
            seconds += used
            cost += (Decimal(str(used)) * endpoint.gpu_price_per_second).quantize(Decimal("0.0001"))
    baseline = classified_generations(team, end - BASELINE, end)
    cold = [c.job.delay_ms for c in baseline if c.cold]
    warm = [c.job.delay_ms for c in baseline if not c.cold]
    return WarmPoolValue(
        start=start,
        end=end,
        worker_seconds=seconds,
        cost=cost,
        source="measured" if "measured" in sources else (sources.pop() if sources else "none"),
        warm_jobs=sum(1 for c in baseline if not c.cold and c.job.created_at >= start),
        cold_p50_ms=percentile(cold, 50),
        warm_p50_ms=percentile(warm, 50),
    )
