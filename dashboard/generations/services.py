"""Writes for generations: create, submit to RunPod, follow the job, store its images.

The database is the source of truth. Celery carries only wake-ups (submit, poll), and the reconciler
re-drives anything a lost wake-up left behind. Webhook and polling may report the same job at the
same time: `apply_job_status` serialises them on the generation's row and ignores anything that
arrives after a final state, so each image is stored exactly once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from dashboard.accounts.models import Membership
from dashboard.errors import Conflict
from dashboard.fleet.budgets import check_budget_for_new_generation
from dashboard.fleet.estimates import estimate_generation_cost
from dashboard.fleet.models import RunPodEndpoint
from dashboard.fleet.runpod_client import (
    RunPodAuthError,
    RunPodBadRequest,
    RunPodError,
    RunPodForbidden,
    RunPodNotFound,
    RunPodUnavailable,
)
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team
from dashboard.fleet.volume import VolumeError, VolumeFileMissing
from dashboard.fleet.warm_services import yield_keep_alive_worker
from dashboard.generations import validation
from dashboard.generations.images import ImageDataError, decode_base64, prepare_image
from dashboard.generations.jobs import (
    ContractError,
    ImageOutput,
    OutputError,
    generate_input,
    job_input,
    job_policy,
    parse_generate_output,
    progress_of,
    runpod_error_text,
)
from dashboard.generations.models import (
    ACTIVE_STATUSES,
    GeneratedImage,
    Generation,
    Status,
    Tag,
)
from dashboard.generations.tag_names import clean_tag_name
from dashboard.wakeups import send_wake_up, send_wake_up_on_commit

logger = logging.getLogger(__name__)

SUBMIT_TASK = "generations.submit"
POLL_TASK = "generations.poll"
# RunPod job states (runpod.md §1.4) → ours. IN_QUEUE/IN_PROGRESS are handled separately.
FINAL_RUNPOD_STATES = {
    "COMPLETED": Status.SUCCEEDED,
    "FAILED": Status.FAILED,
    "CANCELLED": Status.CANCELLED,
    "TIMED_OUT": Status.TIMED_OUT,
}


class SubmitResult(StrEnum):
    SUBMITTED = "submitted"
    RETRY = "retry"  # RunPod unreachable: try again later
    SKIPPED = "skipped"  # already submitted, cancelled, or another task is submitting it
    FAILED = "failed"  # RunPod refused it for good; the generation is marked failed


# --- wake-ups ------------------------------------------------------------------------------------


# --- create --------------------------------------------------------------------------------------
def _membership(team, user) -> Membership:
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this team.")
    return membership


def _resolve_endpoint(team, endpoint) -> RunPodEndpoint | None:
    if endpoint is None or endpoint == "":
        return default_endpoint(team)
    if isinstance(endpoint, RunPodEndpoint):
        return endpoint if endpoint.team_id == team.id else None
    return endpoint_for_team(team, endpoint)


def generation_create(
    *,
    team,
    user,
    prompt: Any,
    negative_prompt: Any = "",
    model: Any = "",
    width: Any = 1024,
    height: Any = 1024,
    steps: Any = 20,
    cfg_scale: Any = 7.0,
    seed: Any = -1,
    images: Any = 1,
    endpoint: Any = None,
    extra_params: Any = None,
    retry_of: Generation | None = None,
) -> Generation:
    """Validate, save a queued generation, and (on commit) wake a task that submits it.

    Raises ValidationError naming every bad field (nothing saved, nothing sent) or
    PermissionDenied for viewers and non-members.
    """
    if not _membership(team, user).can_generate:
        raise PermissionDenied("Viewers cannot generate images; ask a team admin for access.")
    errors: dict[str, str] = {}
    resolved = _resolve_endpoint(team, endpoint)
    if resolved is None:
        errors["endpoint"] = (
            "Unknown endpoint."
            if endpoint not in (None, "")
            else "Your team has no RunPod endpoint yet; an admin can add one."
        )
    cleaned = validation.clean_parameters(
        errors,
        team=team,
        endpoint=resolved,
        prompt=prompt,
        negative_prompt=negative_prompt,
        model=model,
        width=width,
        height=height,
        steps=steps,
        cfg_scale=cfg_scale,
        seed=seed,
        images=images,
        extra_params=extra_params,
    )
    if errors:
        raise ValidationError(errors)
    generation = Generation(team=team, user=user, endpoint=resolved, retry_of=retry_of, **cleaned)
    try:  # the worker's own contract has the last word on parameters
        generate_input(generation)
    except ContractError as exc:
        raise ValidationError(validation.contract_errors(str(exc))) from None
    with transaction.atomic():
        # Locks the team's budget row until commit: concurrent submissions cannot overspend.
        estimate = estimate_generation_cost(resolved, cleaned).cost
        check_budget_for_new_generation(team, estimate, user=user)
        generation.save()
        send_wake_up_on_commit(SUBMIT_TASK, generation.pk)
    return generation


# --- submit --------------------------------------------------------------------------------------
def _webhook_url(generation: Generation) -> str | None:
    if not settings.PUBLIC_BASE_URL:
        return None
    path = reverse("runpod-webhook", args=[generation.pk, generation.webhook_token])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _claim_for_submit(generation_id: int) -> bool:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_SUBMIT_CLAIM_SECONDS)
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.QUEUED, runpod_job_id="")
        .filter(Q(submit_claimed_at__isnull=True) | Q(submit_claimed_at__lt=stale))
        .update(submit_claimed_at=now, submit_attempts=F("submit_attempts") + 1)
    )
    return claimed == 1


def _finish(generation: Generation, status: Status, error: str = "") -> None:
    generation.status = status
    generation.error = error[:5000]
    generation.finished_at = generation.finished_at or timezone.now()


def _fail_unsubmitted(generation_id: int, error: str) -> None:
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation_id)
        if generation.status == Status.QUEUED:
            _finish(generation, Status.FAILED, error)
            generation.submit_claimed_at = None
            generation.save()


def submit_generation(*, generation_id: int) -> SubmitResult:
    """Send a queued generation to RunPod's /run, once. Safe to call twice or concurrently."""
    if not _claim_for_submit(generation_id):
        return SubmitResult.SKIPPED
    generation = Generation.objects.select_related("endpoint").get(pk=generation_id)
    endpoint = generation.endpoint
    if endpoint is None:
        _fail_unsubmitted(generation_id, "The endpoint of this generation was deleted.")
        return SubmitResult.FAILED
    try:
        accepted = endpoint.runpod_client().run(
            job_input(generation), webhook=_webhook_url(generation), policy=job_policy()
        )
    except RunPodUnavailable as exc:
        return _submit_failed_for_now(generation, exc)
    except RunPodAuthError:
        _fail_unsubmitted(
            generation_id,
            f"RunPod rejected the API key of endpoint '{endpoint.name}' (401); "
            "an admin must update it.",
        )
        return SubmitResult.FAILED
    except RunPodForbidden:
        _fail_unsubmitted(
            generation_id, f"The API key of endpoint '{endpoint.name}' may not run jobs (403)."
        )
        return SubmitResult.FAILED
    except RunPodNotFound:
        _fail_unsubmitted(
            generation_id,
            f"RunPod has no endpoint '{endpoint.endpoint_id}' (404); check the endpoint settings.",
        )
        return SubmitResult.FAILED
    except (RunPodBadRequest, RunPodError, ContractError) as exc:
        _fail_unsubmitted(generation_id, f"RunPod refused the job: {exc}")
        return SubmitResult.FAILED
    job_id = str(accepted.get("id") or "")
    if not job_id:
        _fail_unsubmitted(generation_id, f"RunPod accepted the job without an id: {accepted!r}")
        return SubmitResult.FAILED
    return _record_submission(generation_id, job_id, endpoint)


