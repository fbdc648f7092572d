"""Writes for the catalogue: start a sync of an endpoint's model inventory, and run it.

A sync reads the network volume over its S3 API when the endpoint has S3 credentials (sync.py
walks it; this module compares each folder with the database), and otherwise asks the worker
(`list_models` jobs). Only what changed is written: a second sync of an unchanged volume writes no
ModelFile row. Files that disappeared stay, marked missing, because history points at them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError as PydanticValidationError

from dashboard.accounts.models import Membership
from dashboard.catalogue import inventory
from dashboard.catalogue.models import FolderUsage, ModelFile, Subtype, SyncRun, SyncStatus
from dashboard.catalogue.sync import (
    FolderListing,
    SideFileReader,
    VolumeObject,
    VolumeWalk,
    WalkAborted,
)
from dashboard.fleet.models import RunPodEndpoint
from dashboard.fleet.runpod_client import RunPodClient, RunPodError
from dashboard.fleet.volume import VolumeError
from dashboard.wakeups import send_wake_up_on_commit
from worker.contract import ListModelsInput, ListModelsOutput

logger = logging.getLogger(__name__)

SYNC_TASK = "catalogue.sync"
SCHEDULE_TASK = "catalogue.schedule_syncs"
TRIGGERS = ("manual", "schedule", "action")
# A running sync that has not reported for this long belongs to a task that died.
STALE_AFTER = timedelta(minutes=30)
PROGRESS_EVERY_SECONDS = 1.0
MAX_ERRORS = 50
MAX_SIDE_FILE_BYTES = 16 * 1024 * 1024
# Rows the worker reported (no S3 access): not real keys, so an S3 sync replaces them.
WORKER_PATH_PREFIX = "(worker)/"
WORKER_WAIT_MS = 90_000
WORKER_JOB_TIMEOUT_SECONDS = 600
PREVIEW_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


class SyncFailed(Exception):
    """The sync could not read the inventory at all; the text says why."""


# --- starting a sync ------------------------------------------------------------------------------
def catalogue_sync(endpoint: RunPodEndpoint, *, trigger: str, user=None) -> SyncRun:
    """Start a sync of `endpoint`'s inventory, or return the one already running for it (after
    an admin action, that one syncs once more when it ends). `user`, when given, must be an owner
    or admin of the endpoint's team."""
    return catalogue_sync_started(endpoint, trigger=trigger, user=user)[0]


def catalogue_sync_started(
    endpoint: RunPodEndpoint, *, trigger: str, user=None
) -> tuple[SyncRun, bool]:
    """catalogue_sync, and whether this call started the run (False: one was running)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    if user is not None:
        membership = Membership.objects.filter(team_id=endpoint.team_id, user=user).first()
        if membership is None or not membership.can_manage:
            raise PermissionDenied("Only the team's owners and admins start a sync.")
    try:
        with transaction.atomic():
            # One request at a time per endpoint (the unique constraint backs this up).
            list(RunPodEndpoint.objects.select_for_update().filter(pk=endpoint.pk).values("pk"))
            running = SyncRun.objects.filter(endpoint=endpoint, status=SyncStatus.RUNNING).first()
            if running is not None and not _is_stale(running):
                if trigger == "action" and not running.rerun_requested:
                    running.rerun_requested = True
                    running.save(update_fields=["rerun_requested"])
                return running, False
            if running is not None:
                _abandon(running)
            run = SyncRun.objects.create(
                endpoint=endpoint,
                source="s3" if endpoint.has_volume_access else "worker",
                trigger=trigger,
                requested_by=user,
                progress="Waiting for a Celery worker.",
            )
            send_wake_up_on_commit(SYNC_TASK, run.pk)
    except IntegrityError:  # another request started one in the same instant
        return SyncRun.objects.get(endpoint=endpoint, status=SyncStatus.RUNNING), False
    return run, True


def schedule_syncs() -> int:
    """The beat's sync of every endpoint: over S3 where it has credentials, else its worker."""
    started = 0
    for endpoint in RunPodEndpoint.objects.order_by("pk"):
        catalogue_sync(endpoint, trigger="schedule")
        started += 1
    return started


def _is_stale(run: SyncRun) -> bool:
    return timezone.now() - (run.heartbeat_at or run.started_at) > STALE_AFTER


