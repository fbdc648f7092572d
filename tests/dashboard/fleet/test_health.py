"""Recording endpoint health from the RunPod emulator over HTTP: /health, the REST v2 workers list
and the endpoint's min/max; duplicate beat ticks; 30-day retention; the beat's fan-out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.fleet import health, health_tasks
from dashboard.fleet.models import HealthSample
from tests.dashboard.factories import make_endpoint
from tests.dashboard.fleet.health_support import emulated_endpoint, reading, wait_for_workers
from tests.support.processes import free_port


def test_a_reading_holds_jobs_workers_and_the_endpoints_limits(runpod, team):
    endpoint = emulated_endpoint(team, runpod)
    wait_for_workers(runpod, "idle")  # the emulator keeps workers.min = 1 warm
    endpoint.runpod_client().runsync({"echo": "hi"}, wait_ms=20_000)

    sample = health.record_health(endpoint=endpoint)

    sample.refresh_from_db()
    assert sample.reachable
    assert sample.error == ""
    assert sample.jobs_completed >= 1
    assert sample.workers_idle + sample.workers_running == 1
    assert (sample.workers_min, sample.workers_max) == (1, 3)


def test_a_key_without_management_scope_still_records_health_and_says_why(runpod, team):
    endpoint = emulated_endpoint(team, runpod, api_key="read-only-key")

    sample = health.record_health(endpoint=endpoint)

    assert sample.reachable
    assert sample.workers_max is None
    assert "403" in sample.error


def test_an_unreachable_endpoint_is_recorded_as_such(team, settings):
    settings.RUNPOD_RETRIES = 0
    endpoint = make_endpoint(team, api_base_url=f"http://127.0.0.1:{free_port()}/v2")

    sample = health.record_health(endpoint=endpoint)

    assert not sample.reachable
    assert "connection refused" in sample.error


def test_every_health_key_is_optional_and_malformed_values_count_as_zero():
    counts = health.parse_health({"jobs": {"inQueue": 3}, "workers": {"idle": "x", "running": 2}})
    assert counts["jobs_in_queue"] == 3
    assert counts["jobs_in_progress"] == 0
    assert counts["workers_idle"] == 0
    assert counts["workers_running"] == 2
    assert counts["workers_unhealthy"] == 0
    assert health.parse_health(None)["workers_throttled"] == 0


def test_a_workers_list_without_summary_is_counted_by_status():
    body = {"workers": [{"status": "RUNNING"}, {"status": "THROTTLED"}, {"status": "RUNNING"}]}
    counts = health.parse_workers_list(body)
    assert counts["workers_running"] == 2
    assert counts["workers_throttled"] == 1
    assert counts["workers_idle"] == 0


def test_a_beat_tick_delivered_twice_records_once(team, settings):
    settings.RUNPOD_RETRIES = 0
    endpoint = make_endpoint(team, api_base_url=f"http://127.0.0.1:{free_port()}/v2")
    now = timezone.now()

    first = health.record_health_by_id(endpoint_id=endpoint.pk, now=now)
    second = health.record_health_by_id(endpoint_id=endpoint.pk, now=now + timedelta(seconds=5))

    assert first is not None
    assert second is None
    assert HealthSample.objects.count() == 1


def test_readings_older_than_30_days_are_pruned(endpoint):
    now = timezone.now()
    reading(endpoint, now - timedelta(days=31))
    kept = reading(endpoint, now - timedelta(days=29))

    assert health.prune_health(now=now) == 1
    assert list(HealthSample.objects.all()) == [kept]


@pytest.mark.django_db
def test_the_beat_task_wakes_one_reading_per_endpoint(team, sent_tasks):
    first = make_endpoint(team)
    second = make_endpoint(team)

    assert health_tasks.record_health_all() == 2

    sent = [(task.name, task.args) for task in sent_tasks.drain()]
    assert sorted(sent) == [
        ("fleet.record_health", (first.pk,)),
        ("fleet.record_health", (second.pk,)),
    ]


def test_beat_reads_health_every_interval_and_prunes_daily(settings):
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["fleet.record_health_all"] == settings.HEALTH_INTERVAL_SECONDS
    assert schedule["fleet.prune_health"] == 86400