def _submit_failed_for_now(generation: Generation, exc: RunPodError) -> SubmitResult:
    # A /run whose answer was lost may have queued a job anyway; RunPod has no idempotency key,
    # so trying again can run it twice. We accept that: a lost generation is worse.
    if generation.submit_attempts >= settings.GENERATION_SUBMIT_MAX_ATTEMPTS:
        _fail_unsubmitted(
            generation.pk,
            f"Could not reach RunPod after {generation.submit_attempts} attempts: {exc.message}",
        )
        return SubmitResult.FAILED
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
        submit_claimed_at=None, error=f"Retrying: {exc.message}"[:5000]
    )
    delay = min(60.0, 2.0**generation.submit_attempts) + random.uniform(0, 1)
    send_wake_up(SUBMIT_TASK, generation.pk, countdown=delay)
    return SubmitResult.RETRY


def _record_submission(generation_id: int, job_id: str, endpoint: RunPodEndpoint) -> SubmitResult:
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation_id)
        generation.runpod_job_id = job_id
        generation.submit_claimed_at = None
        cancelled_meanwhile = generation.status == Status.CANCELLED
        if generation.status == Status.QUEUED:
            generation.status = Status.SUBMITTED
            generation.submitted_at = timezone.now()
            generation.error = ""
        generation.save()
    if cancelled_meanwhile:
        _cancel_at_runpod(endpoint, job_id)
        return SubmitResult.SKIPPED
    send_wake_up(POLL_TASK, generation_id, 0, countdown=settings.GENERATION_POLL_SCHEDULE[0])
    yield_keep_alive_worker(endpoint=endpoint, job_id=job_id)  # a busy-warm worker takes it next
    return SubmitResult.SUBMITTED


