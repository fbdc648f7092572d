"""API for the model catalogue: models, volume usage, syncs; admin model actions in manage_api."""

from datetime import datetime
from decimal import Decimal

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from dashboard.accounts.api import require_membership
from dashboard.catalogue import selectors, services
from dashboard.catalogue.manage_api import DELETE_MODEL_ROUTE
from dashboard.catalogue.manage_api import router as manage_router
from dashboard.catalogue.models import ModelFile, Subtype, SyncRun
from dashboard.catalogue.selectors import ModelSort
from dashboard.catalogue.views import preview_response
from dashboard.fleet.models import RunPodEndpoint
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team

router = Router(tags=["catalogue"])
router.add_router("", manage_router)


class ModelOut(Schema):
    id: int
    endpoint: int = Field(alias="endpoint_id")
    endpoint_name: str
    path: str
    subtype: str
    name: str
    title: str
    architecture: str
    trigger_phrase: str
    description: str
    size: int
    modified_at: datetime | None
    etag: str
    is_supported_format: bool
    missing: bool
    missing_since: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    uses: int = Field(description="The team's generations that name this model.")
    duplicate: bool = Field(
        alias="has_duplicate", description="Another file on the volume has its size and ETag."
    )
    preview_url: str | None

    @staticmethod
    def resolve_endpoint_name(model: ModelFile) -> str:
        return model.endpoint.name

    @staticmethod
    def resolve_missing(model: ModelFile) -> bool:
        return model.is_missing

    @staticmethod
    def resolve_preview_url(model: ModelFile) -> str | None:
        return reverse("api:model_preview", args=[model.pk]) if model.preview else None


class ModelDetailOut(ModelOut):
    metadata: dict
    spend: Decimal = Field(description="Sum of the cost of the generations that used it (USD).")
    duplicate_paths: list[str]
    generation_ids: list[int] = Field(description="The latest 20 generations that used it.")


class ModelFilters(Schema):
    endpoint: int | None = Field(None, description="One endpoint's volume; default: all.")
    subtype: Subtype | None = None
    architecture: str | None = Field(None, max_length=200)
    q: str | None = Field(None, max_length=300, description="Text in name, title, path, trigger.")
    missing: bool | None = Field(None, description="true: only missing files; false: present.")
    sort: ModelSort = Field(
        ModelSort.NAME, description="name (A-Z), date (newest), size (largest), uses (most)."
    )


class FolderUsageOut(Schema):
    folder: str
    bytes: int
    files: int
    updated_at: datetime


class VolumeUsageOut(Schema):
    endpoint: int
    endpoint_name: str
    folders: list[FolderUsageOut]


class SyncIn(Schema):
    endpoint: int = Field(description="The team endpoint whose volume to sync.")


class SyncRunOut(Schema):
    id: int
    endpoint: int = Field(alias="endpoint_id")
    endpoint_name: str
    source: str
    trigger: str
    status: str
    progress: str
    objects_listed: int
    added: int
    changed: int
    unchanged: int
    missing: int
    errors: list[dict]
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None

    @staticmethod
    def resolve_endpoint_name(run: SyncRun) -> str:
        return run.endpoint.name

    @staticmethod
    def resolve_requested_by(run: SyncRun) -> str | None:
        return run.requested_by.get_username() if run.requested_by else None


class SyncRunFilters(Schema):
    endpoint: int | None = None


def _team_endpoint(team, endpoint_id: int | None) -> RunPodEndpoint:
    endpoint = (
        default_endpoint(team) if endpoint_id is None else endpoint_for_team(team, endpoint_id)
    )
    if endpoint is None:
        raise Http404("no such endpoint")
    return endpoint


def _model(request: HttpRequest, model_id: int) -> ModelFile:
    return get_object_or_404(
        selectors.models_for_team(require_membership(request).team), pk=model_id
    )


@router.get("/models", response=list[ModelOut])
@paginate(LimitOffsetPagination, page_size=50)
def list_models(request: HttpRequest, filters: Query[ModelFilters]):
    team = require_membership(request).team
    if filters.endpoint is not None:
        _team_endpoint(team, filters.endpoint)
    return selectors.models_for_team(
        team,
        endpoint_id=filters.endpoint,
        subtype=filters.subtype,
        architecture=filters.architecture,
        q=filters.q,
        missing=filters.missing,
        sort=filters.sort,
    )


@router.get("/models/{int:model_id}", response=ModelDetailOut)
def get_model(request: HttpRequest, model_id: int):
    model = _model(request, model_id)
    model.spend = selectors.spend_on(model)
    model.duplicate_paths = [twin.path for twin in selectors.duplicates_of(model)]
    model.generation_ids = list(
        selectors.generations_using(model).values_list("pk", flat=True)[:20]
    )
    return model


@router.get("/models/{model_id}/preview", url_name="model_preview", response={200: None})
def get_model_preview(request: HttpRequest, model_id: int):
    return preview_response(_model(request, model_id))


@router.get("/volume/usage", response=VolumeUsageOut)
def volume_usage(request: HttpRequest, endpoint: int | None = None):
    """Bytes and files per top folder of an endpoint's volume (default: the team's default)."""
    found = _team_endpoint(require_membership(request).team, endpoint)
    return {
        "endpoint": found.pk,
        "endpoint_name": found.name,
        "folders": list(selectors.folder_usage(found)),
    }


@router.post("/catalogue/sync", response={202: SyncRunOut})
def start_sync(request: HttpRequest, payload: SyncIn):
    """Start a sync of the endpoint's volume (owners and admins), or get the one running."""
    endpoint = _team_endpoint(require_membership(request).team, payload.endpoint)
    run = services.catalogue_sync(endpoint, trigger="manual", user=request.user)
    return Status(202, run)


@router.get("/catalogue/sync-runs", response=list[SyncRunOut])
@paginate(LimitOffsetPagination, page_size=10)
def list_sync_runs(request: HttpRequest, filters: Query[SyncRunFilters]):
    team = require_membership(request).team
    if filters.endpoint is not None:
        _team_endpoint(team, filters.endpoint)
    return selectors.sync_runs_for_team(team, endpoint_id=filters.endpoint)


@router.get("/catalogue/sync-runs/{run_id}", response=SyncRunOut)
def get_sync_run(request: HttpRequest, run_id: int):
    return get_object_or_404(
        selectors.sync_runs_for_team(require_membership(request).team), pk=run_id
    )


# Admins delete a model at the path of GET /models/{model_id}; ninja serves one path from one
# router, so the model management view is registered here (see manage_api.DELETE_MODEL_ROUTE).
# `int:` keeps /models/downloads and /models/actions/… for the management routes.
router.add_api_operation(**DELETE_MODEL_ROUTE)
