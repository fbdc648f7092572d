"""Alerts from health readings: crash-looping workers, a queue backing up, RunPod's idle
scale-down of workers.max (detected against the emulator, restored with one PATCH), throttled
and unreachable endpoints; one notice per opening by email and webhook."""

import sys
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from dashboard.fleet import alerts, health
from dashboard.fleet.models import Alert, AlertKind, TeamBudget
from tests.dashboard.fleet.health_support import (
    WebhookReceiver,
    emulated_endpoint,
    emulator_settings,
    patch_emulator_workers,
    reading,
    wait_for_workers,
)
from tests.support.emulators import runpod_server
from tests.support.processes import free_port

MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def bare_runpod(tmp_path_factory):
    """An emulator without workers: for endpoint settings only (fast to start)."""
    server = runpod_server(tmp_path_factory.mktemp("bare"), "--workers-max", "3").start()
    yield server
    server.stop()


@pytest.fixture
def scaled(bare_runpod, team):
    """An endpoint on the bare emulator, its settings put back afterwards."""
    patch_emulator_workers(bare_runpod, min=0, max=3)
    yield emulated_endpoint(team, bare_runpod)
    patch_emulator_workers(bare_runpod, min=0, max=3)


@pytest.fixture(scope="module")
def crashing_runpod(tmp_path_factory):
    """An emulator whose every worker dies before taking a job (a broken image)."""
    crash = [sys.executable, "-c", "raise SystemExit(3)"]
    flags = ("--workers-min", "1")
    server = runpod_server(tmp_path_factory.mktemp("crash"), *flags, worker=crash).start()
    yield server
    server.stop()


def open_kinds(endpoint) -> set[str]:
    return set(alerts.open_alerts(endpoint).values_list("kind", flat=True))


# --- against the emulator -------------------------------------------------------------------------
def test_crash_looping_workers_open_an_unhealthy_alert(crashing_runpod, team):
    endpoint = emulated_endpoint(team, crashing_runpod)
    wait_for_workers(crashing_runpod, "unhealthy")

    health.record_health(endpoint=endpoint)

    alert = alerts.open_alerts(endpoint).get(kind=AlertKind.UNHEALTHY)
    assert "unhealthy" in alert.message


def test_a_queue_with_no_worker_running_opens_a_backlog_alert_after_three_readings(
    crashing_runpod, team
):
    endpoint = emulated_endpoint(team, crashing_runpod)
    client = endpoint.runpod_client()
    client.run({"echo": "stuck"})
    now = timezone.now()
    try:
        health.record_health(endpoint=endpoint, now=now)
        health.record_health(endpoint=endpoint, now=now + MINUTE)
        assert AlertKind.QUEUE_BACKLOG not in open_kinds(endpoint)

        health.record_health(endpoint=endpoint, now=now + 2 * MINUTE)
        assert AlertKind.QUEUE_BACKLOG in open_kinds(endpoint)
    finally:
        client.purge_queue()

    health.record_health(endpoint=endpoint, now=now + 3 * MINUTE)
    assert AlertKind.QUEUE_BACKLOG not in open_kinds(endpoint)


def test_idle_scale_down_of_max_workers_is_detected_and_restored_with_one_click(
    bare_runpod, scaled, owner
):
    now = timezone.now()
    health.record_health(endpoint=scaled, now=now)
    patch_emulator_workers(bare_runpod, max=2)  # what RunPod does after 3 idle days

    health.record_health(endpoint=scaled, now=now + MINUTE)

    alert = alerts.open_alerts(scaled).get(kind=AlertKind.MAX_SCALED_DOWN)
    assert alert.details == {"workers_max": 2, "restore_max": 3}

    patch_emulator_workers(bare_runpod, max=0)  # ... and after 7 days
    health.record_health(endpoint=scaled, now=now + 2 * MINUTE)
    alert.refresh_from_db()
    assert alert.details == {"workers_max": 0, "restore_max": 3}
    assert Alert.objects.filter(kind=AlertKind.MAX_SCALED_DOWN).count() == 1

    alerts.alert_restore_max(alert=alert, by=owner)

    assert emulator_settings(bare_runpod)["workers"]["max"] == 3
    assert alerts.open_alerts(scaled).count() == 0
    health.record_health(endpoint=scaled, now=now + 3 * MINUTE)
    assert alerts.open_alerts(scaled).count() == 0


