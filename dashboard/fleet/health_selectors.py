"""Reads for endpoint health: the latest reading, readings over a range (for charts and the API),
and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Max, QuerySet
from django.db.models.functions import TruncHour

from dashboard.fleet.models import Alert, HealthSample, RunPodEndpoint

# The ranges the health page and the API offer, by name.
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
COUNT_FIELDS = (
    "jobs_in_queue",
    "jobs_in_progress",
    "workers_idle",
    "workers_running",
    "workers_initializing",
    "workers_throttled",
    "workers_unhealthy",
)


def latest_sample(endpoint: RunPodEndpoint) -> HealthSample | None:
    return endpoint.health_samples.order_by("-taken_at").first()


def samples_between(endpoint: RunPodEndpoint, start: datetime, end: datetime) -> QuerySet:
    """Raw readings, newest first."""
    return endpoint.health_samples.filter(taken_at__gte=start, taken_at__lte=end).order_by(
        "-taken_at"
    )


def chart_points(endpoint: RunPodEndpoint, start: datetime, end: datetime) -> list[dict]:
    """Readings for a chart, oldest first: every reading up to a day, else the hourly maximum
    (a backlog that lasted minutes still shows on a 30-day chart)."""
    readings = samples_between(endpoint, start, end).filter(reachable=True)
    if end - start <= timedelta(days=1):
        rows = readings.order_by("taken_at").values("taken_at", *COUNT_FIELDS)
        return [{**row, "at": row.pop("taken_at")} for row in rows]
    rows = (
        readings.order_by()
        .annotate(at=TruncHour("taken_at", tzinfo=UTC))
        .values("at")
        .annotate(**{field: Max(field) for field in COUNT_FIELDS})
        .order_by("at")
    )
    return list(rows)


def recent_alerts(endpoint: RunPodEndpoint, *, limit: int = 10) -> QuerySet[Alert]:
    return endpoint.alerts.filter(resolved_at__isnull=False).order_by("-opened_at")[:limit]


def alerts_for_team(team, *, open_only: bool = False) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(endpoint__team=team).select_related("endpoint")
    if open_only:
        alerts = alerts.filter(resolved_at__isnull=True)
    return alerts.order_by("-opened_at")


def alert_for_team(team, alert_id: int) -> Alert | None:
    return alerts_for_team(team).filter(pk=alert_id).first()
