"""Endpoint health: record RunPod's `/health` and the REST v2 workers list as HealthSamples, keep
them 30 days, and turn each new reading into alerts.

RunPod documents only a few `/health` keys; third-party clients read more, so every key is
optional with a default of 0 (reference/runpod.md §1.6). The REST v2 workers summary and the
endpoint's `workers.min/max` need a key with management scope: without it (403) the sample is
still recorded, with the reason in `error`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from dashboard.fleet import alerts
from dashboard.fleet.models import HealthSample, RunPodEndpoint
from dashboard.fleet.runpod_client import RunPodError

logger = logging.getLogger(__name__)

RETENTION_DAYS = 30
WORKER_STATES = ("idle", "running", "initializing", "throttled", "unhealthy")
JOB_KEYS = {
    "jobs_in_queue": "inQueue",
    "jobs_in_progress": "inProgress",
    "jobs_completed": "completed",
    "jobs_failed": "failed",
}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return 0
    return int(value)


def parse_health(body: Any) -> dict[str, int]:
    """HealthSample counts from a `/health` body; missing or malformed keys count as 0."""
    body = body if isinstance(body, dict) else {}
    jobs = body.get("jobs") if isinstance(body.get("jobs"), dict) else {}
    workers = body.get("workers") if isinstance(body.get("workers"), dict) else {}
    counts = {field: _count(jobs.get(key)) for field, key in JOB_KEYS.items()}
    counts.update({f"workers_{state}": _count(workers.get(state)) for state in WORKER_STATES})
    return counts


def parse_workers_list(body: Any) -> dict[str, int]:
    """Worker counts from the REST v2 `/workers` body: its `summary`, else the list's statuses."""
    body = body if isinstance(body, dict) else {}
    summary = body.get("summary")
    if isinstance(summary, dict):
        return {f"workers_{state}": _count(summary.get(state)) for state in WORKER_STATES}
    counts = dict.fromkeys((f"workers_{state}" for state in WORKER_STATES), 0)
    for worker in body.get("workers") or []:
        state = str(worker.get("status", "")).lower() if isinstance(worker, dict) else ""
        if f"workers_{state}" in counts:
            counts[f"workers_{state}"] += 1
    return counts


def parse_worker_limits(body: Any) -> dict[str, int | None]:
    """`workers.min` and `workers.max` from a REST v2 endpoint object (None when absent)."""
    workers = body.get("workers") if isinstance(body, dict) else None
    workers = workers if isinstance(workers, dict) else {}

    def limit(key: str) -> int | None:
        value = workers.get(key)
        is_count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if is_count else None

    return {"workers_min": limit("min"), "workers_max": limit("max")}


def read_health(endpoint: RunPodEndpoint, *, now: datetime) -> HealthSample:
    """Ask RunPod about the endpoint now; an unsaved sample (never raises for RunPod errors)."""
    sample = HealthSample(endpoint=endpoint, taken_at=now)
    client = endpoint.runpod_client()
    try:
        health = client.health()
    except RunPodError as exc:
        sample.reachable = False
        sample.error = exc.message[:2000]
        return sample
    counts = parse_health(health)
    problems = []
    try:
        listed = parse_workers_list(client.workers())
    except RunPodError as exc:
        problems.append(f"workers list: {exc.message}")
    else:
        # The real /health may omit throttled/unhealthy (§1.6): take the larger of both readings.
        counts.update({key: max(counts[key], value) for key, value in listed.items()})
    try:
        counts.update(parse_worker_limits(client.get_endpoint()))
    except RunPodError as exc:
        problems.append(f"endpoint settings: {exc.message}")
    for field, value in counts.items():
        setattr(sample, field, value)
    sample.error = "; ".join(problems)[:2000]
    return sample


def record_health(
    *, endpoint: RunPodEndpoint, now: datetime | None = None, min_gap_seconds: float = 0
) -> HealthSample | None:
    """Record one sample and open/resolve alerts from it. Returns None (and asks RunPod nothing)
    when a sample newer than `min_gap_seconds` exists: a beat tick delivered twice records once."""
    now = now or timezone.now()
    if min_gap_seconds:
        since = now - timedelta(seconds=min_gap_seconds)
        if endpoint.health_samples.filter(taken_at__gt=since, taken_at__lte=now).exists():
            return None
    sample = read_health(endpoint, now=now)
    sample.save()
    if not sample.reachable:
        logger.warning("endpoint %s unreachable: %s", endpoint.pk, sample.error)
    for alert in alerts.evaluate_alerts(endpoint=endpoint, now=now):
        alerts.notify_alert(alert)
    return sample


def record_health_by_id(*, endpoint_id: int, now: datetime | None = None) -> HealthSample | None:
    """The beat's per-endpoint step: skips endpoints deleted meanwhile and duplicate ticks."""
    endpoint = RunPodEndpoint.objects.select_related("team").filter(pk=endpoint_id).first()
    if endpoint is None:
        return None
    gap = settings.HEALTH_INTERVAL_SECONDS / 2
    return record_health(endpoint=endpoint, now=now, min_gap_seconds=gap)


def prune_health(*, now: datetime | None = None, days: int = RETENTION_DAYS) -> int:
    """Delete samples older than `days`; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = HealthSample.objects.filter(taken_at__lt=cutoff).delete()
    return deleted