def test_members_cannot_restore_and_nothing_is_sent_to_runpod(bare_runpod, scaled, member):
    now = timezone.now()
    health.record_health(endpoint=scaled, now=now)
    patch_emulator_workers(bare_runpod, max=1)
    health.record_health(endpoint=scaled, now=now + MINUTE)
    alert = alerts.open_alerts(scaled).get()

    with pytest.raises(PermissionDenied):
        alerts.alert_restore_max(alert=alert, by=member)

    assert emulator_settings(bare_runpod)["workers"]["max"] == 1
    assert alerts.open_alerts(scaled).count() == 1


def test_an_alert_notifies_email_and_webhook_once_per_opening(
    bare_runpod, scaled, team, mailoutbox
):
    with WebhookReceiver() as receiver:
        TeamBudget.objects.create(
            team=team, alert_email="ops@example.com", alert_webhook_url=receiver.url
        )
        now = timezone.now()
        health.record_health(endpoint=scaled, now=now)
        patch_emulator_workers(bare_runpod, max=2)
        health.record_health(endpoint=scaled, now=now + MINUTE)
        health.record_health(endpoint=scaled, now=now + 2 * MINUTE)  # still open: no new notice

        assert [body["event"] for body in receiver.bodies] == ["alert.opened"]
    body = receiver.bodies[0]
    assert body["alert"]["kind"] == "max_scaled_down"
    assert body["endpoint"]["id"] == scaled.pk
    assert [message.to for message in mailoutbox] == [["ops@example.com"]]
    assert "Max workers" in mailoutbox[0].subject


def test_a_failing_webhook_never_breaks_the_reading(bare_runpod, scaled, team, mailoutbox):
    TeamBudget.objects.create(
        team=team,
        alert_email="ops@example.com",
        alert_webhook_url=f"http://127.0.0.1:{free_port()}/x",
    )
    now = timezone.now()
    health.record_health(endpoint=scaled, now=now)
    patch_emulator_workers(bare_runpod, max=1)

    health.record_health(endpoint=scaled, now=now + MINUTE)

    alert = alerts.open_alerts(scaled).get()
    assert alert.notified_at is not None
    assert len(mailoutbox) == 1


# --- from stored readings -------------------------------------------------------------------------
def test_throttled_workers_open_an_alert_that_resolves_when_capacity_returns(endpoint):
    now = timezone.now()
    reading(endpoint, now, workers_throttled=2)
    opened = alerts.evaluate_alerts(endpoint=endpoint, now=now)
    assert [alert.kind for alert in opened] == [AlertKind.THROTTLED]
    assert "no free GPU" in opened[0].message

    reading(endpoint, now + MINUTE, workers_running=1)
    assert alerts.evaluate_alerts(endpoint=endpoint, now=now + MINUTE) == []
    assert open_kinds(endpoint) == set()


def test_one_failed_reading_is_a_blip_two_are_an_outage(endpoint):
    now = timezone.now()
    reading(endpoint, now, reachable=False, error="timed out")
    assert alerts.evaluate_alerts(endpoint=endpoint, now=now) == []

    reading(endpoint, now + MINUTE, reachable=False, error="timed out")
    opened = alerts.evaluate_alerts(endpoint=endpoint, now=now + MINUTE)
    assert [alert.kind for alert in opened] == [AlertKind.UNREACHABLE]

    reading(endpoint, now + 2 * MINUTE)
    alerts.evaluate_alerts(endpoint=endpoint, now=now + 2 * MINUTE)
    assert open_kinds(endpoint) == set()


def test_max_workers_at_zero_from_the_first_reading_restores_to_runpods_default(endpoint):
    now = timezone.now()
    reading(endpoint, now, workers_min=0, workers_max=0)
    (alert,) = alerts.evaluate_alerts(endpoint=endpoint, now=now)
    assert alert.kind == AlertKind.MAX_SCALED_DOWN
    assert alert.details["restore_max"] == 3


def test_a_dismissed_scale_down_stays_dismissed(endpoint, owner):
    now = timezone.now()
    reading(endpoint, now, workers_max=3)
    reading(endpoint, now + MINUTE, workers_max=2)
    (alert,) = alerts.evaluate_alerts(endpoint=endpoint, now=now + MINUTE)

    alerts.alert_dismiss(alert=alert, by=owner)  # lowered on purpose
    reading(endpoint, now + 2 * MINUTE, workers_max=2)

    assert alerts.evaluate_alerts(endpoint=endpoint, now=now + 2 * MINUTE) == []
    assert open_kinds(endpoint) == set()
