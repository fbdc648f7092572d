"""The warm-pool API: schedules CRUD, state, keep warm, cool down, warm up; members only read."""

import pytest
import requests

from dashboard.fleet.models import WarmSchedule, WarmState, WarmupRun
from tests.dashboard.factories import make_endpoint, make_member, make_team

OFFICE = {"weekdays": [0, 1, 2, 3, 4], "start_time": "09:00", "end_time": "18:00"}


def url(endpoint, tail: str = "warm-schedules") -> str:
    return f"/api/v1/endpoints/{endpoint.pk}/{tail}"


def post(client, path: str, body: dict | None = None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def priced(team):
    team.time_zone = "Europe/Berlin"
    team.save()
    return make_endpoint(team, name="priced", gpu_price_per_second="0.00031")


def test_admin_creates_lists_changes_and_deletes_schedules(owner, priced, api_client):
    client = api_client(owner)
    created = post(client, url(priced), {**OFFICE, "name": "office", "warm_workers": 1})
    assert created.status_code == 201
    body = created.json()
    assert body["description"] == "Mon-Fri 09:00-18:00"
    assert body["cost_per_hour"] == "1.1160"  # 1 worker * $0.00031/s * 3600
    assert body["cost_per_week"] == "50.22"  # 45 open hours a week

    listed = client.get(url(priced)).json()
    assert [s["name"] for s in listed] == ["office"]

    changed = client.patch(
        url(priced, f"warm-schedules/{body['id']}"),
        {"warm_workers": 2, "end_time": "17:00"},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert (changed.json()["warm_workers"], changed.json()["end_time"]) == (2, "17:00")

    deleted = client.delete(url(priced, f"warm-schedules/{body['id']}"))
    assert deleted.status_code == 204
    assert not WarmSchedule.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"start_time": "18:00", "end_time": "09:00"}, "end_time", "two schedules"),
        ({"start_time": "25:00"}, "start_time", "start time"),
        ({"warm_workers": -2}, "warm_workers", "at least 1"),
        ({"warm_workers": 1000}, "warm_workers", "At most"),
        ({"weekdays": [9]}, "weekdays", "0 (Monday) to 6 (Sunday)"),
    ],
)
def test_bad_schedules_get_field_errors(owner, priced, api_client, change, field, words):
    response = post(api_client(owner), url(priced), {**OFFICE, **change})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The request has invalid fields."
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert words in error["message"]
    assert not WarmSchedule.objects.exists()


def test_overlapping_schedule_is_refused_naming_the_other(owner, priced, api_client):
    client = api_client(owner)
    post(client, url(priced), {**OFFICE, "name": "office"})
    response = post(client, url(priced), {**OFFICE, "start_time": "17:00", "end_time": "20:00"})
    assert response.status_code == 422
    assert "'office'" in response.json()["errors"][0]["message"]
    assert WarmSchedule.objects.count() == 1


def test_members_read_but_cannot_change_anything(member, priced, api_client):
    schedule = WarmSchedule.objects.create(endpoint=priced, **OFFICE)
    client = api_client(member)
    assert client.get(url(priced)).status_code == 200
    assert client.get(url(priced, "warm-pool")).status_code == 200
    attempts = [
        post(client, url(priced), OFFICE),
        client.patch(
            url(priced, f"warm-schedules/{schedule.pk}"),
            {"warm_workers": 3},
            content_type="application/json",
        ),
        client.delete(url(priced, f"warm-schedules/{schedule.pk}")),
        post(client, url(priced, "warm-pool/keep-warm"), {"minutes": 30}),
        post(client, url(priced, "warm-pool/cool-down")),
        post(client, url(priced, "warm-pool/warm-up")),
    ]
    assert [r.status_code for r in attempts] == [403] * 6
    assert "owners and admins" in attempts[0].json()["detail"]
    schedule.refresh_from_db()
    assert schedule.warm_workers == 1
    assert not WarmupRun.objects.exists()
    assert not WarmState.objects.filter(keep_warm_until__isnull=False).exists()


def test_another_teams_endpoint_is_not_found(owner, api_client):
    stranger = make_endpoint(make_team("Other"), name="theirs")
    assert api_client(owner).get(url(stranger)).status_code == 404
    assert post(api_client(owner), url(stranger), OFFICE).status_code == 404


def test_bad_keep_warm_names_the_field(owner, priced, api_client):
    response = post(api_client(owner), url(priced, "warm-pool/keep-warm"), {"minutes": 0})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "minutes"


def test_pool_state_says_cold_with_no_schedules(owner, priced, api_client):
    body = api_client(owner).get(url(priced, "warm-pool")).json()
    assert (body["phase"], body["desired"], body["time_zone"]) == ("cold", 0, "Europe/Berlin")
    assert body["cost_per_hour"] == "0.0000"


# --- against the RunPod emulator (echo worker, workers.min 1 to begin with) ----------------------


@pytest.fixture
def emulated(team, runpod):
    requests.patch(
        f"{runpod.base_url}/v2/serverless/local",
        json={"workers": {"min": 1}},
        headers={"Authorization": "Bearer local-dev-key"},
        timeout=5,
    ).raise_for_status()
    return make_endpoint(team, name="emulated", api_base_url=f"{runpod.base_url}/v2")


def workers_min(runpod) -> int:
    response = requests.get(
        f"{runpod.base_url}/v2/serverless/local",
        headers={"Authorization": "Bearer local-dev-key"},
        timeout=5,
    )
    return response.json()["workers"]["min"]


@pytest.mark.slow
def test_keep_warm_then_cool_down_through_the_api(owner, emulated, runpod, api_client):
    client = api_client(owner)
    kept = post(client, url(emulated, "warm-pool/keep-warm"), {"minutes": 15, "workers": 2})
    assert kept.status_code == 200
    assert kept.json()["desired"] == 2
    assert kept.json()["phase"] in ("warming", "warm")
    assert kept.json()["keep_warm_until"] is not None
    assert workers_min(runpod) == 2

    cooled = post(client, url(emulated, "warm-pool/cool-down"))
    assert cooled.status_code == 200
    assert (cooled.json()["phase"], cooled.json()["desired"]) == ("cold", 0)
    assert workers_min(runpod) == 1  # the value from before, restored


@pytest.mark.slow
def test_warm_up_through_the_api_is_accepted_and_listed(owner, emulated, api_client):
    client = api_client(owner)
    response = post(client, url(emulated, "warm-pool/warm-up"))
    assert response.status_code == 202
    run = response.json()
    assert (run["trigger"], run["status"], run["model"]) == (
        "manual",
        "queued",
        emulated.default_model,
    )
    assert run["runpod_job_id"]
    listed = client.get(url(emulated, "warm-pool/warmups")).json()
    assert [r["id"] for r in listed] == [run["id"]]


def test_a_member_of_two_teams_acts_for_the_team_in_the_header(owner, priced, api_client):
    other = make_team("Second")
    make_member(other, "owner", user=owner.user)
    client = api_client(owner)
    response = client.get(url(priced), HTTP_X_TEAM=other.slug)
    assert response.status_code == 404
