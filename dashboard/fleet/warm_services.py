"""Warm pools: schedules (validated), applying them to RunPod, keep-alive mode, actions, warm-ups.

`warm_pool_apply` runs every minute (Celery beat) and after every change. It compares the desired
warm workers (warm_pools.py) with what RunPod reports and sets `workers.min` through REST v2
(runpod.md §5.2), remembering the value to restore in the database — written before the PATCH,
so a crash right after it still knows it. Safe to run twice, concurrently or after a restart:
each run re-reads RunPod and plans from the difference (warm_pools.plan_min_workers).

API keys without endpoint-management scope get 403 from REST v2; the same schedules then run in
keep-alive mode: bounded `keep_alive` jobs keep the desired number of workers busy-warm, and a
generation that finds no idle worker takes over the worker of one of them (yield_keep_alive_worker).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import ValidationError as PydanticValidationError

from dashboard.accounts.models import Membership
from dashboard.fleet.models import RunPodEndpoint, WarmMode, WarmSchedule, WarmState, WarmupRun
from dashboard.fleet.runpod_client import (
    RunPodAuthError,
    RunPodBadRequest,
    RunPodClient,
    RunPodError,
    RunPodForbidden,
    RunPodNotFound,
)
from dashboard.fleet.warm_pools import (
    Desired,
    KeepAliveJob,
    UnknownTimeZone,
    Window,
    check_window,
    cost_per_hour,
    desired_workers,
    keep_alive_jobs_to_yield,
    next_opening,
    open_windows,
    overlapping,
    plan_keep_alive,
    plan_min_workers,
    window_closes_at,
    zone_of,
)
from dashboard.generations.jobs import runpod_error_text
from dashboard.wakeups import send_wake_up_on_commit
from worker.contract import KeepAliveInput, WarmupInput, WarmupOutput, format_validation_error

logger = logging.getLogger(__name__)

APPLY_ONE_TASK = "fleet.apply_warm_pool"
FOLLOW_WARMUP_TASK = "fleet.follow_warmup"
SCHEDULE_FIELDS = ("name", "weekdays", "start_time", "end_time", "warm_workers", "enabled")
# After a 403, try endpoint management again after this long (or as soon as the endpoint is
# edited, e.g. given a new key): a key's scope can be widened on RunPod.
MANAGEMENT_RECHECK = timedelta(hours=1)
KEEP_WARM_MAX_MINUTES = 12 * 60
KEEP_ALIVE_PING_SECONDS = 10
# Key of a keep_alive record entry cancelled so that a generation takes its worker: the
# generation's RunPod job id, followed instead of the cancelled job until it ends.
YIELDED_TO = "yielded_to"
# A warm-up still queued or running this long after it was sent is not sent again; after
# WARMUP_GIVE_UP without a final state it is marked failed.
WARMUP_ACTIVE_FOR = timedelta(minutes=15)
WARMUP_GIVE_UP = timedelta(minutes=30)
WARMUP_POLICY = {"executionTimeout": 600_000, "ttl": 1_800_000}
WARMUP_FOLLOW_SCHEDULE = (3, 5, 10, 15, 30)  # seconds between checks (the last repeats)
FAILED_JOB_STATES = ("FAILED", "CANCELLED", "TIMED_OUT")


class WarmupStatus:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ACTIVE = (QUEUED, RUNNING)


# --- plumbing ------------------------------------------------------------------------------------


def _require_manager(by: Membership | None, team_id: int) -> None:
    if by is not None and (by.team_id != team_id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins manage warm pools.")


def _interval() -> timedelta:
    return timedelta(seconds=settings.WARM_POOL_INTERVAL_SECONDS)


def _lead() -> timedelta:
    return timedelta(seconds=settings.WARM_POOL_LEAD_SECONDS)


def warm_state(endpoint: RunPodEndpoint) -> WarmState:
    state, _ = WarmState.objects.get_or_create(endpoint=endpoint)
    return state


def _update_state(endpoint_id: int, **fields: Any) -> None:
    """Write only these fields: concurrent runs never undo each other's other fields."""
    WarmState.objects.filter(endpoint_id=endpoint_id).update(**fields)


def _windows(endpoint: RunPodEndpoint) -> list[Window]:
    return [Window.of(s) for s in endpoint.warm_schedules.filter(enabled=True)]


# --- schedules -----------------------------------------------------------------------------------


def schedule_create(*, endpoint: RunPodEndpoint, by: Membership | None, **fields) -> WarmSchedule:
    """A new warm window for `endpoint`. Raises ValidationError naming each bad field."""
    _require_manager(by, endpoint.team_id)
    schedule = WarmSchedule(endpoint=endpoint, created_by=by.user if by else None)
    _assign(schedule, fields)
    return _save_schedule(schedule)


