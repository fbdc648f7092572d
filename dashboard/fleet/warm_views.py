"""An endpoint's warm-pool page: every member sees it; owners and admins change schedules and
press the buttons (keep warm, cool down, warm up)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.accounts.selectors import current_membership
from dashboard.fleet import selectors, warm_services
from dashboard.fleet.models import WarmupRun
from dashboard.fleet.warm_pools import WEEKDAY_NAMES, UnknownTimeZone, Window, zone_of
from dashboard.forms import ServiceErrorsMixin

# The badge colour of each phase (classes of static/css/app.css).
PHASE_CLASSES = {
    "warm": "status-succeeded",
    "warming": "status-running",
    "keep_alive": "status-running",
    "paused": "status-failed",
}


class WarmScheduleForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100, required=False)
    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
    )
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end_time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="In the team's time zone. 00:00 means midnight.",
    )
    warm_workers = forms.IntegerField(initial=1)
    enabled = forms.BooleanField(required=False, initial=True)


class KeepWarmForm(forms.Form):
    minutes = forms.IntegerField(initial=60)
    workers = forms.IntegerField(initial=1)


def _endpoint_for(request: HttpRequest, endpoint_pk: int, *, manage: bool = False):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    if manage and not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage warm pools.")
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    return membership, endpoint


PHASE_LABELS = {
    "paused": "Paused",
    "cold": "Cold",
    "cooled_down": "Cooled down",
    "warming": "Warming",
    "warm": "Warm",
    "keep_alive": "Keep-alive",
}


def _display_zone(endpoint) -> str:
    try:
        return zone_of(endpoint.team.time_zone).key
    except UnknownTimeZone:
        return "UTC"


def _state_context(endpoint) -> dict:
    status = warm_services.warm_pool_status(endpoint=endpoint)
    return {
        "endpoint": endpoint,
        "status": status,
        "phase_class": PHASE_CLASSES.get(status.phase, ""),
        "phase_label": PHASE_LABELS.get(status.phase, status.phase),
        "zone": _display_zone(endpoint),
    }


@login_required
def warm_pool(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    _, endpoint = _endpoint_for(request, endpoint_pk)
    schedules = [
        {
            "schedule": schedule,
            "window": Window.of(schedule).describe(),
            "costs": warm_services.schedule_costs(schedule),
        }
        for schedule in endpoint.warm_schedules.select_related("endpoint")
    ]
    context = {
        **_state_context(endpoint),
        "schedules": schedules,
        "warmups": WarmupRun.objects.filter(endpoint=endpoint)[:5],
        "keep_warm_form": KeepWarmForm(),
        "team_time_zone": endpoint.team.time_zone,
        "lead_minutes": f"{settings.WARM_POOL_LEAD_SECONDS / 60:g} min",
    }
    return render(request, "fleet/warm_pool.html", context)


@login_required
def warm_state(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    """The state card alone, for the page's periodic htmx refresh."""
    _, endpoint = _endpoint_for(request, endpoint_pk)
    return render(request, "fleet/_warm_state.html", _state_context(endpoint))


@login_required
def schedule_edit(
    request: HttpRequest, endpoint_pk: int, schedule_pk: int | None = None
) -> HttpResponse:
    membership, endpoint = _endpoint_for(request, endpoint_pk, manage=True)
    schedule = None
    initial = {}
    if schedule_pk is not None:
        schedule = get_object_or_404(endpoint.warm_schedules, pk=schedule_pk)
        initial = {name: getattr(schedule, name) for name in warm_services.SCHEDULE_FIELDS}
    form = WarmScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if schedule is None:
                warm_services.schedule_create(endpoint=endpoint, by=membership, **form.cleaned_data)
            else:
                warm_services.schedule_update(schedule=schedule, by=membership, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Warm schedule saved; it applies within a minute.")
            return redirect("fleet:warm-pool", endpoint.pk)
    context = {"form": form, "endpoint": endpoint, "schedule": schedule}
    return render(request, "fleet/warm_schedule_form.html", context)


@login_required
@require_POST
def schedule_delete(request: HttpRequest, endpoint_pk: int, schedule_pk: int) -> HttpResponse:
    membership, endpoint = _endpoint_for(request, endpoint_pk, manage=True)
    schedule = get_object_or_404(endpoint.warm_schedules, pk=schedule_pk)
    warm_services.schedule_delete(schedule=schedule, by=membership)
    messages.success(request, "Warm schedule deleted.")
    return redirect("fleet:warm-pool", endpoint.pk)


def _report(request: HttpRequest, outcome, done: str) -> None:
    if outcome.error:
        messages.error(request, outcome.error)
    else:
        messages.success(request, done)


@login_required
@require_POST
def keep_warm(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership, endpoint = _endpoint_for(request, endpoint_pk, manage=True)
    form = KeepWarmForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Keep warm: {problems}")
        return redirect("fleet:warm-pool", endpoint.pk)
    try:
        outcome = warm_services.keep_warm(endpoint=endpoint, by=membership, **form.cleaned_data)
    except ValidationError as exc:
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        messages.error(request, f"Keep warm: {problems}")
    else:
        minutes = form.cleaned_data["minutes"]
        _report(request, outcome, f"Keeping {endpoint.name} warm for {minutes} minutes.")
    return redirect("fleet:warm-pool", endpoint.pk)


@login_required
@require_POST
def cool_down(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership, endpoint = _endpoint_for(request, endpoint_pk, manage=True)
    outcome = warm_services.cool_down(endpoint=endpoint, by=membership)
    _report(request, outcome, f"{endpoint.name} cooled down.")
    return redirect("fleet:warm-pool", endpoint.pk)


@login_required
@require_POST
def warm_up(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership, endpoint = _endpoint_for(request, endpoint_pk, manage=True)
    run = warm_services.warmup_start(endpoint=endpoint, by=membership)
    if run.status == warm_services.WarmupStatus.FAILED:
        messages.error(request, f"Warm-up failed: {run.error}")
    else:
        messages.success(request, f"Warm-up sent: loading {run.model or 'the default model'}.")
    return redirect("fleet:warm-pool", endpoint.pk)
