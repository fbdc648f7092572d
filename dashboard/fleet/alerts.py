"""Alerts from health samples: open one per kind when a problem shows, resolve it when it is gone,
notify once per opening; and the admin's actions on them (restore workers.max, dismiss).

RunPod cuts `workers.max` of an endpoint nobody used for days (to 2 after 3 days, to 0 after 7)
and leaves it there, so jobs queue forever (reference/runpod.md §5.1): we compare each reading
with the last max we recorded and offer to PATCH it back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from dashboard.accounts.models import Membership
from dashboard.errors import Conflict
from dashboard.fleet.models import Alert, AlertKind, HealthSample, RunPodEndpoint
from dashboard.fleet.notifications import send_team_notice

logger = logging.getLogger(__name__)

# A backlog: more than this many jobs queued, no worker running, in this many readings in a row
# (a cold start takes one or two minutes; three readings a minute apart outlast it).
BACKLOG_JOBS = 0
BACKLOG_SAMPLES = 3
# One failed reading is a blip; this many in a row is an outage.
UNREACHABLE_SAMPLES = 2
# RunPod's default max workers (§5.1): what a max found at 0 with no history is restored to.
DEFAULT_WORKERS_MAX = 3


def open_alerts(endpoint: RunPodEndpoint):
    return Alert.objects.filter(endpoint=endpoint, resolved_at__isnull=True).order_by("-opened_at")


def _open(endpoint, kind: str, message: str, details: dict, now: datetime) -> Alert | None:
    """Open an alert of `kind` (or refresh the open one). Returns it only when it is new."""
    current = open_alerts(endpoint).filter(kind=kind).first()
    if current is not None:
        if current.message != message or current.details != details:
            current.message, current.details = message, details
            current.save(update_fields=["message", "details"])
        return None
    try:
        with transaction.atomic():
            return Alert.objects.create(
                endpoint=endpoint, kind=kind, message=message, details=details, opened_at=now
            )
    except IntegrityError:  # opened meanwhile by a concurrent reading: one open per kind
        return None


def _resolve(endpoint, kind: str, now: datetime) -> None:
    open_alerts(endpoint).filter(kind=kind).update(resolved_at=now)


def _previous_max(sample: HealthSample) -> int | None:
    """The last `workers.max` recorded before this sample."""
    earlier = (
        HealthSample.objects.filter(
            endpoint_id=sample.endpoint_id,
            taken_at__lt=sample.taken_at,
            workers_max__isnull=False,
        )
        .order_by("-taken_at")
        .values_list("workers_max", flat=True)
        .first()
    )
    return earlier


def _scale_down(endpoint, latest: HealthSample, now: datetime) -> Alert | None:
    current = latest.workers_max
    if current is None:  # no management scope, or the settings call failed: nothing to compare
        return None
    previous = _previous_max(latest)
    dropped = (previous is not None and current < previous) or (previous is None and current == 0)
    existing = open_alerts(endpoint).filter(kind=AlertKind.MAX_SCALED_DOWN).first()
    if not dropped and existing is None:
        return None
    remembered = int((existing.details if existing else {}).get("restore_max") or 0)
    restore_to = max(previous or 0, remembered) or DEFAULT_WORKERS_MAX
    if existing is not None and current >= restore_to:
        _resolve(endpoint, AlertKind.MAX_SCALED_DOWN, now)
        return None
    message = (
        f"RunPod lowered max workers to {current} (it was {restore_to}). "
        "It does so after days without requests; jobs wait until max workers is raised again."
    )
    details = {"workers_max": current, "restore_max": restore_to}
    return _open(endpoint, AlertKind.MAX_SCALED_DOWN, message, details, now)


def _backlog(samples: list[HealthSample]) -> bool | None:
    """True: backing up; False: clearly not; None: not enough readings to say."""
    latest = samples[0]
    if latest.jobs_in_queue <= BACKLOG_JOBS or latest.workers_running > 0:
        return False
    window = samples[:BACKLOG_SAMPLES]
    if len(window) < BACKLOG_SAMPLES:
        return None
    return all(
        s.reachable and s.jobs_in_queue > BACKLOG_JOBS and s.workers_running == 0 for s in window
    )


def evaluate_alerts(*, endpoint: RunPodEndpoint, now: datetime | None = None) -> list[Alert]:
    """Open or resolve the endpoint's alerts from its latest readings; returns the new ones."""
    now = now or timezone.now()
    window = max(BACKLOG_SAMPLES, UNREACHABLE_SAMPLES)
    samples = list(endpoint.health_samples.filter(taken_at__lte=now).order_by("-taken_at")[:window])
    if not samples:
        return []
    latest = samples[0]
    opened: list[Alert | None] = []
    if not latest.reachable:
        recent = samples[:UNREACHABLE_SAMPLES]
        if len(recent) == UNREACHABLE_SAMPLES and not any(s.reachable for s in recent):
            message = f"RunPod did not answer {UNREACHABLE_SAMPLES} health checks in a row."
            details = {"error": latest.error}
            opened.append(_open(endpoint, AlertKind.UNREACHABLE, message, details, now))
        # Nothing else can be judged without an answer; other alerts stay as they are.
        return [alert for alert in opened if alert]
    _resolve(endpoint, AlertKind.UNREACHABLE, now)

    if latest.workers_unhealthy:
        message = (
            f"{latest.workers_unhealthy} worker(s) unhealthy: they crash before taking jobs. "
            "Check the worker image, its start-up logs and the network volume."
        )
        details = {"workers_unhealthy": latest.workers_unhealthy}
        opened.append(_open(endpoint, AlertKind.UNHEALTHY, message, details, now))
    else:
        _resolve(endpoint, AlertKind.UNHEALTHY, now)

    if latest.workers_throttled:
        message = (
            f"{latest.workers_throttled} worker(s) throttled: RunPod has no free GPU of this type "
            "in the endpoint's data centers. Add GPU types or data centers, or wait."
        )
        details = {"workers_throttled": latest.workers_throttled}
        opened.append(_open(endpoint, AlertKind.THROTTLED, message, details, now))
    else:
        _resolve(endpoint, AlertKind.THROTTLED, now)

    backlog = _backlog(samples)
    if backlog:
        message = (
            f"{latest.jobs_in_queue} job(s) waiting with no worker running for "
            f"{BACKLOG_SAMPLES} readings in a row."
        )
        details = {"jobs_in_queue": latest.jobs_in_queue, "samples": BACKLOG_SAMPLES}
        opened.append(_open(endpoint, AlertKind.QUEUE_BACKLOG, message, details, now))
    elif backlog is False:
        _resolve(endpoint, AlertKind.QUEUE_BACKLOG, now)

    opened.append(_scale_down(endpoint, latest, now))
    return [alert for alert in opened if alert]