def _cancel_at_runpod(endpoint: RunPodEndpoint, job_id: str) -> dict | None:
    try:
        return endpoint.runpod_client().cancel(job_id)
    except RunPodNotFound:
        return None
    except RunPodError:
        logger.warning("could not cancel RunPod job %s on %s", job_id, endpoint)
        return None


# --- follow the job: the state machine ----------------------------------------------------------
def _as_ms(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None


def apply_job_status(*, generation_id: int, job: dict, source: str = "poll") -> Generation:
    """Move a generation along with what RunPod says about its job (a /status, /cancel or webhook
    body). Idempotent; anything arriving after a final state is ignored."""
    with transaction.atomic():
        generation = (
            Generation.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=generation_id)
        )
        if generation.is_final:
            return generation
        state = str(job.get("status", "")).upper()
        job_id = str(job.get("id") or "")
        now = timezone.now()
        generation.last_checked_at = now
        if job_id and job_id != generation.runpod_job_id:
            # The job of an earlier submission whose answer was lost. Its images are ours too, and
            # so is its end while we have no job of our own; otherwise it must not move us: a
            # failed duplicate would fail a generation whose own job may still succeed, and a
            # progress report would leave one with no job id in a state nothing ever revisits.
            adoptable = state == "COMPLETED" or (
                state in FINAL_RUNPOD_STATES and not generation.runpod_job_id
            )
            if not adoptable:
                logger.info("generation %s: %s of job %s ignored", generation.pk, state, job_id)
                return generation
            logger.info("generation %s: %s reports job %s", generation.pk, source, job_id)
            generation.runpod_job_id = job_id
        generation.delay_ms = _as_ms(job.get("delayTime")) or generation.delay_ms
        generation.execution_ms = _as_ms(job.get("executionTime")) or generation.execution_ms
        generation.worker_id = str(job.get("workerId") or generation.worker_id)
        if state == "IN_QUEUE" and generation.status == Status.QUEUED:
            generation.status = Status.SUBMITTED
            generation.submitted_at = generation.submitted_at or now
        elif state in ("IN_PROGRESS", "RUNNING"):
            generation.status = Status.RUNNING
            generation.started_at = generation.started_at or now
            progress, percent = progress_of(job.get("output"))
            if progress:
                generation.progress = progress
                generation.progress_percent = percent
        elif state == "COMPLETED":
            _complete(generation, job.get("output"))
        elif state == "FAILED":
            _finish(generation, Status.FAILED, runpod_error_text(job.get("error")))
        elif state == "CANCELLED":
            _finish(generation, Status.CANCELLED)
        elif state == "TIMED_OUT":
            last_report = progress_of(job.get("output"))[0] or generation.progress
            _finish(generation, Status.TIMED_OUT, _timed_out_text(last_report))
        if generation.is_final:
            generation.cost = (
                generation.endpoint.cost_of(generation.execution_ms)
                if generation.endpoint
                else None
            )
        generation.save()
    return generation