def schedule_update(*, schedule: WarmSchedule, by: Membership | None, **fields) -> WarmSchedule:
    _require_manager(by, schedule.endpoint.team_id)
    _assign(schedule, fields)
    return _save_schedule(schedule)


def schedule_delete(*, schedule: WarmSchedule, by: Membership | None) -> None:
    """Delete a window; the next apply (sent on commit) restores workers.min if it was open."""
    _require_manager(by, schedule.endpoint.team_id)
    endpoint_id = schedule.endpoint_id
    with transaction.atomic():
        schedule.delete()
        send_wake_up_on_commit(APPLY_ONE_TASK, endpoint_id)


def _assign(schedule: WarmSchedule, fields: dict) -> None:
    for name, value in fields.items():
        if name not in SCHEDULE_FIELDS:
            raise TypeError(f"unexpected warm schedule field {name!r}")
        setattr(schedule, name, value)


def _as_time(value: Any) -> Any:
    """A time from a time or an 'HH:MM[:SS]' string; anything else is left for check_window."""
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(microsecond=0)
    return None


def _save_schedule(schedule: WarmSchedule) -> WarmSchedule:
    errors: dict[str, str] = {}
    schedule.name = str(schedule.name or "").strip()
    if len(schedule.name) > 100:
        errors["name"] = "At most 100 characters."
    start, end = _as_time(schedule.start_time), _as_time(schedule.end_time)
    weekdays = schedule.weekdays
    if isinstance(weekdays, list | tuple | set) and all(
        isinstance(day, int) and not isinstance(day, bool) for day in weekdays
    ):
        weekdays = sorted(set(weekdays))
    errors.update(
        check_window(
            weekdays=weekdays,
            start=start,
            end=end,
            workers=schedule.warm_workers,
            max_workers=settings.WARM_POOL_MAX_WORKERS,
        )
    )
    endpoint = schedule.endpoint
    try:
        zone_of(endpoint.team.time_zone)
    except UnknownTimeZone as exc:
        errors["time_zone"] = f"{exc} Set the team's time zone first."
    if errors:
        raise ValidationError(errors)
    schedule.weekdays, schedule.start_time, schedule.end_time = weekdays, start, end
    schedule.enabled = bool(schedule.enabled)
    with transaction.atomic():
        # One writer per endpoint at a time, so two overlapping windows cannot both pass.
        RunPodEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if schedule.enabled:
            others = WarmSchedule.objects.filter(endpoint=endpoint, enabled=True)
            clash = overlapping(Window.of(schedule), map(Window.of, others.exclude(pk=schedule.pk)))
            if clash:
                other = clash[0]
                label = f"'{other.name}' " if other.name else ""
                raise ValidationError(
                    {
                        "start_time": f"This window overlaps the schedule {label}"
                        f"({other.describe()}). Windows of one endpoint may not overlap: "
                        "change one of them, or raise its number of warm workers."
                    }
                )
        schedule.save()
        send_wake_up_on_commit(APPLY_ONE_TASK, endpoint.pk)
    return schedule


# --- apply ---------------------------------------------------------------------------------------


@dataclass
class ApplyOutcome:
    """What one run did for one endpoint (for logs, tasks and tests)."""

    endpoint_id: int
    mode: str = WarmMode.MIN_WORKERS
    desired: int = 0
    patched_to: int | None = None
    keep_alive_submitted: int = 0
    keep_alive_cancelled: int = 0
    warmup: WarmupRun | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)


def warm_pools_apply_all(*, now: datetime | None = None) -> list[ApplyOutcome]:
    """Apply every endpoint that has warm schedules or warm state; then follow warm-ups."""
    now = now or timezone.now()
    endpoint_ids = (
        RunPodEndpoint.objects.filter(Q(warm_schedules__isnull=False) | Q(warm_state__isnull=False))
        .distinct()
        .values_list("pk", flat=True)
    )
    outcomes = []
    for endpoint_id in endpoint_ids:
        endpoint = RunPodEndpoint.objects.select_related("team").get(pk=endpoint_id)
        try:
            outcomes.append(warm_pool_apply(endpoint=endpoint, now=now))
        except Exception:  # one broken endpoint must not stop the others; logged with context
            logger.exception("warm pool of endpoint %s could not be applied", endpoint_id)
    warmups_follow_unfinished(now=now)
    return outcomes


