"""Pages for endpoint health, usage and budgets: every member looks; owners and admins act
(record a reading now, restore or dismiss alerts, set the budget)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.accounts.models import Membership
from dashboard.accounts.selectors import current_membership
from dashboard.errors import Conflict
from dashboard.fleet import alerts, analytics, budgets, estimates, health, health_selectors, usage
from dashboard.fleet.budget_forms import BudgetForm, MemberBudgetForm
from dashboard.fleet.charts import health_charts
from dashboard.fleet.runpod_client import RunPodError
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team, endpoints_for_team


def _membership(request: HttpRequest, *, manage: bool = False):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    if manage and not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins can do that.")
    return membership


# --- endpoint health ------------------------------------------------------------------------------
@login_required
def health_page(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership = _membership(request)
    endpoint = get_object_or_404(endpoints_for_team(membership.team), pk=endpoint_pk)
    range_key = request.GET.get("range", "24h")
    if range_key not in health_selectors.RANGES:
        range_key = "24h"
    end = timezone.now()
    start = end - health_selectors.RANGES[range_key]
    hourly = range_key != "24h"
    max_gap = (
        timedelta(hours=2, seconds=1)
        if hourly
        else timedelta(seconds=3 * settings.HEALTH_INTERVAL_SECONDS)
    )
    points = health_selectors.chart_points(endpoint, start, end)
    context = {
        "endpoint": endpoint,
        "latest": health_selectors.latest_sample(endpoint),
        "open_alerts": alerts.open_alerts(endpoint),
        "recent_alerts": health_selectors.recent_alerts(endpoint),
        "charts": health_charts(
            points, start=start, end=end, max_gap=max_gap, tz=usage.team_zone(membership.team)
        ),
        "has_points": bool(points),
        "ranges": list(health_selectors.RANGES),
        "range_key": range_key,
    }
    return render(request, "fleet/health_endpoint.html", context)


@login_required
@require_POST
def health_record_now(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership = _membership(request, manage=True)
    endpoint = get_object_or_404(endpoints_for_team(membership.team), pk=endpoint_pk)
    sample = health.record_health(endpoint=endpoint)
    if sample is not None and not sample.reachable:
        messages.error(request, f"{endpoint.name} did not answer: {sample.error}")
    return redirect("fleet:health", endpoint.pk)


def _team_alert(request: HttpRequest, alert_pk: int):
    membership = _membership(request, manage=True)
    alert = health_selectors.alert_for_team(membership.team, alert_pk)
    if alert is None:
        raise Http404("No such alert.")
    return membership, alert


@login_required
@require_POST
def alert_restore(request: HttpRequest, alert_pk: int) -> HttpResponse:
    membership, alert = _team_alert(request, alert_pk)
    try:
        alerts.alert_restore_max(alert=alert, by=membership)
    except RunPodError as exc:
        messages.error(request, f"RunPod did not restore max workers: {exc.message}")
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        restored = alert.details.get("restored_to")
        messages.success(request, f"Max workers of {alert.endpoint.name} set back to {restored}.")
    return redirect("fleet:health", alert.endpoint_id)


@login_required
@require_POST
def alert_dismiss(request: HttpRequest, alert_pk: int) -> HttpResponse:
    membership, alert = _team_alert(request, alert_pk)
    alerts.alert_dismiss(alert=alert, by=membership)
    return redirect("fleet:health", alert.endpoint_id)


# --- usage ----------------------------------------------------------------------------------------
def _period(request: HttpRequest, team):
    """The period the GET parameters ask for; a bad one falls back to this month, with errors."""
    try:
        period = usage.resolve_period(
            team,
            request.GET.get("period", "month"),
            start=request.GET.get("start"),
            end=request.GET.get("end"),
        )
    except ValidationError as exc:
        return usage.resolve_period(team, "month"), exc.message_dict
    return period, {}


@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    team = membership.team
    period, period_errors = _period(request, team)
    context = {
        "report": usage.usage_report(team, period),
        "cold_starts": analytics.cold_start_report(team, period.start, period.end),
        "warm_value": analytics.warm_pool_value(team),
        "periods": usage.PERIODS,
        "period_errors": period_errors,
        "csv_query": request.GET.urlencode(),
        "cold_delay_seconds": analytics.COLD_DELAY_MS // 1000,
    }
    return render(request, "fleet/usage_report.html", context)


def usage_csv_response(team, period: usage.Period) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        usage.usage_csv_lines(team, period), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{usage.csv_filename(team, period)}"'
    return response


@login_required
def usage_csv(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    period, errors = _period(request, membership.team)
    if errors:
        text = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        return HttpResponse(text, status=400, content_type="text/plain")
    return usage_csv_response(membership.team, period)


# --- budget ---------------------------------------------------------------------------------------
def _budget_settings_page(
    request: HttpRequest, membership, *, form=None, member_form=None, status: int = 200
) -> HttpResponse:
    """The budget page; `form` or `member_form` (bound to `member_form.target`) carry errors."""
    team = membership.team
    overview = budgets.budget_overview(team)
    current = overview.settings
    initial = {
        "monthly_soft_limit": current.monthly_soft_limit,
        "monthly_hard_limit": current.monthly_hard_limit,
        "member_monthly_limit": current.member_monthly_limit,
        "member_max_active": current.member_max_active,
        "alert_email": current.alert_email,
    }
    context = {
        "form": form or BudgetForm(initial=initial),
        "member_form": member_form,
        "settings": current,
        "status": overview.status,
        "members": overview.members,
    }
    return render(request, "fleet/budget_settings.html", context, status=status)


@login_required
def budget_page(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, manage=request.method == "POST")
    if request.method != "POST":
        return _budget_settings_page(request, membership)
    form = BudgetForm(request.POST)
    if form.is_valid():
        try:
            budgets.budget_update(team=membership.team, by=membership, **form.service_arguments())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Budget saved.")
            return redirect("fleet:budget")
    return _budget_settings_page(request, membership, form=form)


@login_required
@require_POST
def member_budget(request: HttpRequest, membership_id: int) -> HttpResponse:
    """One row of the budget page's member table: set or clear that member's own limit."""
    membership = _membership(request, manage=True)
    target = get_object_or_404(Membership, team=membership.team, pk=membership_id)
    form = MemberBudgetForm(request.POST, target=target)
    if form.is_valid():
        try:
            budgets.member_budget_update(
                membership=target, by=membership, monthly_limit=form.cleaned_data["monthly_limit"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Monthly limit of {target.user.get_username()} saved.")
            return redirect("fleet:budget")
    return _budget_settings_page(request, membership, member_form=form, status=400)


@login_required
def cost_estimate(request: HttpRequest) -> HttpResponse:
    """The generate form's price tag: a fragment for its current GET parameters."""
    membership = _membership(request)
    team = membership.team
    ref = request.GET.get("endpoint", "")
    endpoint = endpoint_for_team(team, ref) if ref else default_endpoint(team)
    estimate = estimates.estimate_generation_cost(endpoint, request.GET.dict())
    status = budgets.banner_status(team)
    over_hard = bool(
        status
        and status.hard_limit is not None
        and status.spend.total + (estimate.cost or 0) > status.hard_limit
    )
    mine = budgets.member_status(membership)
    context = {
        "estimate": estimate,
        "endpoint": endpoint,
        "over_hard_limit": over_hard,
        "mine": mine,
        "over_my_limit": bool(mine and mine.would_pass_limit(estimate.cost)),
    }
    return render(request, "fleet/_cost_estimate.html", context)
