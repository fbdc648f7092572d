"""The warm-pool page: members see the state and schedules; owners and admins edit and act."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.fleet.models import WarmMode, WarmSchedule, WarmState
from tests.dashboard.factories import PASSWORD, make_endpoint
from tests.support.processes import free_port

OFFICE = {
    "name": "office",
    "weekdays": ["0", "1", "2", "3", "4"],
    "start_time": "09:00",
    "end_time": "18:00",
    "warm_workers": "1",
    "enabled": "on",
}


def signed_in(membership) -> Client:
    client = Client()
    client.login(username=membership.user.username, password=PASSWORD)
    return client


@pytest.fixture
def endpoint(team, settings):
    settings.RUNPOD_RETRIES = 0
    team.time_zone = "Europe/Berlin"
    team.save()
    # Nothing listens there: the buttons must report that, not crash.
    return make_endpoint(
        team,
        name="main",
        api_base_url=f"http://127.0.0.1:{free_port()}/v2",
        gpu_price_per_second="0.00031",
    )


def page(client, endpoint, tail: str = "") -> str:
    response = client.get(f"/endpoints/{endpoint.pk}/warm/{tail}")
    assert response.status_code == 200
    return response.content.decode()


def test_members_see_state_schedules_and_their_cost_but_no_buttons(member, endpoint):
    WarmSchedule.objects.create(
        endpoint=endpoint,
        name="office",
        **{
            "weekdays": [0, 1, 2, 3, 4],
            "start_time": "09:00",
            "end_time": "18:00",
            "warm_workers": 2,
        },
    )
    html = page(signed_in(member), endpoint)
    assert "Warm pool of main" in html
    assert "Europe/Berlin" in html
    assert "Mon-Fri 09:00-18:00" in html
    assert "$2.2320" in html  # 2 workers * $0.00031/s * 3600
    assert 'id="warm-state"' in html
    assert "Keep warm" not in html
    assert "Add a schedule" not in html


def test_the_endpoint_list_links_to_the_warm_pool(member, endpoint):
    html = signed_in(member).get("/endpoints/").content.decode()
    assert f"/endpoints/{endpoint.pk}/warm/" in html


def test_owner_adds_a_schedule_through_the_form(owner, endpoint):
    client = signed_in(owner)
    assert 'type="time"' in page(client, endpoint, "schedules/new/")
    response = client.post(f"/endpoints/{endpoint.pk}/warm/schedules/new/", OFFICE)
    assert response.status_code == 302
    schedule = WarmSchedule.objects.get()
    assert (schedule.weekdays, schedule.warm_workers) == ([0, 1, 2, 3, 4], 1)
    assert "Warm schedule saved" in page(client, endpoint)


def test_end_before_start_is_explained_next_to_the_field(owner, endpoint):
    data = {**OFFICE, "start_time": "22:00", "end_time": "06:00"}
    response = signed_in(owner).post(f"/endpoints/{endpoint.pk}/warm/schedules/new/", data)
    html = response.content.decode()
    assert 'id="id_end_time-errors"' in html
    assert "two schedules" in html
    assert not WarmSchedule.objects.exists()


def test_an_overlap_is_explained_next_to_the_start_time(owner, endpoint):
    client = signed_in(owner)
    client.post(f"/endpoints/{endpoint.pk}/warm/schedules/new/", OFFICE)
    data = {**OFFICE, "name": "late", "start_time": "17:00", "end_time": "20:00"}
    html = client.post(f"/endpoints/{endpoint.pk}/warm/schedules/new/", data).content.decode()
    assert 'id="id_start_time-errors"' in html
    assert "overlaps the schedule &#x27;office&#x27;" in html
    assert WarmSchedule.objects.count() == 1


def test_owner_edits_and_deletes_a_schedule(owner, endpoint):
    client = signed_in(owner)
    client.post(f"/endpoints/{endpoint.pk}/warm/schedules/new/", OFFICE)
    schedule = WarmSchedule.objects.get()
    edit = f"/endpoints/{endpoint.pk}/warm/schedules/{schedule.pk}/"
    assert 'value="09:00"' in page(client, endpoint, f"schedules/{schedule.pk}/")
    assert client.post(edit, {**OFFICE, "warm_workers": "3"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.warm_workers == 3
    assert client.post(f"{edit}delete/").status_code == 302
    assert not WarmSchedule.objects.exists()


def test_members_cannot_open_the_editor_or_press_buttons(member, endpoint):
    client = signed_in(member)
    base = f"/endpoints/{endpoint.pk}/warm/"
    assert client.get(f"{base}schedules/new/").status_code == 403
    assert client.post(f"{base}schedules/new/", OFFICE).status_code == 403
    for action in ("keep-warm/", "cool-down/", "warm-up/"):
        assert client.post(f"{base}{action}", {"minutes": "30", "workers": "1"}).status_code == 403
    assert not WarmSchedule.objects.exists()
    assert not WarmState.objects.filter(keep_warm_until__isnull=False).exists()


def test_keep_warm_on_an_unreachable_endpoint_says_so(owner, endpoint):
    client = signed_in(owner)
    response = client.post(
        f"/endpoints/{endpoint.pk}/warm/keep-warm/", {"minutes": "30", "workers": "1"}
    )
    assert response.status_code == 302
    html = page(client, endpoint)
    assert "RunPod could not be asked" in html
    assert "Warming: 0 of 1 ready" in html


def test_bad_keep_warm_minutes_are_explained(owner, endpoint):
    client = signed_in(owner)
    client.post(f"/endpoints/{endpoint.pk}/warm/keep-warm/", {"minutes": "0", "workers": "1"})
    assert "minutes: Keep warm for 1 to 720 minutes." in page(client, endpoint)
    assert not WarmState.objects.filter(keep_warm_until__isnull=False).exists()


def test_keep_alive_mode_is_said_with_the_reason(member, endpoint):
    WarmState.objects.create(
        endpoint=endpoint,
        mode=WarmMode.KEEP_ALIVE,
        keep_warm_until=timezone.now() + timedelta(hours=1),
        keep_warm_workers=1,
        keep_alive_jobs=[{"id": "job-1"}],
    )
    html = page(signed_in(member), endpoint, "state/")
    assert "Keep-alive mode: keeping 1 worker(s) busy-warm (1 keep-alive job(s) in flight)" in html
    assert "RunPod refused endpoint management (403)" in html
    assert 'hx-trigger="every 15s"' in html


def test_an_unknown_team_time_zone_pauses_the_pool_visibly(member, endpoint, team):
    team.time_zone = "Mars/Olympus_Mons"
    team.save()
    html = page(signed_in(member), endpoint)
    assert "Paused" in html
    assert "Unknown time zone" in html