def warm_pool_apply(*, endpoint: RunPodEndpoint, now: datetime | None = None) -> ApplyOutcome:
    """Make RunPod match the desired warm workers of `endpoint` at `now`. RunPod errors are
    recorded on the warm state (shown on the page), not raised."""
    now = now or timezone.now()
    state = warm_state(endpoint)
    outcome = ApplyOutcome(endpoint_id=endpoint.pk, mode=state.mode)
    try:
        zone = zone_of(endpoint.team.time_zone)
    except UnknownTimeZone as exc:
        outcome.error = f"{exc} Warm schedules are paused until the team's time zone is fixed."
        _update_state(endpoint.pk, last_error=outcome.error, last_checked_at=now)
        return outcome
    desired = _desired(endpoint, state, zone, now)
    outcome.desired = desired.workers
    if not desired.warm and state.applied_min is None and not state.keep_alive_jobs:
        # Cold, and nothing of ours to undo at RunPod: no call at all.
        _update_state(
            endpoint.pk, desired_workers=0, last_checked_at=now, last_error="", observed={}
        )
        return outcome
    opening = desired.warm and state.desired_workers == 0
    client = endpoint.runpod_client()

    mode = WarmMode.KEEP_ALIVE
    warm_target = desired.workers
    if _may_manage(state, endpoint, now):
        try:
            plan = _apply_min_workers(endpoint, client, desired.workers, now)
        except RunPodForbidden:
            _enter_keep_alive(endpoint, state, now)
            outcome.notes.append("RunPod refused endpoint management (403): keep-alive mode")
        except RunPodError as exc:
            return _failed(outcome, endpoint, now, f"RunPod could not be asked: {exc.message}")
        else:
            mode = WarmMode.MIN_WORKERS
            outcome.patched_to = plan.patch_to
            warm_target = plan.applied or 0
    outcome.mode = mode

    if opening and warm_target > 0:
        trigger = "keep_warm" if desired.kept_warm else "window"
        outcome.warmup = warmup_start(endpoint=endpoint, trigger=trigger, now=now)
    state.refresh_from_db()
    if mode == WarmMode.KEEP_ALIVE or state.keep_alive_jobs:
        keep_alive_desired = desired.workers if mode == WarmMode.KEEP_ALIVE else 0
        try:
            submitted, cancelled = _apply_keep_alive(endpoint, client, keep_alive_desired, now)
        except RunPodError as exc:
            return _failed(outcome, endpoint, now, f"keep-alive jobs failed: {exc.message}")
        outcome.keep_alive_submitted, outcome.keep_alive_cancelled = submitted, cancelled

    observed = _observe(client, state.observed)
    _update_state(
        endpoint.pk,
        mode=mode,
        desired_workers=desired.workers,
        last_checked_at=now,
        last_error="",
        observed=observed,
    )
    return outcome


def _desired(endpoint: RunPodEndpoint, state: WarmState, zone, now: datetime) -> Desired:
    return desired_workers(
        _windows(endpoint),
        zone,
        now,
        lead=_lead(),
        override_until=state.keep_warm_until,
        override_workers=state.keep_warm_workers,
    )


def _failed(outcome: ApplyOutcome, endpoint, now: datetime, message: str) -> ApplyOutcome:
    logger.warning("warm pool of endpoint %s: %s", endpoint.pk, message)
    outcome.error = message
    _update_state(endpoint.pk, last_error=message, last_checked_at=now)
    return outcome


def _may_manage(state: WarmState, endpoint: RunPodEndpoint, now: datetime) -> bool:
    forbidden_at = state.management_forbidden_at
    if state.mode != WarmMode.KEEP_ALIVE or forbidden_at is None:
        return True
    return now - forbidden_at >= MANAGEMENT_RECHECK or endpoint.updated_at > forbidden_at


def _enter_keep_alive(endpoint: RunPodEndpoint, state: WarmState, now: datetime) -> None:
    notice = ""
    if state.applied_min is not None and state.applied_min != state.baseline_min:
        notice = (
            f"SwarmDeck had raised workers.min to {state.applied_min} but may no longer manage "
            f"the endpoint, so it cannot restore {state.baseline_min}: set it on RunPod by hand."
        )
    logger.info("warm pool of endpoint %s: management refused (403), keep-alive mode", endpoint.pk)
    _update_state(
        endpoint.pk,
        mode=WarmMode.KEEP_ALIVE,
        management_forbidden_at=now,
        notice=notice,
    )


