"""Admin model actions: download, edit metadata, rename, delete, each a RunPod job the worker runs.

Start: check the input (field errors; nothing saved, nothing sent) → a ModelAction and an audit
entry "started" → RunPod /run with the job input of worker/contract.py. A download also carries the
team's Hugging Face or CivitAI token; it is decrypted here, sent in that one request and stored
nowhere else: `params` is the job input without it. Follow: Celery polls /status, backing off, and
records the worker's progress; the final state writes a second audit entry and asks the catalogue
to sync. Cancel: RunPod /cancel. The database is the source of truth; a reconciler re-drives
actions whose wake-up was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from dashboard.accounts.models import Membership
from dashboard.catalogue import manage_selectors as selectors
from dashboard.catalogue.download_links import (
    LinkProblem,
    parse_download_link,
    strip_model_extension,
)
from dashboard.catalogue.models import (
    ActionKind,
    ActionStatus,
    AuditEntry,
    ModelAction,
    ModelFile,
    ProviderTokens,
    Subtype,
)
from dashboard.catalogue.url_guard import (
    BadName,
    UnsafeURL,
    check_download_name,
    check_download_redirects,
    check_download_url,
    check_folder,
    check_link_syntax,
    suggest_download_name,
)
from dashboard.crypto import SecretDecryptionError
from dashboard.errors import Conflict
from dashboard.fleet.runpod_client import (
    RunPodAuthError,
    RunPodError,
    RunPodForbidden,
    RunPodNotFound,
)
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team
from dashboard.generations.jobs import progress_of, runpod_error_text
from dashboard.wakeups import send_wake_up
from worker.contract import (
    OUTPUTS,
    DeleteModelInput,
    DownloadModelInput,
    EditModelMetadataInput,
    RenameModelInput,
    format_validation_error,
)

logger = logging.getLogger(__name__)

POLL_TASK = "catalogue.poll_model_action"
REFRESH_TASK = "catalogue.refresh_model_action"
SYNC_AFTER_TASK = "catalogue.sync_after_model_action"
# Seconds between status polls of one job: quick at first, then every few seconds.
POLL_SCHEDULE = (0.5, 0.5, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0)
# A /run never takes this long (retries included); an action still without a job id is lost.
SUBMIT_GRACE_SECONDS = 120
FINAL_STATUSES = (ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED)
CONTRACT_ACTIONS = {
    ActionKind.DOWNLOAD: "download_model",
    ActionKind.EDIT: "edit_model_metadata",
    ActionKind.RENAME: "rename_model",
    ActionKind.DELETE: "delete_model",
}
# policy.executionTimeout / policy.ttl (runpod.md §1.3): downloads may take an hour (the worker's
# DOWNLOAD_TIMEOUT); edits, renames and deletes take seconds once a worker runs.
POLICIES = {
    ActionKind.DOWNLOAD: {"executionTimeout": 2 * 3600_000, "ttl": 3 * 3600_000},
    ActionKind.EDIT: {"executionTimeout": 300_000, "ttl": 3600_000},
    ActionKind.RENAME: {"executionTimeout": 300_000, "ttl": 3600_000},
    ActionKind.DELETE: {"executionTimeout": 300_000, "ttl": 3600_000},
}
# Editable metadata (EditModelMetadata's fields, swarmui-api.md §4.4) and their longest values.
TEXT_FIELDS = {
    "title": 300,
    "author": 200,
    "architecture": 200,
    "description": 5000,
    "trigger_phrase": 1000,
    "usage_hint": 1000,
    "license": 200,
    "date": 50,
    "prediction_type": 50,
    "lora_default_weight": 20,
}
SIZE_FIELDS = ("standard_width", "standard_height")
MAX_TAGS, MAX_TAG_LENGTH = 50, 100
EDITABLE_FIELDS = (*TEXT_FIELDS, *SIZE_FIELDS, "tags")


# --- wake-ups -------------------------------------------------------------------------------------


# --- checks shared by every action ----------------------------------------------------------------
def _require_admin(membership: Membership | None) -> Membership:
    if membership is None or not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage models.")
    return membership


def _require_own_model(membership: Membership, model_file: ModelFile) -> None:
    if model_file.endpoint.team_id != membership.team_id:
        raise ModelFile.DoesNotExist("No such model in this team.")


def _require_changeable(model_file: ModelFile) -> None:
    if model_file.is_missing:
        raise Conflict(
            f"{model_file.name} is missing from the volume since the last sync; there is nothing "
            "to change."
        )
    busy = selectors.active_action_on(model_file.endpoint, model_file.subtype, model_file.name)
    if busy is not None:
        raise Conflict(
            f"{model_file.name} is busy: its {busy.get_kind_display().lower()} (action "
            f"#{busy.pk}) is still running; wait for it or cancel it."
        )


def _subtype(value: Any, errors: dict[str, str]) -> str:
    lookup = {subtype.lower(): subtype for subtype in Subtype.values}
    key = str(value or "").strip().lower()
    if key in lookup:
        return lookup[key]
    errors["subtype"] = f"Unknown model type '{value}'; choose one of {', '.join(Subtype.values)}."
    return ""


def _endpoint(team, ref: Any, errors: dict[str, str]):
    if ref in (None, ""):
        endpoint = default_endpoint(team)
        if endpoint is None:
            errors["endpoint"] = "Your team has no RunPod endpoint yet; an admin can add one."
        return endpoint
    endpoint = endpoint_for_team(team, ref)
    if endpoint is None:
        errors["endpoint"] = "Unknown endpoint."
    return endpoint


def _job_input(model, data: dict[str, Any]) -> dict[str, Any]:
    """The worker's contract has the last word on every job input."""
    try:
        return model.model_validate(data).to_job_input()
    except PydanticValidationError as exc:
        raise ValidationError({"__all__": format_validation_error(exc, data["action"])}) from None


