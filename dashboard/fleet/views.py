"""Endpoint pages: every member sees the team's endpoints; owners and admins edit and test them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.accounts.selectors import current_membership
from dashboard.catalogue.services import catalogue_sync_started
from dashboard.fleet import selectors, services
from dashboard.fleet.forms import EndpointForm

FORM_FIELDS = services.EDITABLE_FIELDS


def _membership(request: HttpRequest, *, manage: bool = False):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    if manage and not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage its endpoints.")
    return membership


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    endpoints = selectors.endpoints_for_team(membership.team)
    return render(request, "fleet/endpoint_list.html", {"endpoints": endpoints})


@login_required
def endpoint_edit(request: HttpRequest, endpoint_pk: int | None = None) -> HttpResponse:
    membership = _membership(request, manage=True)
    endpoint = None
    initial = {}
    if endpoint_pk is not None:
        endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
        initial = {name: getattr(endpoint, name) for name in FORM_FIELDS}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if endpoint is None:
                endpoint = services.endpoint_create(team=membership.team, by=membership, **data)
            else:
                endpoint = services.endpoint_update(endpoint=endpoint, by=membership, **data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("fleet:list")
    return render(request, "fleet/endpoint_form.html", {"form": form, "endpoint": endpoint})


@login_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    membership = _membership(request, manage=True)
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    report = services.endpoint_check_connection(endpoint=endpoint)
    return render(request, "fleet/_connection.html", {"report": report, "endpoint": endpoint})


@login_required
@require_POST
def endpoint_refresh_models(request: HttpRequest, endpoint_pk: int) -> HttpResponse:
    """The list's "Sync models": start the catalogue's sync of the endpoint (or join the one
    running) and show its progress on the models page, where the catalogue's Sync now shows it."""
    membership = _membership(request, manage=True)
    endpoint = get_object_or_404(selectors.endpoints_for_team(membership.team), pk=endpoint_pk)
    run, started = catalogue_sync_started(endpoint, trigger="manual", user=request.user)
    if started:
        how = "over its volume's S3 API" if run.source == "s3" else "through its worker"
        messages.success(request, f"Syncing the models of {endpoint.name} {how}.")
    else:
        messages.info(
            request, f"A sync of {endpoint.name} was already running; here is its progress."
        )
    return redirect(f"{reverse('catalogue:list')}#sync-run-{run.pk}")