def _apply_min_workers(endpoint: RunPodEndpoint, client: RunPodClient, desired: int, now):
    """Read workers.min/max, plan, record the plan, PATCH, record the result."""
    workers = client.get_endpoint().get("workers") or {}
    actual_min = int(workers.get("min") or 0)
    actual_max = int(workers.get("max") if workers.get("max") is not None else actual_min)
    with transaction.atomic():
        state = WarmState.objects.select_for_update().get(endpoint=endpoint)
        before = (state.applied_min, state.baseline_min)
        plan = plan_min_workers(
            applied=state.applied_min,
            baseline=state.baseline_min,
            actual_min=actual_min,
            actual_max=actual_max,
            desired=desired,
        )
        if plan.write_ahead:
            state.applied_min, state.baseline_min = plan.applied, plan.baseline
            state.save(update_fields=["applied_min", "baseline_min"])
    if plan.patch_to is not None:
        try:
            client.update_endpoint({"workers": {"min": plan.patch_to}})
        except (RunPodBadRequest, RunPodForbidden, RunPodNotFound, RunPodAuthError):
            if plan.write_ahead:  # refused for sure: nothing changed at RunPod
                WarmState.objects.filter(
                    endpoint=endpoint, applied_min=plan.applied, baseline_min=plan.baseline
                ).update(applied_min=before[0], baseline_min=before[1])
            raise
        logger.info(
            "warm pool of endpoint %s: workers.min %s -> %s (desired %s)",
            endpoint.pk,
            actual_min,
            plan.patch_to,
            desired,
        )
    with transaction.atomic():
        state = WarmState.objects.select_for_update().get(endpoint=endpoint)
        state.applied_min, state.baseline_min = plan.applied, plan.baseline
        state.notice = plan.notice
        state.mode = WarmMode.MIN_WORKERS
        state.management_forbidden_at = None
        fields = ["applied_min", "baseline_min", "notice", "mode", "management_forbidden_at"]
        if plan.patch_to is not None:
            state.last_applied_at = now
            fields.append("last_applied_at")
        state.save(update_fields=fields)
    return plan


def _observe(client: RunPodClient, previous: dict) -> dict:
    """Worker counts from /health (the job API: read-only keys may use it too)."""
    try:
        workers = client.health().get("workers") or {}
    except RunPodError as exc:
        return {**previous, "error": exc.message}
    return {
        "idle": int(workers.get("idle") or 0),
        "running": int(workers.get("running") or 0),
        "initializing": int(workers.get("initializing") or 0),
        "throttled": int(workers.get("throttled") or 0),
        "unhealthy": int(workers.get("unhealthy") or 0),
    }


# --- keep-alive mode -----------------------------------------------------------------------------


def keep_alive_seconds() -> int:
    """How long one keep_alive job runs: until the next tick plus a margin, never longer."""
    return settings.WARM_POOL_INTERVAL_SECONDS + settings.WARM_KEEP_ALIVE_MARGIN_SECONDS


def _apply_keep_alive(endpoint, client: RunPodClient, desired: int, now: datetime):
    """Follow our keep_alive jobs, cancel the ones not wanted, send the ones missing."""
    tracked = list(warm_state(endpoint).keep_alive_jobs)
    jobs: list[KeepAliveJob] = []
    kept: list[dict] = []
    busy_generations = 0
    for entry in tracked:
        if entry.get(YIELDED_TO):
            # Cancelled for a generation: that generation keeps the worker busy while it runs.
            if desired > 0 and _generation_still_on_its_way(client, entry, now):
                busy_generations += 1
                kept.append(entry)
            continue
        job = _keep_alive_job(client, entry, now)
        if job is not None:
            jobs.append(job)
            kept.append(entry)
    # A warm-up on its way keeps a worker busy too: successors can follow it on that worker.
    warmups = WarmupRun.objects.filter(
        endpoint=endpoint, status__in=WarmupStatus.ACTIVE, created_at__gt=now - WARMUP_ACTIVE_FOR
    ).values_list("pk", flat=True)
    busy_warmups = sum(
        1
        for run_id in warmups
        if warmup_refresh(run_id=run_id, now=now).status in WarmupStatus.ACTIVE
    )
    plan = plan_keep_alive(
        jobs,
        desired=desired,
        now=now,
        interval=_interval(),
        other_busy=busy_warmups + busy_generations,
    )
    for job_id in plan.cancel:
        with contextlib.suppress(RunPodNotFound):  # already gone
            client.cancel(job_id)
        kept = [entry for entry in kept if entry["id"] != job_id]
    submitted = []
    for low_priority in [False] * plan.submit_normal + [True] * plan.submit_low:
        submitted.append(_submit_keep_alive(client, now, low_priority=low_priority))
        # Recorded one by one: a failure after the first still remembers what was sent.
        _record_keep_alive_jobs(endpoint, tracked=tracked, kept=kept, submitted=submitted)
    if not submitted:  # (otherwise the loop's last write was this one)
        _record_keep_alive_jobs(endpoint, tracked=tracked, kept=kept, submitted=submitted)
    return len(submitted), len(plan.cancel)