def _timed_out_text(last_report: dict) -> str:
    """Why RunPod gave up, with what the worker last said it was doing (e.g. waiting for a
    backend that never came up): a bare "timed out" tells nobody what to fix."""
    text = (
        "RunPod timed the job out: no worker took it in time, or it ran past its execution timeout."
    )
    stage, message = last_report.get("stage"), last_report.get("message")
    if stage:
        text += f" The worker's last report: {stage}" + (f" ({message})." if message else ".")
    return text


def _complete(generation: Generation, output: Any) -> None:
    """Store every image; succeed, fail for good, or stay running to try again (volume down)."""
    generation.started_at = generation.started_at or timezone.now()
    try:
        ingest_outputs(generation=generation, output=output)
    except OutputError as exc:
        _finish(generation, Status.FAILED, str(exc))
        return
    except VolumeError as exc:
        logger.warning("generation %s: images not stored yet: %s", generation.pk, exc)
        generation.status = Status.RUNNING
        generation.progress = {"stage": "saving", "message": f"Retrying storage: {exc}"}
        return
    generation.progress = {**(generation.progress or {}), "stage": "done"}
    generation.progress_percent = 100
    _finish(generation, Status.SUCCEEDED)


# --- outputs -------------------------------------------------------------------------------------
def ingest_outputs(*, generation: Generation, output: Any) -> int:
    """Copy the job's images into our storage, each exactly once; returns how many were new.

    Raises OutputError when the output can never be stored, VolumeError when reading the volume
    failed for now (a later call continues where this one stopped).
    """
    parsed = parse_generate_output(output)
    if not parsed.images:
        raise OutputError("The worker finished without returning any image.")
    stored = set(generation.images.values_list("index", flat=True))
    added = 0
    for index, item in enumerate(parsed.images):
        if index in stored:
            continue
        try:
            prepared = prepare_image(
                _image_bytes(generation, item), thumbnail_size=settings.THUMBNAIL_SIZE
            )
        except ImageDataError as exc:
            raise OutputError(f"Image {index + 1}: {exc}") from exc
        added += _store_image(generation, index, item, prepared)
    return added


def _image_bytes(generation: Generation, item: ImageOutput) -> bytes:
    if item.type == "base64":
        if not item.data:
            raise OutputError(f"The worker sent '{item.filename}' inline but without its data.")
        try:
            return decode_base64(item.data)
        except ImageDataError as exc:
            raise OutputError(f"'{item.filename}': {exc}") from exc
    endpoint = generation.endpoint
    if endpoint is None or not endpoint.has_volume_access:
        raise OutputError(
            f"The worker stored '{item.filename}' on the {item.type}, but the endpoint has no S3 "
            "credentials to fetch it; an admin can add them in the endpoint settings."
        )
    location = item.path if item.type == "volume" else item.key
    if not location:
        raise OutputError(f"The worker did not say where it stored '{item.filename}'.")
    bucket = item.bucket if item.type == "bucket" else None
    try:
        return endpoint.volume_reader().read(location, bucket=bucket)
    except VolumeFileMissing as exc:
        raise OutputError(str(exc)) from exc


