"""Reads for model management: a team's actions and audit log, and what deleting a model loses."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from dashboard.catalogue.download_links import strip_model_extension
from dashboard.catalogue.models import (
    ActionStatus,
    AuditEntry,
    ModelAction,
    ModelFile,
    ProviderTokens,
)
from dashboard.generations.models import Generation

ACTIVE_STATUSES = (ActionStatus.QUEUED, ActionStatus.RUNNING)


def model_files_for_team(team) -> QuerySet[ModelFile]:
    return ModelFile.objects.filter(endpoint__team=team).select_related("endpoint")


def model_actions_for_team(team) -> QuerySet[ModelAction]:
    return ModelAction.objects.filter(team=team).select_related("endpoint", "user")


def audit_log_for_team(team) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(team=team)


def active_action_on(endpoint, subtype: str, model_name: str) -> ModelAction | None:
    """An unfinished action on that model (or download to that name), if any."""
    return (
        ModelAction.objects.filter(
            endpoint=endpoint,
            subtype=subtype,
            model_name=model_name,
            status__in=ACTIVE_STATUSES,
        )
        .order_by("created_at")
        .first()
    )


def present_model(endpoint, subtype: str, name: str) -> ModelFile | None:
    """The catalogue's file of that name on the endpoint's volume, unless it went missing."""
    return ModelFile.objects.filter(
        endpoint=endpoint, subtype=subtype, name=name, missing_since__isnull=True
    ).first()


def provider_token_status(team) -> dict[str, bool]:
    """Which of the team's provider tokens are set (never the tokens)."""
    tokens = ProviderTokens.objects.filter(team=team).first()
    return {
        "huggingface": bool(tokens and tokens.huggingface_token_encrypted),
        "civitai": bool(tokens and tokens.civitai_token_encrypted),
    }


def generations_using(model_file: ModelFile) -> QuerySet[Generation]:
    """The team's generations that asked for this model (by name, with or without extension)."""
    names = {model_file.name, strip_model_extension(model_file.name)}
    return Generation.objects.filter(team_id=model_file.endpoint.team_id, model__in=names)


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting a model takes away, for the confirmation."""

    model: ModelFile
    side_files: list[str]
    generation_count: int


def deletion_summary(model_file: ModelFile) -> DeletionSummary:
    side_files = []
    if model_file.metadata_etag or model_file.metadata:
        side_files.append("its metadata (.swarm.json: title, trigger phrase, description …)")
    if model_file.preview_etag or model_file.preview:
        side_files.append("its preview image")
    return DeletionSummary(
        model=model_file,
        side_files=side_files,
        generation_count=generations_using(model_file).count(),
    )
