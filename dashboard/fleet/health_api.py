"""API for one endpoint's health and alerts (mounted in the endpoints router, so under
/api/v1/endpoints). Members read; owners and admins act. Team-wide alerts, usage, cold starts,
budget and estimates: team_api.py.

Ids are `{int:...}` so that these routes never compete with the endpoints router's own paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from dashboard.accounts.api import require_manager, require_membership
from dashboard.fleet import health, health_selectors
from dashboard.fleet.selectors import endpoints_for_team

router = Router(tags=["health and usage"])

RangeKey = Literal["24h", "7d", "30d"]


def _endpoint(membership, endpoint_pk: int):
    return get_object_or_404(endpoints_for_team(membership.team), pk=endpoint_pk)


# --- health ---------------------------------------------------------------------------------------
class SampleOut(Schema):
    taken_at: datetime
    reachable: bool
    jobs_in_queue: int
    jobs_in_progress: int
    jobs_completed: int
    jobs_failed: int
    workers_idle: int
    workers_running: int
    workers_initializing: int
    workers_throttled: int
    workers_unhealthy: int
    workers_min: int | None
    workers_max: int | None
    error: str


class HealthHistoryOut(Schema):
    endpoint: int
    range: str
    since: datetime
    until: datetime
    latest: SampleOut | None
    samples: list[SampleOut] = Field(description="Newest first.")


class AlertOut(Schema):
    id: int
    endpoint: int
    kind: str
    title: str
    message: str
    details: dict
    opened_at: datetime
    resolved_at: datetime | None
    notified_at: datetime | None

    @staticmethod
    def resolve_endpoint(alert) -> int:
        return alert.endpoint_id

    @staticmethod
    def resolve_title(alert) -> str:
        return alert.get_kind_display()


@router.get("/{int:endpoint_pk}/health", response=HealthHistoryOut)
def health_history(
    request: HttpRequest,
    endpoint_pk: int,
    range: RangeKey = "24h",
    limit: int = Query(1440, ge=1, le=50_000),
):
    """Readings of `/health` and the workers list over the last 24h, 7d or 30d (at most `limit`)."""
    endpoint = _endpoint(require_membership(request), endpoint_pk)
    until = timezone.now()
    since = until - health_selectors.RANGES[range]
    return {
        "endpoint": endpoint.pk,
        "range": range,
        "since": since,
        "until": until,
        "latest": health_selectors.latest_sample(endpoint),
        "samples": list(health_selectors.samples_between(endpoint, since, until)[:limit]),
    }


@router.post("/{int:endpoint_pk}/health", response=SampleOut)
def health_read_now(request: HttpRequest, endpoint_pk: int):
    """Read the endpoint's health now (admins); alerts open or resolve from it."""
    endpoint = _endpoint(require_manager(request), endpoint_pk)
    return health.record_health(endpoint=endpoint)


@router.get("/{int:endpoint_pk}/alerts", response=list[AlertOut])
def endpoint_alerts(request: HttpRequest, endpoint_pk: int, open: bool = False):
    endpoint = _endpoint(require_membership(request), endpoint_pk)
    found = endpoint.alerts.order_by("-opened_at")
    return found.filter(resolved_at__isnull=True) if open else found[:100]