# --- start ----------------------------------------------------------------------------------------
def model_download_start(
    *,
    membership: Membership,
    url: Any,
    subtype: Any = Subtype.STABLE_DIFFUSION,
    name: Any = "",
    folder: Any = "",
    endpoint: Any = None,
) -> ModelAction:
    """Check a download and start it on the endpoint (the team's default when not given).

    Raises ValidationError naming every bad field, PermissionDenied for non-admins, and
    RunPodError when RunPod refused the job (the action is then recorded as failed).
    """
    _require_admin(membership)
    errors: dict[str, str] = {}
    target_endpoint = _endpoint(membership.team, endpoint, errors)
    subtype = _subtype(subtype, errors)
    link = None
    try:
        link = parse_download_link(check_link_syntax(url))
        check_download_url(link.url)
    except (UnsafeURL, LinkProblem) as exc:
        errors["url"] = str(exc)
    try:
        check_folder(str(folder or ""))
    except BadName as exc:
        errors[exc.field] = exc.message
    name = str(name or "").strip()
    if not name and link is not None:
        name = suggest_download_name(link.suggested_name)
        if not name:
            errors["name"] = (
                "This link does not say what the file is called; give the model a name."
            )
    target = ""
    if name and "folder" not in errors:
        try:
            target = check_download_name(name, str(folder or ""))
        except BadName as exc:
            errors[exc.field] = exc.message
    model_name = ""
    if link is not None and target:
        gguf = urlsplit(link.url).path.lower().endswith(".gguf")
        model_name = target + (".gguf" if gguf else ".safetensors")
    if not errors and model_name:
        if selectors.present_model(target_endpoint, subtype, model_name):
            errors["name"] = (
                f"{model_name} is already on the volume; choose another name or delete that "
                "model first."
            )
        elif selectors.active_action_on(target_endpoint, subtype, model_name):
            errors["name"] = f"A download to {model_name} is already running."
    if errors:
        raise ValidationError(errors)
    try:
        # Last, so bad input costs no request. SwarmUI follows redirects itself when it downloads;
        # it may be redirected differently then (url_guard.check_download_redirects says why).
        check_download_redirects(link.url)
    except UnsafeURL as exc:
        raise ValidationError({"url": str(exc)}) from None
    job = _job_input(
        DownloadModelInput,
        {"action": "download_model", "url": link.url, "model_name": target, "subtype": subtype},
    )
    return _start(
        membership=membership,
        endpoint=target_endpoint,
        kind=ActionKind.DOWNLOAD,
        subtype=subtype,
        model_name=model_name,
        job=job,
        secrets=_download_secrets(membership.team, link.provider),
        details={"url": link.url, "endpoint": target_endpoint.name},
    )