def _record_keep_alive_jobs(endpoint, *, tracked: list, kept: list, submitted: list) -> None:
    """Write what this run keeps and sent, merged into the record as it is now. Entries this run
    did not decide about stay: those another run recorded meanwhile, and those a generation
    claimed meanwhile (yield_keep_alive_worker), so that no job is ever claimed twice."""
    seen = {entry["id"]: entry for entry in tracked}
    kept_ids = {entry["id"] for entry in kept}

    def stays(entry: dict) -> bool:
        before = seen.get(entry["id"])
        if before is None or before.get(YIELDED_TO) != entry.get(YIELDED_TO):
            return True
        return entry["id"] in kept_ids

    with transaction.atomic():
        state = WarmState.objects.select_for_update().get(endpoint=endpoint)
        merged = [entry for entry in state.keep_alive_jobs if stays(entry)]
        known = {entry["id"] for entry in merged}
        state.keep_alive_jobs = merged + [entry for entry in submitted if entry["id"] not in known]
        state.save(update_fields=["keep_alive_jobs"])


def _keep_alive_job(client: RunPodClient, entry: dict, now: datetime) -> KeepAliveJob | None:
    """What RunPod says about one tracked job; None once it is over (or forgotten by RunPod)."""
    expires = parse_datetime(entry["expires"])
    try:
        job = client.status(entry["id"])
    except RunPodNotFound:
        return None
    except RunPodError:
        # Cannot tell: count it as running until its TTL passes (it is bounded by that).
        if expires and expires > now:
            return KeepAliveJob(entry["id"], "IN_PROGRESS", entry["low"], expires)
        return None
    return _as_keep_alive_job(entry, job)


def _as_keep_alive_job(entry: dict, job: dict) -> KeepAliveJob | None:
    """A tracked job as RunPod's /status body describes it; None once it is over."""
    status = job.get("status")
    if status not in ("IN_QUEUE", "IN_PROGRESS"):
        return None
    ends_at = None
    if status == "IN_PROGRESS":
        submitted = parse_datetime(entry["submitted"])
        delay = timedelta(milliseconds=int(job.get("delayTime") or 0))
        ends_at = submitted + delay + timedelta(seconds=entry["duration"])
    return KeepAliveJob(entry["id"], status, entry["low"], ends_at)


def _generation_still_on_its_way(client: RunPodClient, entry: dict, now: datetime) -> bool:
    """Whether the generation that took this keep_alive job's worker is still queued or running."""
    try:
        job = client.status(entry[YIELDED_TO])
    except RunPodNotFound:
        return False
    except RunPodError:
        expires = parse_datetime(entry["expires"])
        return bool(expires and expires > now)  # cannot tell: busy until the entry's TTL
    return job.get("status") in ("IN_QUEUE", "IN_PROGRESS")


def _submit_keep_alive(client: RunPodClient, now: datetime, *, low_priority: bool) -> dict:
    duration = keep_alive_seconds()
    job_input = KeepAliveInput(
        action="keep_alive",
        duration=duration,
        interval=min(KEEP_ALIVE_PING_SECONDS, duration),
    ).to_job_input()
    # A successor waits up to one interval before it runs; the TTL ends it if it never does.
    ttl_seconds = settings.WARM_POOL_INTERVAL_SECONDS + duration + 60
    policy = {
        "executionTimeout": (duration + 60) * 1000,
        "ttl": ttl_seconds * 1000,
        "lowPriority": low_priority,
    }
    job = client.run(job_input, policy=policy)
    return {
        "id": str(job["id"]),
        "submitted": now.isoformat(),
        "duration": duration,
        "low": low_priority,
        "expires": (now + timedelta(seconds=ttl_seconds)).isoformat(),
    }


# --- a generation takes the warm worker ----------------------------------------------------------


def yield_keep_alive_worker(*, endpoint: RunPodEndpoint, job_id: str) -> str | None:
    """Cancel the keep_alive job of ours on `endpoint` that would run longest, so that its warm
    worker takes the generation `job_id` next (already in RunPod's queue at normal priority)
    instead of the generation waiting for it or for a cold worker. Returns the cancelled job's id.

    Never raises: the generation is submitted already and must not fail because of this."""
    try:
        return _yield_keep_alive_worker(endpoint, job_id)
    except RunPodError as exc:
        logger.warning(
            "endpoint %s: no keep-alive worker yielded to %s: %s", endpoint.pk, job_id, exc.message
        )
    except Exception:  # a bug here must not cost the generation it was meant to speed up
        logger.exception(
            "endpoint %s: yielding a keep-alive worker to %s failed", endpoint.pk, job_id
        )
    return None


