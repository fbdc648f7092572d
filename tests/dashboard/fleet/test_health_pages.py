"""Pages: endpoint health (now, SVG charts, alerts with restore), usage with CSV and cold-start
analytics, budget settings, the budget banner and the cost-estimate fragment."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from dashboard.fleet import alerts
from dashboard.fleet.models import AlertKind, TeamBudget
from tests.dashboard.factories import PASSWORD, make_endpoint, make_member, make_team
from tests.dashboard.fleet.health_support import (
    emulated_endpoint,
    emulator_settings,
    finished_generation,
    patch_emulator_workers,
    reading,
)
from tests.support.emulators import runpod_server

MINUTE = timedelta(minutes=1)


def signed_in(membership) -> Client:
    client = Client()
    client.login(username=membership.user.username, password=PASSWORD)
    return client


@pytest.fixture(scope="module")
def bare_runpod(tmp_path_factory):
    server = runpod_server(tmp_path_factory.mktemp("bare"), "--workers-max", "3").start()
    yield server
    server.stop()


# --- health ---------------------------------------------------------------------------------------
def test_health_page_shows_the_latest_reading_charts_and_open_alerts(owner, endpoint):
    now = timezone.now()
    for minute in range(5):
        reading(endpoint, now - (5 - minute) * MINUTE, jobs_in_queue=minute, workers_running=1)
    reading(endpoint, now, workers_throttled=2, workers_min=0, workers_max=3)
    alerts.evaluate_alerts(endpoint=endpoint, now=now)

    html = signed_in(owner).get(f"/endpoints/{endpoint.pk}/health/").content.decode()

    assert "2 throttled" in html
    assert "0 / 3" in html  # min / max workers
    assert "Throttled workers (no GPU capacity)" in html
    assert 'aria-label="Jobs in queue and in progress"' in html
    assert 'data-series="In queue"' in html
    assert 'data-series="Unhealthy"' in html
    assert "Read now" in html
    assert "Dismiss" in html


def test_a_gap_in_readings_breaks_the_chart_line(owner, endpoint, settings):
    settings.HEALTH_INTERVAL_SECONDS = 60
    now = timezone.now()
    for minute in (60, 59, 58, 3, 2, 1):
        reading(endpoint, now - minute * MINUTE, jobs_in_queue=2)

    html = signed_in(owner).get(f"/endpoints/{endpoint.pk}/health/").content.decode()

    assert html.count('data-series="In queue"') == 2  # one area per run of readings


def test_longer_ranges_chart_hourly_maxima(owner, endpoint):
    now = timezone.now()
    reading(endpoint, now - timedelta(days=3), jobs_in_queue=7)
    reading(endpoint, now - timedelta(days=3) + MINUTE, jobs_in_queue=1)

    html = signed_in(owner).get(f"/endpoints/{endpoint.pk}/health/?range=7d").content.decode()

    assert "<strong>7d</strong>" in html
    assert ">10</text>" in html  # the y axis tops at the hour's maximum, 7, rounded up to 10


def test_members_see_health_but_cannot_act(member, endpoint):
    reading(endpoint, timezone.now(), workers_max=0)
    alerts.evaluate_alerts(endpoint=endpoint)
    client = signed_in(member)

    html = client.get(f"/endpoints/{endpoint.pk}/health/").content.decode()

    assert "Max workers cut" in html
    assert "Restore max workers" not in html
    assert "Read now" not in html
    alert = alerts.open_alerts(endpoint).get()
    assert client.post(f"/endpoints/alerts/{alert.pk}/dismiss/").status_code == 403
    assert client.post(f"/endpoints/{endpoint.pk}/health/record/").status_code == 403
    assert alerts.open_alerts(endpoint).count() == 1


def test_another_teams_endpoint_and_alerts_are_not_found(owner):
    other = make_endpoint(make_team())
    reading(other, timezone.now(), workers_max=0)
    (alert,) = alerts.evaluate_alerts(endpoint=other)
    client = signed_in(owner)

    assert client.get(f"/endpoints/{other.pk}/health/").status_code == 404
    assert client.post(f"/endpoints/alerts/{alert.pk}/dismiss/").status_code == 404
    assert alerts.open_alerts(other).count() == 1


def test_the_restore_button_patches_max_workers_back(bare_runpod, owner):
    patch_emulator_workers(bare_runpod, min=0, max=3)
    endpoint = emulated_endpoint(owner.team, bare_runpod)
    client = signed_in(owner)
    client.post(f"/endpoints/{endpoint.pk}/health/record/")
    patch_emulator_workers(bare_runpod, max=0)
    client.post(f"/endpoints/{endpoint.pk}/health/record/")
    alert = alerts.open_alerts(endpoint).get(kind=AlertKind.MAX_SCALED_DOWN)

    response = client.post(f"/endpoints/alerts/{alert.pk}/restore/", follow=True)

    assert "set back to 3" in response.content.decode()
    assert emulator_settings(bare_runpod)["workers"]["max"] == 3
    assert alerts.open_alerts(endpoint).count() == 0


# --- usage ----------------------------------------------------------------------------------------
def test_usage_page_shows_rollups_cold_starts_and_a_csv_link(owner, endpoint):
    now = timezone.now()
    finished_generation(owner, endpoint, at=now, cost="0.40", delay_ms=45_000, worker_id="w1")
    finished_generation(owner, endpoint, at=now, cost="0.20", delay_ms=300, model="flux")

    html = signed_in(owner).get("/endpoints/usage/?period=7d").content.decode()

    assert "Last 7 days: $0.6000" in html
    assert owner.user.username in html
    assert "flux" in html
    assert "1 cold (50%), 1 warm" in html
    assert 'href="/endpoints/usage.csv?period=7d"' in html


def test_usage_csv_downloads_the_periods_generations(member, endpoint):
    finished_generation(member, endpoint, at=timezone.now(), cost="0.125")

    response = signed_in(member).get("/endpoints/usage.csv?period=month")

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["cost_usd"] for row in rows] == ["0.125000"]


def test_a_bad_custom_period_is_explained_next_to_its_field(member):
    client = signed_in(member)
    html = client.get("/endpoints/usage/?period=custom&start=2026-03-05&end=2026-03-01")
    assert "The end date must not be before the start date." in html.content.decode()
    csv_response = client.get("/endpoints/usage.csv?period=custom&start=nope&end=2026-03-01")
    assert csv_response.status_code == 400


# --- budget ---------------------------------------------------------------------------------------
BUDGET_FORM = {
    "monthly_soft_limit": "80",
    "monthly_hard_limit": "100",
    "alert_email": "ops@example.com",
    "alert_webhook_url": "https://hooks.example.com/services/T0/SECRET",
}


def test_admins_set_the_budget_and_the_webhook_is_never_shown_back(owner):
    client = signed_in(owner)
    assert client.post("/endpoints/budget/", BUDGET_FORM).status_code == 302

    budget = TeamBudget.objects.get(team=owner.team)
    assert budget.monthly_hard_limit == Decimal("100")
    html = client.get("/endpoints/budget/").content.decode()
    assert "hooks.example.com" in html
    assert "SECRET" not in html

    client.post("/endpoints/budget/", {**BUDGET_FORM, "alert_webhook_url": ""})
    budget.refresh_from_db()
    assert budget.alert_webhook_url.endswith("/SECRET")  # empty keeps it
    client.post("/endpoints/budget/", {**BUDGET_FORM, "remove_webhook": "on"})
    budget.refresh_from_db()
    assert budget.alert_webhook_url == ""


def test_negative_limits_are_field_errors_and_nothing_is_saved(owner):
    response = signed_in(owner).post(
        "/endpoints/budget/", {**BUDGET_FORM, "monthly_hard_limit": "-5"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_monthly_hard_limit-errors"' in html
    assert "A limit cannot be negative." in html
    assert not TeamBudget.objects.exists()


def test_members_see_the_budget_but_cannot_change_it(member):
    client = signed_in(member)
    html = client.get("/endpoints/budget/").content.decode()
    assert "Owners and admins set the budget." in html
    assert client.post("/endpoints/budget/", BUDGET_FORM).status_code == 403
    assert not TeamBudget.objects.exists()


def test_the_banner_warns_at_80_percent_of_the_soft_limit(owner, endpoint):
    TeamBudget.objects.create(team=owner.team, monthly_soft_limit=Decimal("10"))
    finished_generation(owner, endpoint, at=timezone.now(), cost="8.50")

    html = signed_in(owner).get("/endpoints/usage/").content.decode()

    assert "85% of the monthly soft limit used" in html
    banner = Template('{% include "fleet/_budget_banner.html" %}')
    assert "$8.50 of $10" in banner.render(Context({"membership": owner}))
    assert "soft limit" not in banner.render(Context({"membership": make_member(make_team())}))


def test_cost_estimate_fragment_for_the_generate_form(member, endpoint):
    endpoint.gpu_price_per_second = Decimal("0.1")
    endpoint.save()
    finished_generation(
        member, endpoint, at=timezone.now() - timedelta(days=40), cost=None, execution_ms=3000
    )
    query = f"endpoint={endpoint.pk}&model={endpoint.default_model}&width=512&height=512&steps=4"

    html = signed_in(member).get(f"/endpoints/cost-estimate/?{query}&images=2").content.decode()

    assert "≈ $0.6000" in html
    assert "from 1 similar job" in html
