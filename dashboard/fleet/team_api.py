"""API for what concerns the whole team across its endpoints: alerts, usage, cold starts, the
budget and cost estimates (mounted at /api/v1/team). Members read; owners and admins act."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from dashboard.accounts.api import require_manager, require_membership
from dashboard.accounts.models import Membership
from dashboard.fleet import alerts, analytics, budgets, estimates, health_selectors, usage
from dashboard.fleet.health_api import AlertOut
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team

router = Router(tags=["health and usage"])

PeriodKey = Literal["today", "7d", "30d", "month", "last_month", "custom"]


# --- alerts ---------------------------------------------------------------------------------------
@router.get("/alerts", response=list[AlertOut])
def team_alerts(request: HttpRequest, open: bool = True):
    """The team's alerts on every endpoint (open ones by default)."""
    team = require_membership(request).team
    return health_selectors.alerts_for_team(team, open_only=open)[:200]


def _team_alert(request: HttpRequest, alert_id: int):
    membership = require_manager(request)
    alert = health_selectors.alert_for_team(membership.team, alert_id)
    if alert is None:
        raise HttpError(404, "Not found.")
    return membership, alert


@router.post("/alerts/{int:alert_id}/restore", response=AlertOut)
def restore_alert(request: HttpRequest, alert_id: int):
    """PATCH workers.max back to its value before RunPod's idle scale-down; resolves the alert."""
    membership, alert = _team_alert(request, alert_id)
    return alerts.alert_restore_max(alert=alert, by=membership)


@router.post("/alerts/{int:alert_id}/dismiss", response=AlertOut)
def dismiss_alert(request: HttpRequest, alert_id: int):
    membership, alert = _team_alert(request, alert_id)
    return alerts.alert_dismiss(alert=alert, by=membership)


# --- usage and cold starts ------------------------------------------------------------------------
class PeriodQuery(Schema):
    period: PeriodKey = "month"
    start: date | None = Field(None, description="First day (custom period).")
    end: date | None = Field(None, description="Last day, inclusive (custom period).")


class PeriodOut(Schema):
    key: str
    label: str
    start: datetime
    end: datetime


class UsageRowOut(Schema):
    key: str
    label: str
    jobs: int
    images: int
    gpu_seconds: float
    cost: Decimal


class UsageOut(Schema):
    period: PeriodOut
    total: UsageRowOut
    by_member: list[UsageRowOut]
    by_model: list[UsageRowOut]
    by_endpoint: list[UsageRowOut]
    by_day: list[UsageRowOut]


def _period(request: HttpRequest, query: PeriodQuery):
    team = require_membership(request).team
    return team, usage.resolve_period(team, query.period, start=query.start, end=query.end)


@router.get("/usage", response=UsageOut)
def usage_rollups(request: HttpRequest, query: Query[PeriodQuery]):
    """Jobs, images, GPU seconds and cost per member, model, endpoint and day."""
    team, period = _period(request, query)
    return usage.usage_report(team, period)