def _store_image(generation: Generation, index: int, item: ImageOutput, prepared) -> int:
    image = GeneratedImage(
        generation=generation,
        index=index,
        filename=item.filename[:300],
        mime=prepared.mime,
        width=prepared.width,
        height=prepared.height,
        bytes=len(prepared.content),
        sha256=prepared.sha256,
        seed=item.seed,
        metadata=item.metadata or prepared.embedded_metadata,
    )
    _save_file(image.file, image, f"{index}.{prepared.extension}", prepared.content)
    _save_file(image.thumbnail, image, f"{index}-thumb.webp", prepared.thumbnail)
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        # Stored meanwhile by a concurrent ingester (SQLite has no row locks): keep theirs.
        kept = GeneratedImage.objects.filter(generation=generation, index=index)
        kept_names = set(kept.values_list("file", "thumbnail").first() or ())
        for field_file in (image.file, image.thumbnail):
            if field_file.name not in kept_names:
                field_file.delete(save=False)
        return 0
    return 1


def _save_file(field_file, image: GeneratedImage, name: str, content: bytes) -> None:
    """Store under the image's own name. Files are written before their row commits, so a worker
    killed in between leaves a file no row points at; no row holds this index yet (we hold the
    generation's lock), so a file at that name is such a leftover and is replaced, not kept beside
    a second copy under another name."""
    target = field_file.field.generate_filename(image, name)
    if field_file.storage.exists(target):
        field_file.storage.delete(target)
    field_file.save(name, ContentFile(content), save=False)


# --- polling -------------------------------------------------------------------------------------
def refresh_generation(*, generation_id: int) -> Generation | None:
    """Ask RunPod about the job once and apply the answer."""
    generation = Generation.objects.select_related("endpoint").filter(pk=generation_id).first()
    if generation is None:  # deleted meanwhile; a late wake-up has nothing to do
        return None
    if generation.is_final or not generation.runpod_job_id or generation.endpoint is None:
        return generation
    try:
        job = generation.endpoint.runpod_client().status(generation.runpod_job_id)
    except RunPodNotFound:
        return _give_up(
            generation_id,
            Status.TIMED_OUT,
            "RunPod no longer knows this job: its result expired or its time to live ran out.",
        )
    except (RunPodAuthError, RunPodForbidden):
        return _give_up(
            generation_id,
            Status.FAILED,
            "RunPod rejected the endpoint's API key while following the job; "
            "an admin must update it.",
        )
    except RunPodError as exc:
        logger.warning("generation %s: status check failed: %s", generation_id, exc)
        Generation.objects.filter(pk=generation_id).update(last_checked_at=timezone.now())
        return _expire_if_overdue(generation)
    return apply_job_status(generation_id=generation_id, job=job, source="poll")


def _give_up(generation_id: int, status: Status, error: str) -> Generation:
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation_id)
        if not generation.is_final:
            _finish(generation, status, error)
            generation.last_checked_at = timezone.now()
            generation.save()
    return generation


def _expire_if_overdue(generation: Generation) -> Generation:
    """RunPod deletes a job once its TTL has passed; past that we stop waiting for it."""
    started = generation.submitted_at or generation.created_at
    deadline = started + timedelta(milliseconds=settings.GENERATION_TTL_MS) + timedelta(minutes=5)
    if timezone.now() > deadline:
        return _give_up(
            generation.pk, Status.TIMED_OUT, "No final answer from RunPod within the job's TTL."
        )
    return generation


def poll_generation(*, generation_id: int, attempt: int = 0) -> Generation | None:
    """One poll, then the next one scheduled (fast at first, backing off) unless it is final."""
    generation = refresh_generation(generation_id=generation_id)
    if generation is None:
        return None
    if not generation.is_final and generation.runpod_job_id:
        schedule = settings.GENERATION_POLL_SCHEDULE
        countdown = schedule[min(attempt + 1, len(schedule) - 1)]
        send_wake_up(POLL_TASK, generation_id, attempt + 1, countdown=countdown)
    return generation


# --- actions people take -------------------------------------------------------------------------
def _require_actor(generation: Generation, user) -> Membership:
    membership = _membership(generation.team, user)
    if not membership.can_generate:
        raise PermissionDenied("Viewers cannot change generations.")
    if generation.user_id != user.pk and not membership.can_manage:
        raise PermissionDenied("Only its author or a team admin can do that.")
    return membership