def notify_alert(alert: Alert, *, now: datetime | None = None) -> bool:
    """Email and POST the team's notice for a newly opened alert, once: the first caller to
    stamp `notified_at` sends it. Returns whether this call sent it."""
    now = now or timezone.now()
    claimed = Alert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=now)
    if not claimed:
        return False
    endpoint = alert.endpoint
    page = reverse("fleet:health", args=[endpoint.pk])
    link = f"{settings.PUBLIC_BASE_URL}{page}" if settings.PUBLIC_BASE_URL else page
    subject = f"{alert.get_kind_display()} on {endpoint.name}"
    payload = {
        "event": "alert.opened",
        "team": endpoint.team.slug,
        "endpoint": {"id": endpoint.pk, "name": endpoint.name, "endpoint_id": endpoint.endpoint_id},
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "title": alert.get_kind_display(),
            "message": alert.message,
            "details": alert.details,
            "opened_at": alert.opened_at.isoformat(),
        },
        "url": link,
    }
    text = f"{alert.message}\n\n{link}"
    send_team_notice(endpoint.team, subject=subject, text=text, payload=payload)
    return True


# --- an admin's actions ---------------------------------------------------------------------------
def _require_manager(by: Membership | None, alert: Alert) -> None:
    if by is not None and (by.team_id != alert.endpoint.team_id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins act on alerts.")


def alert_restore_max(*, alert: Alert, by: Membership | None, now: datetime | None = None) -> Alert:
    """PATCH `workers.max` back to what it was before RunPod's scale-down, then resolve the alert.
    Raises RunPodError when RunPod refuses (e.g. 403 for a key without management scope)."""
    _require_manager(by, alert)
    if alert.kind != AlertKind.MAX_SCALED_DOWN:
        raise Conflict("Only a max-workers scale-down can be restored.")
    if alert.resolved_at is not None:
        raise Conflict("This alert is already resolved.")
    restore_to = int(alert.details.get("restore_max") or DEFAULT_WORKERS_MAX)
    alert.endpoint.runpod_client().update_endpoint({"workers": {"max": restore_to}})
    logger.info("endpoint %s: workers.max restored to %s", alert.endpoint_id, restore_to)
    now = now or timezone.now()
    alert.resolved_at = now
    alert.details = {**alert.details, "restored_to": restore_to, "restored_by": _who(by)}
    alert.save(update_fields=["resolved_at", "details"])
    return alert


def alert_dismiss(*, alert: Alert, by: Membership | None, now: datetime | None = None) -> Alert:
    """Resolve an alert by hand (e.g. max workers was lowered on purpose)."""
    _require_manager(by, alert)
    if alert.resolved_at is None:
        alert.resolved_at = now or timezone.now()
        alert.details = {**alert.details, "dismissed_by": _who(by)}
        alert.save(update_fields=["resolved_at", "details"])
    return alert


def _who(by: Membership | None) -> str:
    return by.user.get_username() if by is not None else "system"
