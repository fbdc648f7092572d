"""Admin model management pages: download (live progress, cancel), edit metadata, rename, delete,
provider tokens, audit log. Team owners and admins only: members get 403, another team's models
and actions 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from dashboard.accounts.models import Membership
from dashboard.accounts.selectors import current_membership
from dashboard.catalogue import actions
from dashboard.catalogue import manage_selectors as selectors
from dashboard.catalogue.download_links import strip_model_extension
from dashboard.catalogue.forms import DownloadForm, MetadataForm, ProviderTokensForm, RenameForm
from dashboard.errors import Conflict
from dashboard.fleet.runpod_client import RunPodError
from dashboard.fleet.selectors import endpoints_for_team

AUDIT_PAGE_SIZE = 50


def _manager(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    if not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage models.")
    return membership


def _model(membership: Membership, model_id: int):
    return get_object_or_404(selectors.model_files_for_team(membership.team), pk=model_id)


def _action(membership: Membership, action_id: int):
    return get_object_or_404(selectors.model_actions_for_team(membership.team), pk=action_id)


def _start(request: HttpRequest, form, template: str, context: dict, start) -> HttpResponse:
    """Run `start()` for a valid form: to the action's page, or the form again with its errors."""
    if request.method == "POST" and form.is_valid():
        try:
            action = start()
        except ValidationError as exc:
            form.add_service_errors(exc)
        except Conflict as exc:
            form.add_error(None, exc.detail)
        except RunPodError as exc:
            form.add_error(None, f"RunPod could not start it: {exc.message}")
        else:
            return redirect("catalogue:action", action.pk)
    return render(request, template, {**context, "form": form})


@login_required
def download(request: HttpRequest) -> HttpResponse:
    membership = _manager(request)
    endpoints = list(endpoints_for_team(membership.team))
    form = DownloadForm(request.POST or None, endpoints=endpoints)
    recent = selectors.model_actions_for_team(membership.team)[:10]
    return _start(
        request,
        form,
        "catalogue/manage_download.html",
        {"recent": recent, "endpoints": endpoints},
        lambda: actions.model_download_start(membership=membership, **form.cleaned_data),
    )


@login_required
def action_detail(request: HttpRequest, action_id: int) -> HttpResponse:
    action = _action(_manager(request), action_id)
    return render(request, "catalogue/action_detail.html", {"action": action})


@login_required
def action_progress(request: HttpRequest, action_id: int) -> HttpResponse:
    action = _action(_manager(request), action_id)
    return render(request, "catalogue/_action_progress.html", {"action": action})


@login_required
@require_POST
def action_cancel(request: HttpRequest, action_id: int) -> HttpResponse:
    membership = _manager(request)
    action = _action(membership, action_id)
    error = ""
    try:
        action = actions.model_action_cancel(membership=membership, action=action)
    except Conflict as exc:
        error = exc.detail
    except RunPodError as exc:
        error = f"RunPod could not cancel it: {exc.message}"
    if request.htmx:
        action = _action(membership, action_id)
        return render(
            request, "catalogue/_action_progress.html", {"action": action, "error": error}
        )
    if error:
        messages.error(request, error)
    return redirect("catalogue:action", action_id)


@login_required
def model_edit(request: HttpRequest, model_id: int) -> HttpResponse:
    membership = _manager(request)
    model = _model(membership, model_id)
    form = MetadataForm.for_model(model, request.POST or None)
    return _start(
        request,
        form,
        "catalogue/manage_edit.html",
        {"model": model},
        lambda: actions.model_edit_start(
            membership=membership, model_file=model, changes=form.changes()
        ),
    )


@login_required
def model_rename(request: HttpRequest, model_id: int) -> HttpResponse:
    membership = _manager(request)
    model = _model(membership, model_id)
    form = RenameForm(request.POST or None, initial={"new_name": strip_model_extension(model.name)})
    return _start(
        request,
        form,
        "catalogue/manage_rename.html",
        {"model": model},
        lambda: actions.model_rename_start(
            membership=membership, model_file=model, new_name=form.cleaned_data["new_name"]
        ),
    )


@login_required
def model_delete(request: HttpRequest, model_id: int) -> HttpResponse:
    membership = _manager(request)
    model = _model(membership, model_id)
    error = ""
    if request.method == "POST":
        try:
            action = actions.model_delete_start(membership=membership, model_file=model)
        except Conflict as exc:
            error = exc.detail
        except RunPodError as exc:
            error = f"RunPod could not start it: {exc.message}"
        else:
            return redirect("catalogue:action", action.pk)
    summary = selectors.deletion_summary(model)
    return render(
        request,
        "catalogue/manage_delete.html",
        {"summary": summary, "model": model, "error": error},
    )


@login_required
def provider_tokens(request: HttpRequest) -> HttpResponse:
    membership = _manager(request)
    form = ProviderTokensForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.provider_tokens_update(membership=membership, **form.token_changes())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Provider tokens saved.")
            return redirect("catalogue:provider-tokens")
    status = selectors.provider_token_status(membership.team)
    return render(request, "catalogue/manage_tokens.html", {"form": form, "status": status})


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    membership = _manager(request)
    entries = selectors.audit_log_for_team(membership.team)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(pk__lt=int(before))
    page = list(entries[: AUDIT_PAGE_SIZE + 1])
    next_before = page[AUDIT_PAGE_SIZE - 1].pk if len(page) > AUDIT_PAGE_SIZE else None
    return render(
        request,
        "catalogue/manage_audit.html",
        {"entries": page[:AUDIT_PAGE_SIZE], "next_before": next_before},
    )


urlpatterns = [
    path("downloads/new/", download, name="download"),
    path("actions/<int:action_id>/", action_detail, name="action"),
    path("actions/<int:action_id>/progress/", action_progress, name="action-progress"),
    path("actions/<int:action_id>/cancel/", action_cancel, name="action-cancel"),
    path("<int:model_id>/edit/", model_edit, name="model-edit"),
    path("<int:model_id>/rename/", model_rename, name="model-rename"),
    path("<int:model_id>/delete/", model_delete, name="model-delete"),
    path("provider-tokens/", provider_tokens, name="provider-tokens"),
    path("audit/", audit_log, name="audit-log"),
]