def generation_cancel(*, generation: Generation, user) -> Generation:
    """Stop a generation that has not finished: at RunPod if it has a job, else before it has."""
    _require_actor(generation, user)
    return _cancel(generation)


def _cancel(generation: Generation) -> Generation:
    """generation_cancel once the user is known to be allowed."""
    if generation.is_final:
        raise Conflict(f"The generation has already {generation.get_status_display().lower()}.")
    if generation.runpod_job_id and generation.endpoint is not None:
        try:
            answer = generation.endpoint.runpod_client().cancel(generation.runpod_job_id)
        except RunPodNotFound:
            answer = {"status": "CANCELLED"}
        if str(answer.get("status", "")).upper() not in FINAL_RUNPOD_STATES:
            answer = {**answer, "status": "CANCELLED"}
        return apply_job_status(generation_id=generation.pk, job=answer, source="cancel")
    # Not at RunPod yet; a submit in flight sees CANCELLED and cancels what it created.
    return _give_up(generation.pk, Status.CANCELLED, "")


# RunPod errors that say the endpoint cannot be used now (down, rate limited, key refused), not
# that one job cannot be cancelled: its other generations are not sent, since each would only wait
# out the same timeouts and retries (up to RUNPOD_TIMEOUT_SECONDS * (RUNPOD_RETRIES + 1) apiece).
ENDPOINT_FAILURES = (RunPodUnavailable, RunPodAuthError, RunPodForbidden)


@dataclass(frozen=True)
class CancelFailure:
    generation_id: int
    status: str  # unchanged: the generation stays as it was
    error: str


@dataclass
class CancelReport:
    """What cancelling many generations did, generation by generation."""

    cancelled: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)  # already final: left as they were
    failed: list[CancelFailure] = field(default_factory=list)  # RunPod could not cancel them
    kept: list[int] = field(default_factory=list)  # left running on purpose (keep the newest)


def generations_cancel(*, generations, user) -> CancelReport:
    """Cancel every generation of one team that has not finished; finished ones are skipped.

    Members cancel their own, owners and admins any; one the user may not cancel refuses the
    whole request (PermissionDenied, nothing cancelled). RunPod failing for one generation leaves
    it as it was, reported in `failed`, and the others go on.
    """
    generations, membership = _curated_team(generations, user)
    report = CancelReport()
    if membership is None:
        return report
    if not membership.can_generate:
        raise PermissionDenied("Viewers cannot change generations.")
    others = sum(1 for generation in generations if generation.user_id != user.pk)
    if others and not membership.can_manage:
        raise PermissionDenied(
            "Only its author or a team admin can do that."
            if len(generations) == 1
            else f"{others} of the selected generations {'is' if others == 1 else 'are'} someone "
            "else's; only their author or a team admin can cancel them."
        )
    # Fresh rows (a webhook may have finished some meanwhile), newest first: cancelling an older
    # job frees a worker, which would otherwise start a newer one we are about to cancel.
    ids = sorted({generation.pk for generation in generations}, reverse=True)
    fresh = Generation.objects.select_related("endpoint").in_bulk(ids)
    unusable: dict[int, str] = {}  # endpoint id → why RunPod cannot be used now
    for generation_id in ids:
        generation = fresh.get(generation_id)
        if generation is None or generation.is_final:  # (deleted: it had finished)
            report.finished.append(generation_id)
            continue
        if generation.runpod_job_id and generation.endpoint_id in unusable:
            error = unusable[generation.endpoint_id]
            report.failed.append(CancelFailure(generation.pk, generation.status, error))
            continue
        try:
            outcome = _cancel(generation)  # allowed: checked for the whole batch above
        except (Conflict, Generation.DoesNotExist):  # finished (and deleted) while we went on
            report.finished.append(generation.pk)
            continue
        except RunPodError as exc:
            logger.warning("generation %s: RunPod could not cancel it: %s", generation.pk, exc)
            report.failed.append(CancelFailure(generation.pk, generation.status, exc.message))
            if isinstance(exc, ENDPOINT_FAILURES):
                unusable[generation.endpoint_id] = exc.message
            continue
        # RunPod may answer that the job completed or failed before the cancel reached it.
        done = report.cancelled if outcome.status == Status.CANCELLED else report.finished
        done.append(generation.pk)
    return report


