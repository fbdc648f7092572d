"""API under /api/v1/endpoints (health history, an endpoint's alerts) and /api/v1/team (the
team's alerts with restore and dismiss, usage rollups and CSV, cold starts, budget get/set, cost
estimates). Members read, admins act, other teams get 404."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard.fleet import alerts
from dashboard.fleet.models import AlertKind, TeamBudget
from tests.dashboard.factories import make_endpoint, make_team
from tests.dashboard.fleet.health_support import (
    emulated_endpoint,
    emulator_settings,
    finished_generation,
    patch_emulator_workers,
    reading,
)
from tests.support.emulators import runpod_server

API = "/api/v1/endpoints"
TEAM_API = "/api/v1/team"


@pytest.fixture(scope="module")
def bare_runpod(tmp_path_factory):
    server = runpod_server(tmp_path_factory.mktemp("bare"), "--workers-max", "3").start()
    yield server
    server.stop()


def errors_of(response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_health_history_lists_readings_newest_first(member, endpoint, api_client):
    now = timezone.now()
    reading(endpoint, now - timedelta(hours=30), jobs_in_queue=9)  # outside 24h
    reading(endpoint, now - timedelta(minutes=2), jobs_in_queue=1)
    reading(endpoint, now - timedelta(minutes=1), jobs_in_queue=2, workers_max=3)

    body = api_client(member).get(f"{API}/{endpoint.pk}/health").json()

    assert body["range"] == "24h"
    assert [s["jobs_in_queue"] for s in body["samples"]] == [2, 1]
    assert body["latest"]["workers_max"] == 3


def test_an_unknown_range_is_a_field_error(member, endpoint, api_client):
    response = api_client(member).get(f"{API}/{endpoint.pk}/health?range=1y")
    assert response.status_code == 422
    assert "range" in errors_of(response)


def test_another_teams_endpoint_and_alerts_are_not_found(owner, api_client):
    other = make_endpoint(make_team())
    reading(other, timezone.now(), workers_max=0)
    (alert,) = alerts.evaluate_alerts(endpoint=other)
    client = api_client(owner)

    assert client.get(f"{API}/{other.pk}/health").status_code == 404
    assert client.get(f"{API}/{other.pk}/alerts").status_code == 404
    assert client.post(f"{TEAM_API}/alerts/{alert.pk}/dismiss").status_code == 404
    assert alerts.open_alerts(other).count() == 1


def test_alerts_are_listed_and_only_admins_act_on_them(member, owner, endpoint, api_client):
    reading(endpoint, timezone.now(), workers_throttled=1)
    (alert,) = alerts.evaluate_alerts(endpoint=endpoint)

    listed = api_client(member).get(f"{TEAM_API}/alerts").json()
    assert [(a["id"], a["kind"], a["endpoint"]) for a in listed] == [
        (alert.pk, "throttled", endpoint.pk)
    ]
    assert listed[0]["title"] == "Throttled workers (no GPU capacity)"
    assert api_client(member).post(f"{TEAM_API}/alerts/{alert.pk}/dismiss").status_code == 403

    response = api_client(owner).post(f"{TEAM_API}/alerts/{alert.pk}/dismiss")
    assert response.status_code == 200
    assert response.json()["resolved_at"] is not None
    assert api_client(member).get(f"{API}/{endpoint.pk}/alerts?open=true").json() == []


def test_restore_patches_max_workers_back_through_the_api(bare_runpod, owner, api_client):
    patch_emulator_workers(bare_runpod, min=0, max=3)
    endpoint = emulated_endpoint(owner.team, bare_runpod)
    client = api_client(owner)
    assert client.post(f"{API}/{endpoint.pk}/health").json()["workers_max"] == 3
    patch_emulator_workers(bare_runpod, max=2)
    client.post(f"{API}/{endpoint.pk}/health")
    alert = alerts.open_alerts(endpoint).get(kind=AlertKind.MAX_SCALED_DOWN)

    response = client.post(f"{TEAM_API}/alerts/{alert.pk}/restore")

    assert response.status_code == 200
    assert response.json()["details"]["restored_to"] == 3
    assert emulator_settings(bare_runpod)["workers"]["max"] == 3


def test_restoring_anything_but_a_scale_down_is_a_conflict(owner, endpoint, api_client):
    reading(endpoint, timezone.now(), workers_unhealthy=1)
    (alert,) = alerts.evaluate_alerts(endpoint=endpoint)
    response = api_client(owner).post(f"{TEAM_API}/alerts/{alert.pk}/restore")
    assert response.status_code == 409


def test_usage_rollups_and_csv(member, endpoint, api_client):
    finished_generation(member, endpoint, at=timezone.now(), cost="0.25", model="flux")
    client = api_client(member)

    body = client.get(f"{TEAM_API}/usage?period=30d").json()
    assert body["period"]["key"] == "30d"
    assert Decimal(body["total"]["cost"]) == Decimal("0.25")
    assert [row["label"] for row in body["by_model"]] == ["flux"]

    response = client.get(f"{TEAM_API}/usage/csv?period=30d")
    assert response["Content-Type"].startswith("text/csv")
    assert b"flux" in b"".join(response.streaming_content)


def test_bad_usage_periods_are_field_errors(member, api_client):
    client = api_client(member)
    response = client.get(f"{TEAM_API}/usage?period=decade")
    assert response.status_code == 422
    assert "period" in errors_of(response)
    response = client.get(f"{TEAM_API}/usage?period=custom&start=2026-03-05&end=2026-03-01")
    assert response.status_code == 422
    assert errors_of(response) == {"end": "The end date must not be before the start date."}


def test_cold_starts_report(member, endpoint, api_client):
    now = timezone.now()
    finished_generation(member, endpoint, at=now, cost="0.1", delay_ms=30_000, worker_id="a")
    finished_generation(member, endpoint, at=now, cost="0.1", delay_ms=200, worker_id="a")

    body = api_client(member).get(f"{TEAM_API}/cold-starts?period=today").json()

    assert (body["cold"]["jobs"], body["warm"]["jobs"]) == (1, 1)
    assert body["warm_workers_last_7_days"]["source"] == "none"


def test_budget_get_and_set_by_admins_only(member, owner, api_client):
    url = "https://hooks.example.com/T0/SECRET"
    response = api_client(owner).patch(
        f"{TEAM_API}/budget",
        {"monthly_soft_limit": "80", "monthly_hard_limit": "100", "alert_webhook_url": url},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["alert_webhook_host"] == "hooks.example.com"
    assert "SECRET" not in response.content.decode()

    body = api_client(member).get(f"{TEAM_API}/budget").json()
    assert (body["monthly_hard_limit"], body["level"]) == ("100.00", "ok")
    denied = api_client(member).patch(
        f"{TEAM_API}/budget", {"monthly_hard_limit": "1000"}, content_type="application/json"
    )
    assert denied.status_code == 403
    assert TeamBudget.objects.get().monthly_hard_limit == Decimal("100")


def test_negative_budgets_are_field_errors_and_change_nothing(owner, api_client):
    response = api_client(owner).patch(
        f"{TEAM_API}/budget", {"monthly_soft_limit": -10}, content_type="application/json"
    )
    assert response.status_code == 422
    assert errors_of(response) == {"monthly_soft_limit": "A limit cannot be negative."}
    assert not TeamBudget.objects.exists()


def test_cost_estimate(member, endpoint, api_client):
    endpoint.gpu_price_per_second = Decimal("0.01")
    endpoint.save()
    finished_generation(member, endpoint, at=timezone.now(), cost=None, execution_ms=5000)
    client = api_client(member)

    body = client.get(f"{TEAM_API}/cost-estimate?width=512&height=512&steps=4").json()
    assert body == {"cost": "0.050000", "execution_seconds": 5.0, "based_on": 1, "basis": "similar"}

    assert client.get(f"{TEAM_API}/cost-estimate?endpoint=nope").status_code == 404
    response = client.get(f"{TEAM_API}/cost-estimate?steps=0")
    assert response.status_code == 422
    assert "steps" in errors_of(response)


def test_a_generation_past_the_hard_limit_is_refused_on_the_budget_field(
    member, endpoint, api_client
):
    TeamBudget.objects.create(team=member.team, monthly_hard_limit=Decimal("1.00"))
    finished_generation(member, endpoint, at=timezone.now(), cost="1.00")

    response = api_client(member).post(
        "/api/v1/generations", {"prompt": "a fox"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "hard limit of $1.00 is reached" in errors_of(response)["budget"]