def _yield_keep_alive_worker(endpoint: RunPodEndpoint, job_id: str) -> str | None:
    state = WarmState.objects.filter(endpoint=endpoint).first()
    entries = [
        entry for entry in (state.keep_alive_jobs if state else []) if not entry.get(YIELDED_TO)
    ]
    if not entries:
        return None  # no keep_alive job of ours: not a single RunPod call
    client = endpoint.runpod_client()
    # Read in this order: keep_alive_jobs_to_yield says why.
    idle_workers = int((client.health().get("workers") or {}).get("idle") or 0)
    if idle_workers > 0:
        return None  # an idle worker takes the generation (keep_alive_jobs_to_yield: nothing)
    running = []
    for entry in entries:
        with contextlib.suppress(RunPodNotFound):  # forgotten by RunPod: over
            job = _as_keep_alive_job(entry, client.status(entry["id"]))
            if job is not None:
                running.append(job)
    generation_status = str(client.status(job_id).get("status"))
    candidates = [
        job.id
        for job in keep_alive_jobs_to_yield(
            running, idle_workers=idle_workers, generation_status=generation_status
        )
    ]
    if not candidates:
        return None
    claimed = _claim_keep_alive_job(endpoint, candidates, job_id)
    if claimed is None:
        return None  # another generation claimed each of them first
    try:
        client.cancel(claimed)
    except RunPodNotFound:
        pass  # ended meanwhile: its worker is free all the same
    except RunPodError:
        _unclaim_keep_alive_job(endpoint, claimed)  # the next tick finds out what became of it
        raise
    logger.info("endpoint %s: keep_alive job %s cancelled for %s", endpoint.pk, claimed, job_id)
    return claimed


def _claim_keep_alive_job(
    endpoint: RunPodEndpoint, candidates: list[str], job_id: str
) -> str | None:
    """Mark the first candidate no other generation has claimed; its id, or None. The row lock
    makes two generations at once claim two different jobs (or one finds none left)."""
    with transaction.atomic():
        state = WarmState.objects.select_for_update().get(endpoint=endpoint)
        free = {entry["id"]: entry for entry in state.keep_alive_jobs if not entry.get(YIELDED_TO)}
        claimed = next((candidate for candidate in candidates if candidate in free), None)
        if claimed is not None:
            free[claimed][YIELDED_TO] = job_id
            state.save(update_fields=["keep_alive_jobs"])
    return claimed


def _unclaim_keep_alive_job(endpoint: RunPodEndpoint, claimed: str) -> None:
    with transaction.atomic():
        state = WarmState.objects.select_for_update().get(endpoint=endpoint)
        for entry in state.keep_alive_jobs:
            if entry["id"] == claimed:
                entry.pop(YIELDED_TO, None)
        state.save(update_fields=["keep_alive_jobs"])


# --- keep warm / cool down -----------------------------------------------------------------------


def keep_warm(
    *,
    endpoint: RunPodEndpoint,
    by: Membership | None,
    minutes: Any,
    workers: Any = 1,
    now: datetime | None = None,
) -> ApplyOutcome:
    """Keep at least `workers` warm for `minutes` from now (on top of any window), then apply."""
    _require_manager(by, endpoint.team_id)
    errors = {}
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        errors["minutes"] = "Enter a whole number of minutes."
    elif not 1 <= minutes <= KEEP_WARM_MAX_MINUTES:
        errors["minutes"] = f"Keep warm for 1 to {KEEP_WARM_MAX_MINUTES} minutes."
    limit = settings.WARM_POOL_MAX_WORKERS
    if isinstance(workers, bool) or not isinstance(workers, int):
        errors["workers"] = "Enter a whole number of workers."
    elif not 1 <= workers <= limit:
        errors["workers"] = f"Keep 1 to {limit} workers warm."
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    warm_state(endpoint)
    _update_state(
        endpoint.pk, keep_warm_until=now + timedelta(minutes=minutes), keep_warm_workers=workers
    )
    return warm_pool_apply(endpoint=endpoint, now=now)


def cool_down(
    *, endpoint: RunPodEndpoint, by: Membership | None, now: datetime | None = None
) -> ApplyOutcome:
    """Nothing warm until the open window closes (and any keep-warm ends); then apply."""
    _require_manager(by, endpoint.team_id)
    now = now or timezone.now()
    warm_state(endpoint)
    until = None
    try:
        zone = zone_of(endpoint.team.time_zone)
    except UnknownTimeZone:
        zone = None
    if zone is not None:
        closing = [
            window_closes_at(window, zone, now, lead=_lead())
            for window in open_windows(_windows(endpoint), zone, now, lead=_lead())
        ]
        until = max(closing, default=None)
    _update_state(endpoint.pk, keep_warm_until=until, keep_warm_workers=0)
    return warm_pool_apply(endpoint=endpoint, now=now)


