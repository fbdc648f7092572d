"""API for warm pools under /endpoints/{id}/: schedules, state, keep warm, cool down, warm up.

Every member reads; owners and admins change (the services say 403 otherwise). Times are the
team's wall clock ("09:00"), weekdays 0 = Monday … 6 = Sunday.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from dashboard.accounts.api import require_membership
from dashboard.fleet import selectors, warm_services
from dashboard.fleet.models import WarmSchedule, WarmupRun
from dashboard.fleet.warm_pools import Window

router = Router(tags=["warm pools"])


class ScheduleOut(Schema):
    id: int
    name: str
    weekdays: list[int]
    start_time: str
    end_time: str
    warm_workers: int
    enabled: bool
    description: str
    cost_per_hour: Decimal
    cost_per_week: Decimal


class ScheduleIn(Schema):
    name: str = Field("", max_length=100)
    weekdays: list[int]
    start_time: str = Field(description="team wall clock, HH:MM")
    end_time: str = Field(description="HH:MM after start_time; 00:00 means midnight")
    warm_workers: int = 1
    enabled: bool = True


class SchedulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    weekdays: list[int] | None = None
    start_time: str | None = None
    end_time: str | None = None
    warm_workers: int | None = None
    enabled: bool | None = None


class KeepWarmIn(Schema):
    minutes: int
    workers: int = 1


class WarmupOut(Schema):
    id: int
    model: str
    trigger: str
    status: str
    runpod_job_id: str
    load_seconds: float | None
    delay_ms: int | None
    error: str
    created_at: datetime
    finished_at: datetime | None


class WarmPoolOut(Schema):
    phase: str
    headline: str
    explanation: str
    mode: str
    desired: int
    ready: int
    starting: int
    reason: str
    cost_per_hour: Decimal
    keep_alive_jobs: int
    next_opening: datetime | None
    keep_warm_until: datetime | None
    cooled_until: datetime | None
    notice: str
    last_error: str
    last_checked_at: datetime | None
    time_zone: str


def _schedule_out(schedule: WarmSchedule) -> dict:
    costs = warm_services.schedule_costs(schedule)
    return {
        "id": schedule.pk,
        "name": schedule.name,
        "weekdays": list(schedule.weekdays),
        "start_time": f"{schedule.start_time:%H:%M}",
        "end_time": f"{schedule.end_time:%H:%M}",
        "warm_workers": schedule.warm_workers,
        "enabled": schedule.enabled,
        "description": Window.of(schedule).describe(),
        "cost_per_hour": costs["per_hour"],
        "cost_per_week": costs["per_week"],
    }


def _pool_out(endpoint) -> dict:
    status = warm_services.warm_pool_status(endpoint=endpoint)
    return {**status.__dict__, "time_zone": endpoint.team.time_zone}


def _endpoint(request: HttpRequest, endpoint_pk: int):
    membership = require_membership(request)
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    return membership, endpoint


@router.get("/{endpoint_pk}/warm-pool", response=WarmPoolOut)
def warm_pool(request: HttpRequest, endpoint_pk: int):
    """The pool now: cold / warming / warm N of M / keep-alive mode, and why."""
    _, endpoint = _endpoint(request, endpoint_pk)
    return _pool_out(endpoint)


@router.get("/{endpoint_pk}/warm-schedules", response=list[ScheduleOut])
def list_schedules(request: HttpRequest, endpoint_pk: int):
    _, endpoint = _endpoint(request, endpoint_pk)
    return [_schedule_out(s) for s in endpoint.warm_schedules.select_related("endpoint")]


@router.post("/{endpoint_pk}/warm-schedules", response={201: ScheduleOut})
def create_schedule(request: HttpRequest, endpoint_pk: int, payload: ScheduleIn):
    membership, endpoint = _endpoint(request, endpoint_pk)
    schedule = warm_services.schedule_create(endpoint=endpoint, by=membership, **payload.dict())
    return Status(201, _schedule_out(schedule))


@router.patch("/{endpoint_pk}/warm-schedules/{schedule_pk}", response=ScheduleOut)
def update_schedule(
    request: HttpRequest, endpoint_pk: int, schedule_pk: int, payload: SchedulePatch
):
    membership, endpoint = _endpoint(request, endpoint_pk)
    schedule = get_object_or_404(endpoint.warm_schedules, pk=schedule_pk)
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    return _schedule_out(warm_services.schedule_update(schedule=schedule, by=membership, **changes))


@router.delete("/{endpoint_pk}/warm-schedules/{schedule_pk}", response={204: None})
def delete_schedule(request: HttpRequest, endpoint_pk: int, schedule_pk: int):
    membership, endpoint = _endpoint(request, endpoint_pk)
    schedule = get_object_or_404(endpoint.warm_schedules, pk=schedule_pk)
    warm_services.schedule_delete(schedule=schedule, by=membership)
    return Status(204, None)


@router.post("/{endpoint_pk}/warm-pool/keep-warm", response=WarmPoolOut)
def keep_warm(request: HttpRequest, endpoint_pk: int, payload: KeepWarmIn):
    """Keep at least `workers` warm for `minutes`, on top of any window; applied at once."""
    membership, endpoint = _endpoint(request, endpoint_pk)
    warm_services.keep_warm(endpoint=endpoint, by=membership, **payload.dict())
    return _pool_out(endpoint)


@router.post("/{endpoint_pk}/warm-pool/cool-down", response=WarmPoolOut)
def cool_down(request: HttpRequest, endpoint_pk: int):
    """Nothing warm until the open window closes; workers.min is restored at once."""
    membership, endpoint = _endpoint(request, endpoint_pk)
    warm_services.cool_down(endpoint=endpoint, by=membership)
    return _pool_out(endpoint)


@router.post("/{endpoint_pk}/warm-pool/warm-up", response={202: WarmupOut})
def warm_up(request: HttpRequest, endpoint_pk: int):
    """Send a warmup job that loads the endpoint's default model (one at a time)."""
    membership, endpoint = _endpoint(request, endpoint_pk)
    return Status(202, warm_services.warmup_start(endpoint=endpoint, by=membership))


@router.get("/{endpoint_pk}/warm-pool/warmups", response=list[WarmupOut])
def list_warmups(request: HttpRequest, endpoint_pk: int):
    _, endpoint = _endpoint(request, endpoint_pk)
    return WarmupRun.objects.filter(endpoint=endpoint)[:20]