def model_edit_start(
    *, membership: Membership, model_file: ModelFile, changes: dict[str, Any]
) -> ModelAction:
    """Change some metadata fields; the worker keeps every other field as it is."""
    _require_admin(membership)
    _require_own_model(membership, model_file)
    metadata = _metadata_changes(changes)
    _require_changeable(model_file)
    job = _job_input(
        EditModelMetadataInput,
        {
            "action": "edit_model_metadata",
            "model_name": model_file.name,
            "subtype": model_file.subtype,
            "metadata": metadata,
        },
    )
    return _start(
        membership=membership,
        endpoint=model_file.endpoint,
        kind=ActionKind.EDIT,
        subtype=model_file.subtype,
        model_name=model_file.name,
        job=job,
        details={"changes": changes},
    )


def model_rename_start(
    *, membership: Membership, model_file: ModelFile, new_name: Any
) -> ModelAction:
    """Give a model another name (folders allowed); SwarmUI keeps its extension."""
    _require_admin(membership)
    _require_own_model(membership, model_file)
    try:
        target = check_download_name(str(new_name or ""), name_field="new_name")
    except BadName as exc:
        raise ValidationError({exc.field: exc.message}) from None
    extension = model_file.name[len(strip_model_extension(model_file.name)) :]
    renamed = target + extension
    if renamed == model_file.name:
        raise ValidationError({"new_name": "That is its name already."})
    if selectors.present_model(model_file.endpoint, model_file.subtype, renamed):
        raise ValidationError({"new_name": f"Another {model_file.subtype} model is {renamed}."})
    _require_changeable(model_file)
    job = _job_input(
        RenameModelInput,
        {
            "action": "rename_model",
            "model_name": model_file.name,
            "new_name": target,
            "subtype": model_file.subtype,
        },
    )
    return _start(
        membership=membership,
        endpoint=model_file.endpoint,
        kind=ActionKind.RENAME,
        subtype=model_file.subtype,
        model_name=model_file.name,
        job=job,
        details={"new_name": renamed},
    )


def model_delete_start(*, membership: Membership, model_file: ModelFile) -> ModelAction:
    """Delete the file and its side files from the volume (history keeps its generations)."""
    _require_admin(membership)
    _require_own_model(membership, model_file)
    _require_changeable(model_file)
    summary = selectors.deletion_summary(model_file)
    job = _job_input(
        DeleteModelInput,
        {"action": "delete_model", "model_name": model_file.name, "subtype": model_file.subtype},
    )
    return _start(
        membership=membership,
        endpoint=model_file.endpoint,
        kind=ActionKind.DELETE,
        subtype=model_file.subtype,
        model_name=model_file.name,
        job=job,
        details={"size": model_file.size, "generations": summary.generation_count},
    )


def _metadata_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check an edit; the contract's field names (`architecture` is SwarmUI's `type`)."""
    errors: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    if not changes:
        errors["__all__"] = "Change at least one field."
    for field, value in changes.items():
        if field in TEXT_FIELDS:
            if not isinstance(value, str):
                errors[field] = "Must be text."
            elif len(value) > TEXT_FIELDS[field]:
                errors[field] = f"Use at most {TEXT_FIELDS[field]} characters ({len(value)} now)."
            elif "\x00" in value:
                errors[field] = "Must not contain control characters."
            else:
                metadata["type" if field == "architecture" else field] = value.strip()
        elif field in SIZE_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16384:
                errors[field] = "Must be a whole number of pixels from 0 (unknown) to 16384."
            else:
                metadata[field] = value
        elif field == "tags":
            tags = value.split(",") if isinstance(value, str) else value
            if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
                errors[field] = "Must be a list of words, or words separated by commas."
                continue
            tags = [tag.strip() for tag in tags if tag.strip()]
            if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in tags):
                errors[field] = f"At most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters each."
            elif any("," in tag for tag in tags):
                errors[field] = (
                    "A tag cannot contain a comma (SwarmUI stores them comma-separated)."
                )
            else:
                metadata[field] = tags
        else:
            errors[field] = (
                f"Not a metadata field that can be edited; use {', '.join(EDITABLE_FIELDS)}."
            )
    if errors:
        raise ValidationError(errors)
    return metadata


def _download_secrets(team, provider: str) -> dict[str, Any]:
    """The team's token for the link's provider, as the job's `api_keys` ({} when none)."""
    tokens = ProviderTokens.objects.filter(team=team).first()
    if tokens is None or provider not in ("huggingface", "civitai"):
        return {}
    try:
        token = tokens.huggingface_token() if provider == "huggingface" else tokens.civitai_token()
    except SecretDecryptionError:
        raise Conflict(
            f"The team's {'Hugging Face' if provider == 'huggingface' else 'CivitAI'} token can no "
            "longer be decrypted (the encryption key changed); set it again under Provider tokens."
        ) from None
    return {"api_keys": {f"{provider}_api": token}} if token else {}


