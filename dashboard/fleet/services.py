"""Writes and actions for RunPod endpoints: create/update (secrets encrypted), test connection."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from pydantic import ValidationError as PydanticValidationError

from dashboard.accounts.models import Membership
from dashboard.fleet.models import OutputMode, RunPodEndpoint
from dashboard.fleet.runpod_client import (
    RunPodAuthError,
    RunPodError,
    RunPodForbidden,
    RunPodNotFound,
    RunPodUnavailable,
)
from worker.contract import ListModelsInput, ListModelsOutput

# Fields an admin may set, apart from the secrets.
EDITABLE_FIELDS = (
    "name",
    "endpoint_id",
    "api_base_url",
    "rest_base_url",
    "gpu_price_per_second",
    "default_model",
    "output_mode",
    "volume_id",
    "volume_s3_endpoint_url",
    "volume_s3_region",
    "is_default",
)


def _require_manager(by: Membership | None, team_id: int) -> None:
    if by is not None and (by.team_id != team_id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins manage its endpoints.")


def _validate(endpoint: RunPodEndpoint) -> None:
    errors: dict[str, str] = {}
    if not endpoint.name.strip():
        errors["name"] = "Give the endpoint a name."
    if not endpoint.endpoint_id.strip():
        errors["endpoint_id"] = "Enter the endpoint id RunPod shows for it."
    elif "/" in endpoint.endpoint_id or " " in endpoint.endpoint_id:
        errors["endpoint_id"] = "An endpoint id has no spaces or slashes."
    if not endpoint.api_key_encrypted:
        errors["api_key"] = "Enter the RunPod API key."
    if Decimal(endpoint.gpu_price_per_second) < 0:
        errors["gpu_price_per_second"] = "A price cannot be negative."
    if endpoint.output_mode not in OutputMode.values:
        errors["output_mode"] = f"Choose one of: {', '.join(OutputMode.values)}."
    duplicate = RunPodEndpoint.objects.filter(team_id=endpoint.team_id, name=endpoint.name)
    if duplicate.exclude(pk=endpoint.pk).exists():
        errors["name"] = "The team already has an endpoint with that name."
    if errors:
        raise ValidationError(errors)


def _save(endpoint: RunPodEndpoint) -> RunPodEndpoint:
    _validate(endpoint)
    with transaction.atomic():
        first = (
            not RunPodEndpoint.objects.filter(team_id=endpoint.team_id)
            .exclude(pk=endpoint.pk)
            .exists()
        )
        if first:
            endpoint.is_default = True
        if endpoint.is_default:
            RunPodEndpoint.objects.filter(team_id=endpoint.team_id, is_default=True).exclude(
                pk=endpoint.pk
            ).update(is_default=False)
        endpoint.save()
    return endpoint


def endpoint_create(
    *,
    team,
    by: Membership | None,
    api_key: str,
    volume_access_key: str = "",
    volume_secret_key: str = "",
    **fields,
) -> RunPodEndpoint:
    """A new endpoint for `team`; the first one becomes the team's default."""
    _require_manager(by, team.id)
    endpoint = RunPodEndpoint(team=team)
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise TypeError(f"endpoint_create() got an unexpected field {name!r}")
        setattr(endpoint, name, value)
    endpoint.set_api_key(api_key.strip())
    if volume_access_key or volume_secret_key:
        endpoint.set_volume_credentials(volume_access_key.strip(), volume_secret_key.strip())
    return _save(endpoint)


def endpoint_update(
    *,
    endpoint: RunPodEndpoint,
    by: Membership | None,
    api_key: str = "",
    volume_access_key: str = "",
    volume_secret_key: str = "",
    **fields,
) -> RunPodEndpoint:
    """Change an endpoint; empty secrets keep the stored ones (they are never shown back)."""
    _require_manager(by, endpoint.team_id)
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise TypeError(f"endpoint_update() got an unexpected field {name!r}")
        setattr(endpoint, name, value)
    if api_key.strip():
        endpoint.set_api_key(api_key.strip())
    if volume_access_key.strip() and volume_secret_key.strip():
        endpoint.set_volume_credentials(volume_access_key.strip(), volume_secret_key.strip())
    return _save(endpoint)


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    health: dict | None = None


def endpoint_check_connection(*, endpoint: RunPodEndpoint) -> ConnectionReport:
    """Call the endpoint's /health and say in plain words what works or what is wrong."""
    where = f"{endpoint.job_api_base}/{endpoint.endpoint_id}"
    try:
        health = endpoint.runpod_client().health()
    except RunPodAuthError:
        return ConnectionReport(
            False, "RunPod rejected the API key (401). Check the key saved for this endpoint."
        )
    except RunPodForbidden:
        return ConnectionReport(
            False, "The API key is valid but may not use this endpoint (403). Check its scope."
        )
    except RunPodNotFound:
        return ConnectionReport(
            False,
            f"RunPod has no endpoint '{endpoint.endpoint_id}' (404 from {where}). "
            "Check the endpoint id.",
        )
    except RunPodUnavailable as exc:
        return ConnectionReport(False, f"Cannot reach RunPod at {where}: {exc.message}")
    except RunPodError as exc:
        return ConnectionReport(False, f"RunPod answered unexpectedly: {exc.message}")
    return ConnectionReport(True, _describe_health(health), health)


def _describe_health(health: dict) -> str:
    workers = health.get("workers") or {}
    jobs = health.get("jobs") or {}
    parts = [f"{workers.get(key, 0)} {key}" for key in ("idle", "running", "initializing")]
    for key in ("throttled", "unhealthy"):
        if workers.get(key):
            parts.append(f"{workers[key]} {key}")
    return (
        f"Connected. Workers: {', '.join(parts)}. "
        f"Jobs: {jobs.get('inQueue', 0)} in queue, {jobs.get('inProgress', 0)} in progress."
    )


def endpoint_refresh_models(*, endpoint: RunPodEndpoint, by: Membership | None) -> list[str]:
    """Ask the endpoint's worker which Stable-Diffusion models its volume holds (a `list_models`
    job through /runsync) and remember them: the generate form offers them and unknown names are
    refused. Raises RunPodError when the job cannot run or fails. The REST route's synchronous
    answer for scripts; the pages start a catalogue sync instead (catalogue.services)."""
    _require_manager(by, endpoint.team_id)
    job_input = ListModelsInput(action="list_models", depth=20).to_job_input()
    job = endpoint.runpod_client().runsync(job_input, wait_ms=120_000)
    if job.get("status") != "COMPLETED":
        detail = job.get("error") or f"the job is {job.get('status', 'in an unknown state')}"
        raise RunPodError(f"listing the models failed: {detail}", payload=job)
    try:
        listed = ListModelsOutput.model_validate(job.get("output"))
    except PydanticValidationError as exc:
        raise RunPodError(f"the worker's model list is malformed: {exc}", payload=job) from None
    names = sorted({str(model["name"]) for model in listed.models if model.get("name")})
    endpoint.known_models = names
    endpoint.save(update_fields=["known_models", "updated_at"])
    return names