# --- warm-up -------------------------------------------------------------------------------------


def warmup_start(
    *,
    endpoint: RunPodEndpoint,
    by: Membership | None = None,
    trigger: str = "manual",
    now: datetime | None = None,
) -> WarmupRun:
    """Send a `warmup` job that loads the endpoint's default model; one at a time per endpoint
    (a warm-up still on its way is returned instead of sending another)."""
    _require_manager(by, endpoint.team_id)
    now = now or timezone.now()
    active = WarmupRun.objects.filter(
        endpoint=endpoint, status__in=WarmupStatus.ACTIVE, created_at__gt=now - WARMUP_ACTIVE_FOR
    ).first()
    if active is not None:
        return active
    model = endpoint.default_model.strip()
    run = WarmupRun(endpoint=endpoint, model=model, trigger=trigger, created_at=now)
    try:
        job_input = WarmupInput(action="warmup", model=model or None).to_job_input()
        job = endpoint.runpod_client().run(job_input, policy=WARMUP_POLICY)
    except PydanticValidationError as exc:
        return _warmup_failed(run, now, format_validation_error(exc, "warmup"))
    except RunPodError as exc:
        return _warmup_failed(run, now, f"RunPod refused the warm-up job: {exc.message}")
    run.runpod_job_id = str(job["id"])
    run.status = WarmupStatus.QUEUED
    with transaction.atomic():
        run.save()
        send_wake_up_on_commit(FOLLOW_WARMUP_TASK, run.pk, 0, countdown=WARMUP_FOLLOW_SCHEDULE[0])
    return run


def _warmup_failed(run: WarmupRun, now: datetime, error: str) -> WarmupRun:
    run.status, run.error, run.finished_at = WarmupStatus.FAILED, error[:5000], now
    run.save()
    return run


def warmup_refresh(*, run_id: int, now: datetime | None = None) -> WarmupRun:
    """Ask RunPod about a warm-up job once; on completion record the load and queue times."""
    now = now or timezone.now()
    run = WarmupRun.objects.select_related("endpoint").get(pk=run_id)
    if run.status not in WarmupStatus.ACTIVE:
        return run
    try:
        job = run.endpoint.runpod_client().status(run.runpod_job_id)
    except RunPodNotFound:
        return _warmup_failed(run, now, "RunPod no longer knows the warm-up job (expired).")
    except RunPodError as exc:
        if now - run.created_at > WARMUP_GIVE_UP:
            return _warmup_failed(run, now, f"no result from RunPod: {exc.message}")
        return run
    status = job.get("status")
    if job.get("delayTime") is not None:
        run.delay_ms = int(job["delayTime"])
    if status == "COMPLETED":
        try:
            output = WarmupOutput.model_validate(job.get("output"))
        except PydanticValidationError as exc:
            return _warmup_failed(run, now, f"the worker's warm-up result is malformed: {exc}")
        run.model = output.model
        run.load_seconds = output.load_seconds
        run.status, run.finished_at = WarmupStatus.SUCCEEDED, now
    elif status in FAILED_JOB_STATES:
        error = runpod_error_text(job.get("error")) if status == "FAILED" else status.lower()
        return _warmup_failed(run, now, f"the warm-up job {error}"[:5000])
    elif now - run.created_at > WARMUP_GIVE_UP:
        return _warmup_failed(run, now, f"the warm-up job was still {status} after 30 minutes")
    else:
        run.status = WarmupStatus.RUNNING if status == "IN_PROGRESS" else WarmupStatus.QUEUED
    run.save()
    return run


def warmup_follow(*, run_id: int, attempt: int) -> WarmupRun:
    """Refresh a warm-up and, while it is on its way, wake up again a little later."""
    run = warmup_refresh(run_id=run_id)
    if run.status in WarmupStatus.ACTIVE:
        delay = WARMUP_FOLLOW_SCHEDULE[min(attempt + 1, len(WARMUP_FOLLOW_SCHEDULE) - 1)]
        send_wake_up_on_commit(FOLLOW_WARMUP_TASK, run.pk, attempt + 1, countdown=delay)
    return run


def warmups_follow_unfinished(*, now: datetime | None = None) -> int:
    """Refresh every warm-up still on its way (a lost wake-up never leaves one hanging)."""
    count = 0
    for run_id in WarmupRun.objects.filter(status__in=WarmupStatus.ACTIVE).values_list(
        "pk", flat=True
    ):
        warmup_refresh(run_id=run_id, now=now)
        count += 1
    return count