def _start(
    *,
    membership: Membership,
    endpoint,
    kind: ActionKind,
    subtype: str,
    model_name: str,
    job: dict[str, Any],
    details: dict[str, Any],
    secrets: dict[str, Any] | None = None,
) -> ModelAction:
    with transaction.atomic():
        action = ModelAction.objects.create(
            team=membership.team,
            endpoint=endpoint,
            user=membership.user,
            kind=kind,
            subtype=subtype,
            model_name=model_name,
            params=job,
        )
        _audit(action, user=membership.user, outcome="started", details=details)
    try:
        accepted = endpoint.runpod_client().run({**job, **(secrets or {})}, policy=POLICIES[kind])
    except RunPodError as exc:
        _give_up(action.pk, f"RunPod refused the job: {exc.message}")
        raise
    job_id = str(accepted.get("id") or "")
    if not job_id:
        return _give_up(action.pk, f"RunPod accepted the job without an id: {accepted!r}")
    ModelAction.objects.filter(pk=action.pk, runpod_job_id="").update(runpod_job_id=job_id)
    action.refresh_from_db()
    if action.status == ActionStatus.CANCELLED:  # cancelled while /run was under way
        _cancel_at_runpod(endpoint, job_id)
        return action
    send_wake_up(POLL_TASK, action.pk, 0, countdown=POLL_SCHEDULE[0])
    return action


def _cancel_at_runpod(endpoint, job_id: str) -> None:
    try:
        endpoint.runpod_client().cancel(job_id)
    except RunPodNotFound:
        pass
    except RunPodError as exc:
        logger.warning("could not cancel RunPod job %s on %s: %s", job_id, endpoint, exc)


# --- follow ---------------------------------------------------------------------------------------
def apply_action_job(*, action_id: int, job: dict, by=None) -> ModelAction:
    """Move an action along with what RunPod says about its job (/status or /cancel body).
    Idempotent; anything after a final state is ignored. `by`: who ended it, if not its author."""
    with transaction.atomic():
        action = (
            ModelAction.objects.select_for_update(of=("self",))
            .select_related("endpoint", "user")
            .get(pk=action_id)
        )
        if action.status in FINAL_STATUSES:
            return action
        state = str(job.get("status", "")).upper()
        result: dict[str, Any] = {}
        if state in ("IN_PROGRESS", "RUNNING"):
            action.status = ActionStatus.RUNNING
            _record_progress(action, job.get("output"))
        elif state == "COMPLETED":
            result = _complete(action, job.get("output"))
        elif state == "FAILED":
            _finish(
                action, ActionStatus.FAILED, _redacted(runpod_error_text(job.get("error")), action)
            )
        elif state == "CANCELLED":
            _finish(action, ActionStatus.CANCELLED)
        elif state == "TIMED_OUT":
            _finish(
                action,
                ActionStatus.FAILED,
                "RunPod timed the job out: no worker took it in time, or it ran past its "
                "execution timeout.",
            )
        action.save()
        finished = action.status in FINAL_STATUSES
        if finished:
            details = {**result, **({"error": action.error[:500]} if action.error else {})}
            _audit(action, user=by or action.user, outcome=action.status, details=details)
    if finished and action.status == ActionStatus.SUCCEEDED:
        send_wake_up(SYNC_AFTER_TASK, action.pk)
    return action


def _record_progress(action: ModelAction, output: Any) -> None:
    progress, percent = progress_of(output)
    if percent is not None:
        action.progress_percent = percent
    speed = progress.get("bytes_per_second")
    # SwarmUI's first and last messages say 0 B/s (§4.6): keep the last real speed.
    if isinstance(speed, int) and not isinstance(speed, bool) and speed > 0:
        action.bytes_per_second = speed