def generations_cancel_mine(*, team, user, keep_newest: bool = False) -> CancelReport:
    """Cancel every unfinished generation of `user` in `team` ("cancel all my running");
    with `keep_newest`, all but the newest of them."""
    if not _membership(team, user).can_generate:
        raise PermissionDenied("Viewers cannot change generations.")
    mine = Generation.objects.filter(team=team, user=user, status__in=ACTIVE_STATUSES)
    unfinished = list(mine.order_by("-pk"))
    kept = unfinished[:1] if keep_newest else []
    report = generations_cancel(generations=unfinished[len(kept) :], user=user)
    report.kept = [generation.pk for generation in kept]
    return report


def generation_retry(*, generation: Generation, user) -> Generation:
    """A new generation with the same parameters (RunPod's own /retry keeps results 30 min only)."""
    if generation.status in ACTIVE_STATUSES:
        raise Conflict("The generation is still running; cancel it or wait for it to finish.")
    return generation_create(
        team=generation.team,
        user=user,
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        model=generation.model,
        width=generation.width,
        height=generation.height,
        steps=generation.steps,
        cfg_scale=generation.cfg_scale,
        seed=generation.seed,
        images=generation.image_count,
        endpoint=generation.endpoint or None,
        extra_params=generation.extra_params,
        retry_of=generation,
    )


def generation_delete(*, generation: Generation, user) -> None:
    """Delete a finished generation and its image files."""
    generations_delete(generations=[generation], user=user)


# --- curation: stars, tags, bulk delete ----------------------------------------------------------
MAX_TAGS_PER_CALL = 20


def _curated_team(generations, user) -> tuple[list[Generation], Membership | None]:
    """The generations and the user's membership of their one team.

    Generations of a team the user is not in, or of several teams at once, do not exist for
    this user: nothing acts across teams.
    """
    generations = list(generations)
    if not generations:
        return [], None
    team_ids = {generation.team_id for generation in generations}
    membership = (
        Membership.objects.filter(team_id=team_ids.pop(), user=user).first()
        if len(team_ids) == 1
        else None
    )
    if membership is None:
        raise Generation.DoesNotExist("No such generation.")
    return generations, membership


def _require_curator(generations, user) -> list[Generation]:
    generations, membership = _curated_team(generations, user)
    if membership is not None and not membership.can_generate:
        raise PermissionDenied("Viewers cannot change the history; ask a team admin for access.")
    return generations


def generations_set_starred(*, generations, user, starred: bool) -> int:
    """Star or unstar generations of one team; returns how many rows were updated."""
    generations = _require_curator(generations, user)
    if not generations:
        return 0
    ids = [generation.pk for generation in generations]
    return Generation.objects.filter(pk__in=ids).update(starred=bool(starred))


def _clean_tag_names(names: Any) -> list[str]:
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise ValidationError({"tags": "Give at least one tag name."})
    if len(names) > MAX_TAGS_PER_CALL:
        raise ValidationError({"tags": f"Add at most {MAX_TAGS_PER_CALL} tags at once."})
    cleaned: dict[str, str] = {}
    for name in names:
        try:
            name = clean_tag_name(name)
        except ValueError as exc:
            raise ValidationError({"tags": str(exc)}) from None
        cleaned.setdefault(name.casefold(), name)
    return list(cleaned.values())


def _team_tags(team_id: int, names: list[str]) -> list[Tag]:
    """The team's tags with these names (ignoring case), creating the missing ones."""
    same_name = Q()
    for name in names:
        same_name |= Q(name__iexact=name)
    # ignore_conflicts: a tag created meanwhile by someone else is simply the one we use.
    Tag.objects.bulk_create(
        [Tag(team_id=team_id, name=name) for name in names], ignore_conflicts=True
    )
    found = {tag.name.casefold(): tag for tag in Tag.objects.filter(same_name, team_id=team_id)}
    return [found[name.casefold()] for name in names if name.casefold() in found]