@router.get("/usage/csv")
def usage_csv(request: HttpRequest, query: Query[PeriodQuery]):
    """One CSV row per generation of the period."""
    team, period = _period(request, query)
    response = StreamingHttpResponse(
        usage.usage_csv_lines(team, period), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{usage.csv_filename(team, period)}"'
    return response


class DelayStatsOut(Schema):
    key: str
    jobs: int
    cold: int
    p50_ms: float | None
    p95_ms: float | None


class WarmValueOut(Schema):
    start: datetime
    end: datetime
    worker_seconds: float
    cost: Decimal
    source: str
    warm_jobs: int
    cold_p50_ms: float | None
    warm_p50_ms: float | None
    saved_minutes: float | None


class ColdStartsOut(Schema):
    period: PeriodOut
    overall: DelayStatsOut
    cold: DelayStatsOut
    warm: DelayStatsOut
    by_hour: list[DelayStatsOut]
    by_model: list[DelayStatsOut]
    warm_workers_last_7_days: WarmValueOut


@router.get("/cold-starts", response=ColdStartsOut)
def cold_starts(request: HttpRequest, query: Query[PeriodQuery]):
    """Cold/warm counts and p50/p95 delay overall, by hour of day and by model; what warm
    workers cost in the last 7 days and the waiting they saved."""
    team, period = _period(request, query)
    report = analytics.cold_start_report(team, period.start, period.end)
    return {
        "period": period,
        "overall": report.overall,
        "cold": report.cold,
        "warm": report.warm,
        "by_hour": report.by_hour,
        "by_model": report.by_model,
        "warm_workers_last_7_days": analytics.warm_pool_value(team),
    }


# --- budget and estimates -------------------------------------------------------------------------
class MemberBudgetOut(Schema):
    membership_id: int
    username: str
    role: str
    spent_total: Decimal = Field(description="This month, jobs in flight at their estimate.")
    spent_in_flight: Decimal
    jobs_in_flight: int
    monthly_limit: Decimal | None = Field(
        description="Set for this member alone; null: the team's member_monthly_limit applies."
    )
    effective_monthly_limit: Decimal | None = Field(description="The limit that applies.")


class BudgetOut(Schema):
    monthly_soft_limit: Decimal | None
    monthly_hard_limit: Decimal | None
    member_monthly_limit: Decimal | None = Field(description="Each member's, unless their own.")
    member_max_active: int | None = Field(description="Queued or running per member at once.")
    alert_email: str
    alert_webhook_host: str = Field(description="The webhook URL is write-only; its host shows.")
    spent_finished: Decimal
    spent_in_flight: Decimal
    jobs_in_flight: int
    spent_total: Decimal
    soft_percent: int | None
    level: str = Field(description="ok, soft_80, soft_100 or hard.")
    members: list[MemberBudgetOut]


class BudgetPatch(Schema):
    monthly_soft_limit: Decimal | None = Field(None, description="US dollars; null: none.")
    monthly_hard_limit: Decimal | None = Field(None, description="US dollars; null: none.")
    member_monthly_limit: Decimal | None = Field(None, description="US dollars; null: none.")
    member_max_active: int | None = Field(None, description="At least 1; null: no cap.")
    alert_email: str | None = Field(None, max_length=254)
    alert_webhook_url: str | None = Field(None, max_length=200, description='"" removes it.')


class MemberBudgetPatch(Schema):
    monthly_limit: Decimal | None = Field(
        description="US dollars; null: back to the team's member_monthly_limit."
    )


def _member_budget_out(row: budgets.MemberBudgetRow) -> dict:
    return {
        "membership_id": row.membership.pk,
        "username": row.membership.user.get_username(),
        "role": row.membership.role,
        "spent_total": row.spend.total,
        "spent_in_flight": row.spend.in_flight,
        "jobs_in_flight": row.spend.in_flight_jobs,
        "monthly_limit": row.own_limit,
        "effective_monthly_limit": row.monthly_limit,
    }


def _budget_out(team) -> dict:
    overview = budgets.budget_overview(team)
    current, status = overview.settings, overview.status
    return {
        "monthly_soft_limit": current.monthly_soft_limit,
        "monthly_hard_limit": current.monthly_hard_limit,
        "member_monthly_limit": current.member_monthly_limit,
        "member_max_active": current.member_max_active,
        "alert_email": current.alert_email,
        "alert_webhook_host": current.alert_webhook_host,
        "spent_finished": status.spend.finished,
        "spent_in_flight": status.spend.in_flight,
        "jobs_in_flight": status.spend.in_flight_jobs,
        "spent_total": status.spend.total,
        "soft_percent": status.soft_percent,
        "level": status.level,
        "members": [_member_budget_out(row) for row in overview.members],
    }


@router.get("/budget", response=BudgetOut)
def get_budget(request: HttpRequest):
    """The team's monthly limits and this month's spend (jobs in flight at their estimate)."""
    return _budget_out(require_membership(request).team)


@router.patch("/budget", response=BudgetOut)
def set_budget(request: HttpRequest, payload: BudgetPatch):
    """Set limits and notice addresses (admins). Fields left out keep their value."""
    membership = require_manager(request)
    changes = payload.dict(exclude_unset=True)
    budgets.budget_update(team=membership.team, by=membership, **changes)
    return _budget_out(membership.team)


@router.patch("/budget/members/{membership_id}", response=MemberBudgetOut)
def set_member_budget(request: HttpRequest, membership_id: int, payload: MemberBudgetPatch):
    """Give one member their own monthly limit, or null to put them back on the team's limit
    per member (admins)."""
    membership = require_manager(request)
    target = get_object_or_404(Membership, team=membership.team, pk=membership_id)
    budgets.member_budget_update(
        membership=target, by=membership, monthly_limit=payload.monthly_limit
    )
    return _member_budget_out(budgets.member_budgets(membership.team, only=target)[0])


class EstimateQuery(Schema):
    endpoint: str = Field("", description="Endpoint id or name; empty: the team's default.")
    model: str = ""
    width: int = Field(1024, ge=64, le=2048)
    height: int = Field(1024, ge=64, le=2048)
    steps: int = Field(20, ge=1, le=150)
    images: int = Field(1, ge=1, le=64)


class EstimateOut(Schema):
    cost: Decimal | None
    execution_seconds: float | None
    based_on: int
    basis: str


@router.get("/cost-estimate", response=EstimateOut)
def cost_estimate(request: HttpRequest, query: Query[EstimateQuery]):
    """What a generation would likely cost, from recent similar jobs on the endpoint."""
    team = require_membership(request).team
    endpoint = endpoint_for_team(team, query.endpoint) if query.endpoint else None
    if query.endpoint and endpoint is None:
        raise HttpError(404, "Not found.")
    params = query.dict()
    return estimates.estimate_generation_cost(endpoint or default_endpoint(team), params)