def _complete(action: ModelAction, output: Any) -> dict[str, Any]:
    """Check the worker's answer, finish the action, mirror the change in the catalogue's row."""
    try:
        parsed = OUTPUTS[CONTRACT_ACTIONS[action.kind]].model_validate(output)
    except PydanticValidationError as exc:
        _finish(
            action,
            ActionStatus.FAILED,
            f"The worker's answer does not follow the contract: {format_validation_error(exc)}",
        )
        return {}
    action.progress_percent = 100
    _finish(action, ActionStatus.SUCCEEDED)
    rows = ModelFile.objects.filter(endpoint_id=action.endpoint_id, subtype=action.subtype)
    if action.kind == ActionKind.DOWNLOAD:
        action.model_name = parsed.model_name
        return {"model_name": parsed.model_name}
    if action.kind == ActionKind.RENAME:
        return {"new_name": parsed.new_model_name}
    if action.kind == ActionKind.EDIT:
        # Shown at once; the next sync reads the rewritten .swarm.json side file anyway.
        fields = parsed.metadata
        changes = {
            "title": str(fields.get("title") or "")[:300],
            "trigger_phrase": str(fields.get("trigger_phrase") or ""),
            "description": str(fields.get("description") or ""),
        }
        if fields.get("type"):  # empty means "keep" to SwarmUI
            changes["architecture"] = str(fields["type"])[:200]
        rows.filter(name=parsed.model_name).update(**changes)
    elif action.kind == ActionKind.DELETE:
        rows.filter(name=parsed.model_name, missing_since__isnull=True).update(
            missing_since=timezone.now()
        )
    return {}


def _finish(action: ModelAction, status: ActionStatus, error: str = "") -> None:
    action.status = status
    action.error = error[:5000]
    action.finished_at = action.finished_at or timezone.now()


def _redacted(text: str, action: ModelAction) -> str:
    """A worker error must never carry a token back into our database; mask any that does."""
    tokens = ProviderTokens.objects.filter(team_id=action.team_id).first()
    if tokens is None:
        return text
    for secret in (tokens.huggingface_token, tokens.civitai_token):
        try:
            value = secret()
        except SecretDecryptionError:
            continue
        if value:
            text = text.replace(value, "[token]")
    return text


def _give_up(action_id: int, error: str, *, by=None) -> ModelAction:
    return apply_action_job(action_id=action_id, job={"status": "FAILED", "error": error}, by=by)


def refresh_model_action(*, action_id: int) -> ModelAction | None:
    """Ask RunPod about the action's job once and apply the answer."""
    action = ModelAction.objects.select_related("endpoint").filter(pk=action_id).first()
    if action is None or action.status in FINAL_STATUSES or not action.runpod_job_id:
        return action
    try:
        job = action.endpoint.runpod_client().status(action.runpod_job_id)
    except RunPodNotFound:
        return _give_up(
            action_id,
            "RunPod no longer knows this job: its result expired or its time to live ran out.",
        )
    except (RunPodAuthError, RunPodForbidden):
        return _give_up(
            action_id,
            "RunPod rejected the endpoint's API key while following the job; an admin must "
            "update it.",
        )
    except RunPodError as exc:
        logger.warning("model action %s: status check failed: %s", action_id, exc)
        ttl = timedelta(milliseconds=POLICIES[action.kind]["ttl"]) + timedelta(minutes=5)
        if timezone.now() > action.created_at + ttl:
            return _give_up(action_id, "No final answer from RunPod within the job's time to live.")
        return action
    return apply_action_job(action_id=action_id, job=job)


def poll_model_action(*, action_id: int, attempt: int = 0) -> ModelAction | None:
    """One poll, then the next one scheduled (backing off) unless the action is final."""
    action = refresh_model_action(action_id=action_id)
    if action is not None and action.status not in FINAL_STATUSES and action.runpod_job_id:
        countdown = POLL_SCHEDULE[min(attempt + 1, len(POLL_SCHEDULE) - 1)]
        send_wake_up(POLL_TASK, action_id, attempt + 1, countdown=countdown)
    return action


