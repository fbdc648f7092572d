"""Catalogue pages for team members: the models on the team's volumes, a model's page, volume
usage and sync runs; owners and admins start syncs. Previews are served only through here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.accounts.selectors import current_membership
from dashboard.catalogue import inventory, selectors, services
from dashboard.catalogue.models import ModelFile, Subtype
from dashboard.catalogue.selectors import ModelSort
from dashboard.fleet.selectors import endpoint_for_team, endpoints_for_team

PAGE_SIZE = 48
SORT_LABELS = {
    ModelSort.NAME: "Name",
    ModelSort.DATE: "Newest",
    ModelSort.SIZE: "Largest",
    ModelSort.USES: "Most used",
}
MISSING_CHOICES = {"": None, "present": False, "missing": True}


def _membership(request: HttpRequest):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    return membership


def _model(request: HttpRequest, model_id: int) -> ModelFile:
    return get_object_or_404(selectors.models_for_team(_membership(request).team), pk=model_id)


def _filters(params: QueryDict, team) -> tuple[dict, dict[str, str]]:
    """The list's filters from the query string, and a message per field that is wrong."""
    errors: dict[str, str] = {}
    subtype = params.get("subtype", "").strip()
    if subtype and subtype not in Subtype.values:
        errors["subtype"] = (
            f"Unknown subtype '{subtype[:40]}'. Choose one of: {', '.join(Subtype.values)}."
        )
    sort = params.get("sort", "").strip() or ModelSort.NAME
    if sort not in [choice.value for choice in ModelSort]:
        errors["sort"] = f"Sort by one of: {', '.join(ModelSort)} (not '{sort[:40]}')."
    missing = params.get("missing", "").strip()
    if missing not in MISSING_CHOICES:
        errors["missing"] = "Choose present, missing, or nothing for both."
    endpoint = params.get("endpoint", "").strip()
    if endpoint and (not endpoint.isdigit() or endpoint_for_team(team, int(endpoint)) is None):
        errors["endpoint"] = "The team has no such endpoint."
    filters = {
        "endpoint_id": int(endpoint) if endpoint and "endpoint" not in errors else None,
        "subtype": subtype if "subtype" not in errors else None,
        "architecture": params.get("architecture", "").strip()[:200] or None,
        "q": params.get("q", "").strip()[:300] or None,
        "missing": MISSING_CHOICES.get(missing),
        "sort": sort if "sort" not in errors else ModelSort.NAME,
    }
    return filters, errors


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    team = membership.team
    filters, errors = _filters(request.GET, team)
    models = selectors.models_for_team(team, **filters)
    page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    endpoints = list(endpoints_for_team(team))
    context = {
        "page": page,
        "filters": filters,
        "values": request.GET,
        "query": query.urlencode(),
        "errors": errors,
        "subtypes": Subtype.choices,
        "architectures": selectors.architectures_for_team(team),
        "sorts": SORT_LABELS.items(),
        "endpoints": endpoints,
        "usage": [(endpoint, _usage_rows(endpoint)) for endpoint in endpoints],
        "sync_runs": selectors.sync_runs_for_team(team)[:10],
        "running": list(selectors.running_syncs(team)),
        "can_manage": membership.can_manage,
    }
    return render(request, "catalogue/model_list.html", context, status=400 if errors else 200)


def _usage_rows(endpoint) -> list[dict]:
    """Usage folders as an indented tree: 'SwarmUI/Models/Lora' shows as 'Lora', two levels in."""
    return [
        {
            "usage": usage,
            "depth": usage.folder.strip("/").count("/"),
            "label": usage.folder.rsplit("/")[-1] or "(volume root)",
        }
        for usage in selectors.folder_usage(endpoint)
    ]


@login_required
def model_detail(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _model(request, model_id)
    context = {
        "model": model,
        "generations": selectors.generations_using(model)[:20],
        "spend": selectors.spend_on(model),
        "duplicates": selectors.duplicates_of(model),
        "side_metadata": sorted(model.metadata.items()) if isinstance(model.metadata, dict) else [],
    }
    return render(request, "catalogue/model_detail.html", context)


def preview_response(model: ModelFile) -> FileResponse:
    """The model's stored preview image, for a caller that has checked team membership."""
    if not model.preview:
        raise Http404("no preview")
    try:
        handle = model.preview.storage.open(model.preview.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("the stored preview is missing") from exc
    extension = inventory.preview_extension(model.preview.name)
    response = FileResponse(
        handle, content_type=inventory.PREVIEW_TYPES.get(extension, "application/octet-stream")
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def model_preview(request: HttpRequest, model_id: int) -> HttpResponse:
    return preview_response(_model(request, model_id))


@login_required
@require_POST
def sync_start(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins start a sync.")
    endpoint_id = request.POST.get("endpoint", "")
    endpoint = (
        endpoint_for_team(membership.team, int(endpoint_id)) if endpoint_id.isdigit() else None
    )
    if endpoint is None:
        raise Http404("no such endpoint")
    run, started = services.catalogue_sync_started(endpoint, trigger="manual", user=request.user)
    if request.htmx:
        return render(request, "catalogue/_sync_run.html", {"run": run})
    if started:
        messages.success(request, f"Syncing the models of {endpoint.name}.")
    else:
        messages.info(request, f"A sync of {endpoint.name} was already running.")
    return redirect("catalogue:list")


@login_required
def sync_run_status(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(selectors.sync_runs_for_team(_membership(request).team), pk=run_id)
    return render(request, "catalogue/_sync_run.html", {"run": run})
