"""API for admin model actions: download, edit, rename, delete, follow and cancel them, and read
the audit log. Owners and admins only (403 for other members; another team's things are 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from dashboard.accounts.api import require_membership
from dashboard.accounts.models import Membership
from dashboard.catalogue import actions
from dashboard.catalogue import manage_selectors as selectors
from dashboard.catalogue.models import ModelAction, ModelFile, Subtype

router = Router(tags=["model management"])


class DownloadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000,
        description="A Hugging Face file page or /resolve/ link, a CivitAI model page with "
        "?modelVersionId= or an api/download link, or a direct link on an allowed host.",
    )
    subtype: str = Field(Subtype.STABLE_DIFFUSION, max_length=40, description="SwarmUI type.")
    name: str = Field("", max_length=300, description="Without extension; default: the file's.")
    folder: str = Field("", max_length=300, description="Optional subfolder, e.g. Flux.")
    endpoint: int | None = Field(None, description="The team endpoint; default: the default.")


class ActionOut(Schema):
    id: int
    kind: str
    status: str
    endpoint: int = Field(alias="endpoint_id")
    subtype: str
    model_name: str
    user: str | None
    params: dict[str, Any] = Field(description="The job input sent to the worker, minus secrets.")
    runpod_job_id: str
    progress_percent: int | None
    bytes_per_second: int | None
    error: str
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_user(action: ModelAction) -> str | None:
        return action.user.get_username() if action.user else None


class MetadataPatch(Schema):
    """Any subset; fields left out keep their value (the worker fills them from SwarmUI)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    trigger_phrase: str | None = None
    architecture: str | None = Field(None, description="e.g. stable-diffusion-xl-v1-base")
    description: str | None = None
    author: str | None = None
    license: str | None = None
    usage_hint: str | None = None
    date: str | None = None
    prediction_type: str | None = None
    lora_default_weight: str | None = None
    tags: list[str] | str | None = None
    standard_width: int | None = None
    standard_height: int | None = None


class RenameIn(Schema):
    model_config = ConfigDict(extra="forbid")

    new_name: str = Field(max_length=300, description="Folders allowed; the extension stays.")


class AuditEntryOut(Schema):
    id: int
    username: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    created_at: datetime


class AuditFilters(Schema):
    action: str | None = Field(None, max_length=40)
    outcome: str | None = Field(None, max_length=20)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


def _admin(request: HttpRequest) -> Membership:
    membership = require_membership(request)
    if not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage models.")
    return membership


def _model(membership: Membership, model_id: int) -> ModelFile:
    return get_object_or_404(selectors.model_files_for_team(membership.team), pk=model_id)


def _action(membership: Membership, action_id: int) -> ModelAction:
    return get_object_or_404(selectors.model_actions_for_team(membership.team), pk=action_id)


@router.post("/models/downloads", response={201: ActionOut})
def start_download(request: HttpRequest, payload: DownloadIn):
    """Download a model onto the endpoint's volume; follow it at /models/actions/{id}."""
    action = actions.model_download_start(membership=_admin(request), **payload.dict())
    return Status(201, action)


@router.get("/models/actions/{action_id}", response=ActionOut)
def get_action(request: HttpRequest, action_id: int):
    return _action(_admin(request), action_id)


@router.post("/models/actions/{action_id}/cancel", response=ActionOut)
def cancel_action(request: HttpRequest, action_id: int):
    membership = _admin(request)
    return actions.model_action_cancel(membership=membership, action=_action(membership, action_id))


@router.patch("/models/{model_id}/metadata", response={202: ActionOut})
def edit_metadata(request: HttpRequest, model_id: int, payload: MetadataPatch):
    membership = _admin(request)
    model = _model(membership, model_id)
    # null, like a field left out, keeps the value
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    action = actions.model_edit_start(membership=membership, model_file=model, changes=changes)
    return Status(202, action)


@router.post("/models/{model_id}/rename", response={202: ActionOut})
def rename_model(request: HttpRequest, model_id: int, payload: RenameIn):
    membership = _admin(request)
    model = _model(membership, model_id)
    action = actions.model_rename_start(
        membership=membership, model_file=model, new_name=payload.new_name
    )
    return Status(202, action)


def delete_model(request: HttpRequest, model_id: int):
    """Delete the model and its side files from the volume (the job runs; follow the action)."""
    membership = _admin(request)
    action = actions.model_delete_start(
        membership=membership, model_file=_model(membership, model_id)
    )
    return Status(202, action)


# `DELETE /models/{model_id}` shares its path with the catalogue's `GET /models/{model_id}`, and
# ninja answers a path from the first router that has it: catalogue/api.py registers this view on
# its own router (`DELETE_MODEL_ROUTE`) instead of this router doing it. The path must be the
# same string as the GET's; `int:` leaves /models/downloads to this router.
DELETE_MODEL_ROUTE = {
    "path": "/models/{int:model_id}",
    "methods": ["DELETE"],
    "view_func": delete_model,
    "response": {202: ActionOut},
    "tags": ["model management"],
}


@router.get("/audit-log", response=list[AuditEntryOut])
def audit_log(request: HttpRequest, filters: Query[AuditFilters]):
    """Who did what to the team's models, newest first."""
    entries = selectors.audit_log_for_team(_admin(request).team)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.outcome:
        entries = entries.filter(outcome=filters.outcome)
    return entries[filters.offset : filters.offset + filters.limit]