def model_action_cancel(*, membership: Membership, action: ModelAction) -> ModelAction:
    """Stop an unfinished action: at RunPod (/cancel), or before it got there."""
    _require_admin(membership)
    if action.team_id != membership.team_id:
        raise ModelAction.DoesNotExist("No such action in this team.")
    if action.status in FINAL_STATUSES:
        raise Conflict(f"The {action.get_kind_display().lower()} has already {action.status}.")
    if action.runpod_job_id:
        try:
            answer = action.endpoint.runpod_client().cancel(action.runpod_job_id)
        except RunPodNotFound:
            answer = {"status": "CANCELLED"}
        if str(answer.get("status", "")).upper() != "CANCELLED":
            # It ended meanwhile, or RunPod answered oddly: its /status has the truth.
            refreshed = refresh_model_action(action_id=action.pk)
            if refreshed is not None and refreshed.status in FINAL_STATUSES:
                return refreshed
    return apply_action_job(action_id=action.pk, job={"status": "CANCELLED"}, by=membership.user)


def sync_catalogue_after(*, action_id: int):
    """Refresh the catalogue of the action's endpoint after a change went through."""
    action = ModelAction.objects.select_related("endpoint", "user").filter(pk=action_id).first()
    if action is None or action.status != ActionStatus.SUCCEEDED:
        return None
    try:  # built alongside this module; until it lands, the next scheduled sync catches up
        from dashboard.catalogue.services import catalogue_sync
    except ImportError:
        logger.info("catalogue sync is not available; model action %s not synced", action_id)
        return None
    try:
        return catalogue_sync(action.endpoint, trigger="action", user=action.user)
    except PermissionDenied:  # its author is no longer an admin; the change happened all the same
        return catalogue_sync(action.endpoint, trigger="action")


def reconcile_model_actions() -> dict[str, int]:
    """Fail actions that never reached RunPod; re-check the others once. Safe any time."""
    lost_before = timezone.now() - timedelta(seconds=SUBMIT_GRACE_SECONDS)
    active = ModelAction.objects.filter(status__in=selectors.ACTIVE_STATUSES)
    lost = active.filter(runpod_job_id="", created_at__lt=lost_before).values_list("pk", flat=True)
    for action_id in lost:
        _give_up(
            action_id,
            "The job never reached RunPod (the dashboard stopped while sending it); "
            "start it again.",
        )
    followed = list(active.exclude(runpod_job_id="").values_list("pk", flat=True))
    for action_id in followed:
        send_wake_up(REFRESH_TASK, action_id)
    return {"lost": len(lost), "refreshed": len(followed)}


# --- provider tokens and the audit log ------------------------------------------------------------
def provider_tokens_update(
    *, membership: Membership, huggingface: str | None = None, civitai: str | None = None
) -> ProviderTokens:
    """Set (a value), clear ("") or keep (None) each token; the audit log says which, never what."""
    _require_admin(membership)
    given = {"huggingface": huggingface, "civitai": civitai}
    errors: dict[str, str] = {}
    for provider, value in given.items():
        if value:
            value = given[provider] = value.strip()
            if len(value) > 500:
                errors[f"{provider}_token"] = "A token has at most 500 characters."
            elif any(char.isspace() or ord(char) < 32 for char in value):
                errors[f"{provider}_token"] = "A token has no spaces or line breaks; copy it again."
    if errors:
        raise ValidationError(errors)
    changes = {p: ("set" if v else "cleared") for p, v in given.items() if v is not None}
    with transaction.atomic():
        tokens, _ = ProviderTokens.objects.select_for_update().get_or_create(team=membership.team)
        tokens.set_tokens(**given)
        tokens.save()
        if changes:
            _audit_entry(
                team_id=membership.team_id,
                user=membership.user,
                action="tokens",
                target="provider tokens",
                outcome="changed",
                details=changes,
            )
    return tokens


def _audit(action: ModelAction, *, user, outcome: str, details: dict[str, Any]) -> AuditEntry:
    return _audit_entry(
        team_id=action.team_id,
        user=user,
        action=action.kind,
        target=f"{action.subtype}: {action.model_name}",
        outcome=outcome,
        details={"action_id": action.pk, **details},
    )


def _audit_entry(
    *, team_id: int, user, action: str, target: str, outcome: str, details: dict[str, Any]
) -> AuditEntry:
    return AuditEntry.objects.create(
        team_id=team_id,
        user=user,
        username=user.get_username() if user is not None else "",
        action=action,
        target=target[:500],
        outcome=outcome,
        details=details,
    )