def _abandon(run: SyncRun) -> None:
    run.status = SyncStatus.FAILED
    run.finished_at = timezone.now()
    run.errors = [*run.errors, {"path": "", "message": "The sync stopped reporting; abandoned."}]
    run.save(update_fields=["status", "finished_at", "errors"])


# --- running it -----------------------------------------------------------------------------------
@dataclass
class _Run:
    """One sync in progress: counters and errors, and throttled progress reports."""

    run: SyncRun
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    _reported_at: float = 0.0

    @property
    def endpoint(self) -> RunPodEndpoint:
        return self.run.endpoint

    def error(self, path: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"path": path, "message": message})
        logger.warning("catalogue sync %s of %s: %s: %s", self.run.pk, self.endpoint, path, message)

    def report(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._reported_at < PROGRESS_EVERY_SECONDS:
            return
        self._reported_at = now
        self.run.progress = text[:300]
        self.run.heartbeat_at = timezone.now()
        self.run.save(
            update_fields=[
                "progress",
                "heartbeat_at",
                "objects_listed",
                "added",
                "changed",
                "unchanged",
                "missing",
            ]
        )


def run_sync(*, sync_run_id: int) -> SyncRun | None:
    """Carry out a started sync (the Celery task's body). A run that another task has taken,
    or that has ended, is left alone, so a redelivered task does nothing."""
    claimed = SyncRun.objects.filter(
        pk=sync_run_id, status=SyncStatus.RUNNING, heartbeat_at__isnull=True
    ).update(heartbeat_at=timezone.now(), progress="Starting.")
    if not claimed:
        return None
    ctx = _Run(SyncRun.objects.select_related("endpoint").get(pk=sync_run_id))
    failure = ""
    try:
        if ctx.run.source == "s3":
            _sync_volume(ctx)
        else:
            _sync_worker(ctx)
    except SyncFailed as exc:
        failure = str(exc)
    except Exception:
        logger.exception("catalogue sync %s of %s failed", sync_run_id, ctx.endpoint)
        failure = "The sync stopped on an internal error (details in the server log)."
    else:
        _refresh_known_models(ctx.endpoint)
    run = _finish(ctx, failure)
    if SyncRun.objects.filter(pk=run.pk, rerun_requested=True).exists():
        catalogue_sync(ctx.endpoint, trigger="action")
    return run


def _finish(ctx: _Run, failure: str) -> SyncRun:
    run = ctx.run
    run.finished_at = timezone.now()
    run.errors = ctx.errors
    if ctx.error_count > len(ctx.errors):
        run.errors.append({"path": "", "message": f"… and {ctx.error_count - MAX_ERRORS} more."})
    if failure:
        run.status = SyncStatus.FAILED
        run.errors.append({"path": "", "message": failure})
        run.progress = f"Failed: {failure}"
    else:
        run.status = SyncStatus.SUCCEEDED
        count = ctx.error_count
        errors = f", {count} error{'s' if count != 1 else ''}" if count else ""
        run.progress = (
            f"Done: {run.objects_listed} objects listed; {run.added} added, "
            f"{run.changed} changed, {run.missing} missing{errors}."
        )
    run.progress = run.progress[:300]
    run.save()
    return run


def _refresh_known_models(endpoint: RunPodEndpoint) -> None:
    """What the generate form offers and validation accepts: the volume's Stable-Diffusion
    models as of this sync."""
    names = sorted(
        set(
            ModelFile.objects.filter(
                endpoint=endpoint, subtype=Subtype.STABLE_DIFFUSION, missing_since__isnull=True
            ).values_list("name", flat=True)
        )
    )
    current = RunPodEndpoint.objects.filter(pk=endpoint.pk).values_list("known_models", flat=True)
    if names != next(iter(current), None):
        endpoint.known_models = names
        endpoint.save(update_fields=["known_models", "updated_at"])


# --- over S3 --------------------------------------------------------------------------------------
def _sync_volume(ctx: _Run) -> None:
    if not ctx.endpoint.has_volume_access:
        raise SyncFailed("The endpoint has no S3 credentials for its volume any more.")
    reader = ctx.endpoint.volume_reader()
    walk = VolumeWalk(reader, on_page=lambda walk, prefix: _listing_progress(ctx, walk, prefix))
    model_folders: set[str] = set()
    try:
        with SideFileReader(reader) as side_files:
            for listing in walk.folders():
                if inventory.subtype_of_folder(listing.prefix) is None:
                    continue
                model_folders.add(listing.prefix)
                _apply_folder(ctx, side_files, listing)
    except WalkAborted as exc:
        raise SyncFailed(f"The volume cannot be listed: {exc}") from None
    ctx.run.objects_listed = walk.objects_listed
    for problem in walk.errors:
        ctx.error(problem.prefix, problem.message)
    if walk.complete:
        _forget_worker_rows(ctx.endpoint)
        _mark_unlisted_folders_missing(ctx, model_folders)
    _save_usage(ctx.endpoint, walk)


def _listing_progress(ctx: _Run, walk: VolumeWalk, prefix: str) -> None:
    ctx.run.objects_listed = walk.objects_listed
    ctx.report(
        f"Listing {prefix or 'the volume root'}: {walk.objects_listed} objects in "
        f"{walk.folders_listed + 1} folders so far."
    )


@dataclass
class _Seen:
    """A model of the listing, its row (new or not), and its side files on the volume."""

    row: ModelFile
    fresh: bool
    changed: set[str]
    metadata: VolumeObject | None
    preview: VolumeObject | None


def _apply_folder(ctx: _Run, side_files: SideFileReader, listing: FolderListing) -> None:
    """Compare one folder's listing with its rows: add, update what changed, mark the rest
    missing (only when the folder was listed completely). The side files that changed are read
    concurrently, ahead of the model they belong to; the rows are written in bulk."""
    now = timezone.now()
    seen, unseen = _compare_with_rows(ctx, listing, now)
    new_rows: list[ModelFile] = []
    # Rows by the fields that changed on them: a bulk update sets every field it is given on every
    # row, through one CASE per field, so rows that changed alike are updated together.
    changed_rows: dict[frozenset[str], list[ModelFile]] = {}
    for item, fetched in side_files.read_ahead(seen, _side_files_to_read):
        row, changed = item.row, item.changed
        changed |= _apply_side_files(ctx, row, item.metadata, item.preview, fetched)
        if item.fresh:
            row.last_seen_at = now
            new_rows.append(row)
        elif changed:
            row.last_seen_at = now
            changed_rows.setdefault(frozenset(changed | {"last_seen_at"}), []).append(row)
        else:
            ctx.run.unchanged += 1
    vanished = [row.pk for row in unseen if row.missing_since is None]
    with transaction.atomic():
        ModelFile.objects.bulk_create(new_rows)
        for fields, rows in changed_rows.items():
            _update_rows(rows, sorted(fields))
        if vanished and listing.complete:
            ModelFile.objects.filter(pk__in=vanished).update(missing_since=now)
    ctx.run.added += len(new_rows)
    ctx.run.changed += sum(len(rows) for rows in changed_rows.values())
    ctx.run.missing += len(vanished) if listing.complete else 0
    ctx.report(f"Read {listing.prefix}: {len(seen)} models.")


def _update_rows(rows: list[ModelFile], fields: list[str]) -> None:
    if len(rows) == 1:  # a plain UPDATE: much cheaper to build than bulk_update's CASEs
        ModelFile.objects.filter(pk=rows[0].pk).update(
            **{name: getattr(rows[0], name) for name in fields}
        )
    else:
        ModelFile.objects.bulk_update(rows, fields)


def _compare_with_rows(
    ctx: _Run, listing: FolderListing, now: datetime
) -> tuple[list[_Seen], list[ModelFile]]:
    """The folder's models with their rows (new ones unsaved), listing values set on them; and
    the folder's rows that the listing no longer has."""
    endpoint = ctx.endpoint
    side_objects: dict[str, VolumeObject] = {}
    found: list[tuple[inventory.ModelKey, VolumeObject]] = []
    for obj in listing.objects:
        model = inventory.parse_model_key(obj.key)
        if model is not None:
            if len(obj.key) > 1000 or len(model.name) > 500:
                ctx.error(obj.key, "The key is too long to keep; skipped.")
            else:
                found.append((model, obj))
        elif inventory.is_side_file(obj.key):
            side_objects[obj.key] = obj
    rows = ModelFile.objects.filter(endpoint=endpoint, folder=listing.prefix).order_by()
    existing = {row.path: row for row in rows}
    new_paths = [obj.key for _, obj in found if obj.key not in existing]
    if new_paths:  # a row may exist under another folder value (written before this field was)
        adopted = ModelFile.objects.filter(endpoint=endpoint, path__in=new_paths).order_by()
        existing.update({row.path: row for row in adopted})
    seen: list[_Seen] = []
    for model, obj in found:
        row = existing.pop(obj.key, None)
        fresh = row is None
        if fresh:
            row = ModelFile(endpoint=endpoint, path=obj.key, first_seen_at=now)
        changed = _set(
            row,
            folder=listing.prefix,
            subtype=model.subtype,
            name=model.name,
            size=obj.size,
            modified_at=obj.modified_at,
            etag=obj.etag,
            is_supported_format=model.supported,
            missing_since=None,
        )
        metadata = side_objects.get(inventory.metadata_key(obj.key))
        preview = next(
            (side_objects[k] for k in inventory.preview_keys(obj.key) if k in side_objects), None
        )
        seen.append(_Seen(row, fresh, changed, metadata, preview))
    return seen, list(existing.values())


def _set(row: ModelFile, **values: Any) -> set[str]:
    """Set fields on a row; the names of those whose value changed."""
    changed = set()
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.add(name)
    return changed


CLEARED_METADATA = {
    "title": "",
    "architecture": "",
    "trigger_phrase": "",
    "description": "",
    "metadata": {},
    "metadata_etag": "",
}


def _lost_file_preview(row: ModelFile, preview: VolumeObject | None) -> bool:
    """The row's preview came from an image file that is gone: the metadata may embed one."""
    return preview is None and row.preview_etag.startswith("file:")


def _wants_metadata(
    row: ModelFile, metadata: VolumeObject | None, preview: VolumeObject | None
) -> bool:
    return metadata is not None and (
        metadata.version != row.metadata_etag or _lost_file_preview(row, preview)
    )


def _wants_preview(row: ModelFile, preview: VolumeObject | None) -> bool:
    return preview is not None and _preview_version(preview) != row.preview_etag


def _preview_version(preview: VolumeObject) -> str:
    return f"file:{preview.version}"[:100]


def _side_files_to_read(item: _Seen) -> list[VolumeObject]:
    """What `_apply_side_files` will look at for this model (too big ones are reported there)."""
    wanted = []
    if _wants_metadata(item.row, item.metadata, item.preview):
        wanted.append(item.metadata)
    if _wants_preview(item.row, item.preview):
        wanted.append(item.preview)
    return [obj for obj in wanted if obj.size <= MAX_SIDE_FILE_BYTES]


def _apply_side_files(
    ctx: _Run,
    row: ModelFile,
    metadata: VolumeObject | None,
    preview: VolumeObject | None,
    fetched: dict[str, bytes | VolumeError],
) -> set[str]:
    """Take in `.swarm.json` and the preview image when their version changed (`fetched` holds
    what `_side_files_to_read` asked for). A preview image file wins over one embedded in the
    metadata (SwarmUI's metadata edits embed it)."""
    changed: set[str] = set()
    side = None
    lost_file_preview = _lost_file_preview(row, preview)
    if _wants_metadata(row, metadata, preview):
        side = _read_metadata(ctx, fetched, metadata)
        if side is not None:
            changed |= _set(
                row,
                title=side.title,
                architecture=side.architecture,
                trigger_phrase=side.trigger_phrase,
                description=side.description,
                metadata=side.fields,
                metadata_etag=metadata.version,
            )
    elif metadata is None and row.metadata_etag:
        changed |= _set(row, **CLEARED_METADATA)

    if preview is not None:
        if _wants_preview(row, preview):
            data = _read_side_file(ctx, fetched, preview)
            if data is not None:
                changed |= _store_preview(ctx, row, data, _preview_version(preview), preview.key)
    elif side is not None and side.preview:
        wanted = f"json:{metadata.version}"[:100]
        if wanted != row.preview_etag:
            try:
                data, _ = inventory.decode_data_image(side.preview)
            except inventory.SideFileError as exc:
                ctx.error(metadata.key, str(exc))
            else:
                changed |= _store_preview(ctx, row, data, wanted, metadata.key)
    elif row.preview_etag and (side is not None or metadata is None or lost_file_preview):
        # No image file, and the metadata (read now, or gone) embeds none either.
        changed |= _clear_preview(row)
    return changed


def _read_side_file(
    ctx: _Run, fetched: dict[str, bytes | VolumeError], obj: VolumeObject
) -> bytes | None:
    if obj.size > MAX_SIDE_FILE_BYTES:
        ctx.error(obj.key, f"Larger than {MAX_SIDE_FILE_BYTES // 2**20} MB; not read.")
        return None
    data = fetched[obj.key]
    if isinstance(data, VolumeError):
        ctx.error(obj.key, f"Could not read it: {data}")
        return None
    return data


def _read_metadata(
    ctx: _Run, fetched: dict[str, bytes | VolumeError], obj: VolumeObject
) -> inventory.SideMetadata | None:
    raw = _read_side_file(ctx, fetched, obj)
    if raw is None:
        return None
    try:
        return inventory.parse_swarm_json(raw)
    except inventory.SideFileError as exc:
        # Remembered as read (an empty one), so the same broken file is reported once.
        ctx.error(obj.key, f"Ignored: {exc}.")
        return inventory.SideMetadata()


def _store_preview(ctx: _Run, row: ModelFile, data: bytes, version: str, source: str) -> set[str]:
    """Keep the preview through Django's storage (served only by a membership-checked view)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            extension = PREVIEW_FORMATS.get(image.format or "")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        extension = None
    if extension is None:
        ctx.error(source, "The preview is not a PNG, JPEG or WebP image; ignored.")
        return _clear_preview(row) | _set(row, preview_etag=version)
    if row.preview:
        row.preview.delete(save=False)
    digest = hashlib.sha256(row.path.encode()).hexdigest()[:24]
    row.preview.save(f"{row.endpoint_id}-{digest}.{extension}", ContentFile(data), save=False)
    row.preview_etag = version
    return {"preview", "preview_etag"}


def _clear_preview(row: ModelFile) -> set[str]:
    if row.preview:
        row.preview.delete(save=False)
    return _set(row, preview="", preview_etag="")


def _mark_unlisted_folders_missing(ctx: _Run, listed: set[str]) -> None:
    """After a complete walk: rows of folders that no longer exist are missing too."""
    present = ModelFile.objects.filter(endpoint=ctx.endpoint, missing_since__isnull=True)
    gone = set(present.order_by().values_list("folder", flat=True).distinct()) - listed
    if gone:
        ctx.run.missing += present.filter(folder__in=gone).update(missing_since=timezone.now())


def _forget_worker_rows(endpoint: RunPodEndpoint) -> None:
    for row in ModelFile.objects.filter(endpoint=endpoint, path__startswith=WORKER_PATH_PREFIX):
        _clear_preview(row)
        row.delete()


def _save_usage(endpoint: RunPodEndpoint, walk: VolumeWalk) -> None:
    """Bytes and files per usage folder; a folder whose listing stopped early keeps its last
    numbers. Unchanged numbers are not rewritten."""
    existing = {usage.folder: usage for usage in FolderUsage.objects.filter(endpoint=endpoint)}
    now = timezone.now()
    for folder, (size, files) in walk.usage.items():
        if folder in walk.incomplete_usage:
            continue
        usage = existing.pop(folder, None)
        if usage is None:
            FolderUsage.objects.create(
                endpoint=endpoint, folder=folder, bytes=size, files=files, updated_at=now
            )
        elif (usage.bytes, usage.files) != (size, files):
            usage.bytes, usage.files, usage.updated_at = size, files, now
            usage.save(update_fields=["bytes", "files", "updated_at"])
    if walk.complete and existing:
        FolderUsage.objects.filter(pk__in=[usage.pk for usage in existing.values()]).delete()


# --- through the worker (no S3 credentials) -------------------------------------------------------
def _sync_worker(ctx: _Run) -> None:
    client = ctx.endpoint.runpod_client()
    failed = []
    for subtype in Subtype.values:
        ctx.report(f"Asking the worker for its {subtype} models.", force=True)
        try:
            models = _worker_models(client, subtype)
        except RunPodError as exc:
            ctx.error(f"{WORKER_PATH_PREFIX}{subtype}", exc.message)
            failed.append(exc.message)
            continue
        ctx.run.objects_listed += len(models)
        _apply_worker_listing(ctx, subtype, models)
    if len(failed) == len(Subtype.values):
        raise SyncFailed(f"The worker could not list the models: {failed[-1]}")


def _worker_models(client: RunPodClient, subtype: str) -> list[dict]:
    """Every model of one subtype, from a `list_models` job (runsync, then status polls)."""
    job_input = ListModelsInput(action="list_models", depth=20, subtype=subtype).to_job_input()
    job = client.runsync(job_input, wait_ms=WORKER_WAIT_MS)
    deadline = time.monotonic() + WORKER_JOB_TIMEOUT_SECONDS
    while job.get("status") in ("IN_QUEUE", "IN_PROGRESS") and job.get("id"):
        if time.monotonic() > deadline:
            client.cancel(job["id"])
            raise RunPodError(f"listing the {subtype} models took too long; cancelled")
        time.sleep(2)
        job = client.status(job["id"])
    if job.get("status") != "COMPLETED":
        detail = job.get("error") or f"the job is {job.get('status', 'in an unknown state')}"
        raise RunPodError(f"listing the {subtype} models failed: {detail}", payload=job)
    try:
        return ListModelsOutput.model_validate(job.get("output")).models
    except PydanticValidationError as exc:
        raise RunPodError(f"the worker's model list is malformed: {exc}", payload=job) from None


def _worker_fields(item: dict) -> dict[str, Any]:
    def text(key: str) -> str:
        value = item.get(key)
        return "" if value is None else str(value).strip()

    return {
        "title": text("title")[:300],
        "architecture": text("architecture")[:200],
        "trigger_phrase": text("trigger_phrase"),
        "description": text("description"),
        "is_supported_format": bool(item.get("is_supported_model_format", True)),
    }


def _apply_worker_listing(ctx: _Run, subtype: str, models: list[dict]) -> None:
    """Match the worker's models to rows by name (a row from an earlier S3 sync keeps its real
    path); add the others under a pseudo path; mark rows the worker no longer lists missing."""
    rows = list(ModelFile.objects.filter(endpoint=ctx.endpoint, subtype=subtype))
    by_name: dict[str, ModelFile] = {}
    for row in sorted(rows, key=lambda row: (row.missing_since is not None, row.path)):
        by_name.setdefault(row.name, row)
    now = timezone.now()
    listed: set[str] = set()
    new_rows, changed_rows, changed_fields = [], [], set()
    for item in models:
        name = str(item.get("name") or "")
        if not name or name in listed or len(name) > 500:
            continue
        listed.add(name)
        row = by_name.get(name)
        fields = _worker_fields(item)
        if row is None:
            path = f"{WORKER_PATH_PREFIX}{subtype}/{name}"
            metadata = {k: v for k, v in item.items() if k not in ("preview_image", "loaded")}
            new_rows.append(
                ModelFile(
                    endpoint=ctx.endpoint,
                    path=path,
                    folder=inventory.folder_of(path),
                    subtype=subtype,
                    name=name,
                    metadata=metadata,
                    first_seen_at=now,
                    last_seen_at=now,
                    **fields,
                )
            )
            continue
        changed = _set(row, missing_since=None, **fields)
        if changed:
            row.last_seen_at = now
            changed_rows.append(row)
            changed_fields |= changed | {"last_seen_at"}
        else:
            ctx.run.unchanged += 1
    vanished = [row.pk for row in rows if row.name not in listed and row.missing_since is None]
    with transaction.atomic():
        ModelFile.objects.bulk_create(new_rows)
        if changed_rows:
            ModelFile.objects.bulk_update(changed_rows, sorted(changed_fields))
        if vanished:
            ModelFile.objects.filter(pk__in=vanished).update(missing_since=now)
    ctx.run.added += len(new_rows)
    ctx.run.changed += len(changed_rows)
    ctx.run.missing += len(vanished)