def generations_add_tags(*, generations, names: list[str], user) -> list[Tag]:
    """Tag generations of one team, creating the team's missing tags; returns the tags."""
    cleaned = _clean_tag_names(names)
    generations = _require_curator(generations, user)
    if not generations:
        return []
    with transaction.atomic():
        tags = _team_tags(generations[0].team_id, cleaned)
        through = Generation.tags.through
        through.objects.bulk_create(
            [
                through(generation_id=generation.pk, tag_id=tag.pk)
                for generation in generations
                for tag in tags
            ],
            ignore_conflicts=True,
        )
    return tags


def generations_remove_tag(*, generations, name: str, user) -> int:
    """Untag generations of one team; returns how many lost the tag (0 if no such tag)."""
    cleaned = _clean_tag_names([name])[0]
    generations = _require_curator(generations, user)
    if not generations:
        return 0
    deleted, _ = Generation.tags.through.objects.filter(
        generation_id__in=[generation.pk for generation in generations],
        tag__team_id=generations[0].team_id,
        tag__name__iexact=cleaned,
    ).delete()
    return deleted


def generations_delete(*, generations, user) -> int:
    """Delete finished generations of one team with their image files; returns how many.

    Members delete their own, owners and admins any. Checks every generation before deleting
    any: a running one is a Conflict (cancel it first), nothing is deleted.
    """
    generations, membership = _curated_team(generations, user)
    if membership is None:
        return 0
    if not membership.can_generate:
        raise PermissionDenied("Viewers cannot change generations.")
    if not membership.can_manage and any(g.user_id != user.pk for g in generations):
        raise PermissionDenied("Only its author or a team admin can do that.")
    running = sum(1 for generation in generations if generation.status in ACTIVE_STATUSES)
    if running:
        raise Conflict(
            "The generation is still running; cancel it first."
            if len(generations) == 1
            else f"{running} of the selected generations are still running; cancel them first."
        )
    ids = [generation.pk for generation in generations]
    with transaction.atomic():
        files = [
            field_file
            for image in GeneratedImage.objects.filter(generation_id__in=ids)
            for field_file in (image.file, image.thumbnail)
            if field_file
        ]
        Generation.objects.filter(pk__in=ids).delete()
    # Files go once their rows are gone: a failed delete leaves rows pointing at real files.
    for field_file in files:
        try:
            field_file.storage.delete(field_file.name)
        except Exception:  # each storage backend raises its own errors (OSError, botocore's)
            logger.warning("could not delete stored file %s", field_file.name, exc_info=True)
    return len(ids)


# --- the reconciler ------------------------------------------------------------------------------
def reconcile_generations() -> dict[str, int]:
    """Re-drive every non-final generation nothing has looked at lately (lost wake-ups,
    restarts, a Redis that lost its queue). Safe to run any time."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_STALE_SECONDS)
    claim_expired = now - timedelta(seconds=settings.GENERATION_SUBMIT_CLAIM_SECONDS)
    unsubmitted = Generation.objects.filter(
        status=Status.QUEUED, runpod_job_id="", created_at__lt=stale
    ).filter(Q(submit_claimed_at__isnull=True) | Q(submit_claimed_at__lt=claim_expired))
    resubmitted = 0
    for generation_id in unsubmitted.values_list("pk", flat=True):
        send_wake_up(SUBMIT_TASK, generation_id)
        resubmitted += 1
    unfollowed = Generation.objects.filter(status__in=ACTIVE_STATUSES).exclude(runpod_job_id="")
    unfollowed = unfollowed.filter(
        Q(last_checked_at__lt=stale) | Q(last_checked_at__isnull=True, created_at__lt=stale)
    )
    polled = 0
    resume_at = len(settings.GENERATION_POLL_SCHEDULE) - 1
    for generation_id in unfollowed.values_list("pk", flat=True):
        send_wake_up(POLL_TASK, generation_id, resume_at)
        polled += 1
    return {"resubmitted": resubmitted, "polled": polled}