# --- what the page and the API show --------------------------------------------------------------


@dataclass(frozen=True)
class WarmPoolStatus:
    phase: str  # paused | cold | cooled_down | warming | warm | keep_alive
    headline: str
    explanation: str
    mode: str
    desired: int
    ready: int
    starting: int
    reason: str
    cost_per_hour: Decimal
    keep_alive_jobs: int
    next_opening: datetime | None
    keep_warm_until: datetime | None
    cooled_until: datetime | None
    notice: str
    last_error: str
    last_checked_at: datetime | None


def warm_pool_status(*, endpoint: RunPodEndpoint, now: datetime | None = None) -> WarmPoolStatus:
    """The pool in words, from the schedules at `now` and what the last apply saw (no RunPod
    call: the page can refresh it often)."""
    now = now or timezone.now()
    # Reading never creates the row: the beat only looks at endpoints with schedules or state.
    state = WarmState.objects.filter(endpoint=endpoint).first() or WarmState(endpoint=endpoint)
    observed = state.observed or {}
    ready = int(observed.get("idle", 0)) + int(observed.get("running", 0))
    starting = int(observed.get("initializing", 0))
    keep_alive_mode = state.mode == WarmMode.KEEP_ALIVE
    common = {
        "mode": state.mode,
        "ready": ready,
        "starting": starting,
        "keep_alive_jobs": sum(1 for job in state.keep_alive_jobs or [] if not job.get(YIELDED_TO)),
        "notice": state.notice,
        "last_error": state.last_error,
        "last_checked_at": state.last_checked_at,
    }
    try:
        zone = zone_of(endpoint.team.time_zone)
    except UnknownTimeZone as exc:
        return WarmPoolStatus(
            phase="paused",
            headline="Paused",
            explanation=f"{exc} Warm schedules do nothing until the team's time zone is fixed.",
            desired=0,
            reason="",
            cost_per_hour=Decimal("0"),
            next_opening=None,
            keep_warm_until=None,
            cooled_until=None,
            **common,
        )
    desired = _desired(endpoint, state, zone, now)
    upcoming = next_opening(_windows(endpoint), zone, now)
    override_on = state.keep_warm_until is not None and state.keep_warm_until > now
    explanation = ""
    if keep_alive_mode:
        explanation = (
            "Keep-alive mode because RunPod refused endpoint management (403) for this "
            "endpoint's API key, so SwarmDeck cannot set workers.min. Instead it keeps workers "
            f"busy with keep_alive jobs of at most {keep_alive_seconds()} s each. A generation "
            "that finds no idle worker takes the worker of one of them (that keep_alive job is "
            "cancelled), so it starts warm. "
            "An API key with endpoint-management scope lets RunPod keep workers warm itself."
        )
    if desired.cooled_down:
        phase, headline = "cooled_down", f"Cooled down ({desired.reason})"
    elif not desired.warm:
        phase, headline = "cold", "Cold: no warm workers"
    elif keep_alive_mode:
        jobs = common["keep_alive_jobs"]
        phase = "keep_alive"
        headline = (
            f"Keep-alive mode: keeping {desired.workers} worker(s) busy-warm "
            f"({jobs} keep-alive job(s) in flight)"
        )
    elif ready >= desired.workers:
        phase, headline = "warm", f"Warm: {min(ready, desired.workers)} of {desired.workers} ready"
    else:
        phase = "warming"
        headline = f"Warming: {ready} of {desired.workers} ready, {starting} starting"
    return WarmPoolStatus(
        phase=phase,
        headline=headline,
        explanation=explanation,
        desired=desired.workers,
        reason=desired.reason,
        cost_per_hour=cost_per_hour(desired.workers, endpoint.gpu_price_per_second),
        next_opening=upcoming[1] if upcoming else None,
        keep_warm_until=state.keep_warm_until if override_on and desired.kept_warm else None,
        cooled_until=state.keep_warm_until if override_on and desired.cooled_down else None,
        **common,
    )


def schedule_costs(schedule: WarmSchedule) -> dict[str, Decimal]:
    """What a schedule's warm workers cost: per hour while open, and per ordinary week."""
    price = schedule.endpoint.gpu_price_per_second
    per_hour = cost_per_hour(schedule.warm_workers, price)
    hours_per_week = Decimal(Window.of(schedule).seconds * len(schedule.weekdays)) / 3600
    return {"per_hour": per_hour, "per_week": (per_hour * hours_per_week).quantize(Decimal("0.01"))}
