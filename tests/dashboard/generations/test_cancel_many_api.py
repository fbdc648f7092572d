"""Cancelling many generations through the API: `POST /generations/bulk` with `cancel` and
`POST /generations/cancel-mine`; who may, what is skipped, and RunPod failing for some of them."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.generations.models import Generation, Status
from tests.dashboard.factories import make_endpoint, make_generation, make_member
from tests.dashboard.scripted_http import ScriptedServer


def bulk_cancel(client: Client, ids: list[int]):
    body = json.dumps({"ids": ids, "action": "cancel"})
    return client.post("/api/v1/generations/bulk", body, content_type="application/json")


def cancel_mine(client: Client, query: str = ""):
    return client.post(f"/api/v1/generations/cancel-mine{query}")


def statuses(*generations) -> list[str]:
    return [Generation.objects.get(pk=g.pk).status for g in generations]


@pytest.fixture
def fast_failing_runpod(settings):
    """RunPod errors are answered at once: no retries."""
    settings.RUNPOD_RETRIES = 0


# --- bulk cancel ---------------------------------------------------------------------------------
def test_bulk_cancel_cancels_the_unfinished_and_skips_the_finished(member, endpoint, api_client):
    queued = make_generation(member, endpoint)
    also_queued = make_generation(member, endpoint)
    done = make_generation(member, endpoint, status=Status.SUCCEEDED)
    failed = make_generation(member, endpoint, status=Status.FAILED, error="out of memory")

    response = bulk_cancel(api_client(member), [queued.pk, also_queued.pk, done.pk, failed.pk])

    assert response.status_code == 200
    assert response.json() == {
        "action": "cancel",
        "count": 2,
        "tags": [],
        "already_finished": 2,
        "failed": [],
    }
    assert statuses(queued, also_queued) == ["cancelled", "cancelled"]
    assert statuses(done, failed) == ["succeeded", "failed"]
    assert Generation.objects.get(pk=failed.pk).error == "out of memory"


def test_bulk_cancel_of_only_finished_ones_cancels_nothing(member, endpoint, api_client):
    done = make_generation(member, endpoint, status=Status.CANCELLED)
    body = bulk_cancel(api_client(member), [done.pk]).json()
    assert (body["count"], body["already_finished"]) == (0, 1)


def test_other_bulk_actions_answer_without_cancel_counts(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    body = json.dumps({"ids": [generation.pk], "action": "star"})
    response = api_client(member).post(
        "/api/v1/generations/bulk", body, content_type="application/json"
    )
    assert response.json() == {"action": "star", "count": 1, "tags": []}


def test_viewers_may_not_bulk_cancel(member, viewer, endpoint, api_client):
    generation = make_generation(member, endpoint)
    response = bulk_cancel(api_client(viewer), [generation.pk])
    assert response.status_code == 403
    assert response.json()["detail"] == "Viewers cannot change generations."
    assert statuses(generation) == ["queued"]


def test_a_member_cancelling_someone_elses_is_403_and_cancels_none(
    member, owner, endpoint, api_client
):
    mine = make_generation(member, endpoint)
    owners = make_generation(owner, endpoint)
    owners_finished = make_generation(owner, endpoint, status=Status.SUCCEEDED)

    response = bulk_cancel(api_client(member), [mine.pk, owners.pk, owners_finished.pk])

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "2 of the selected generations are someone else's; only their author or a team admin "
        "can cancel them."
    )
    assert statuses(mine, owners) == ["queued", "queued"]


def test_admins_cancel_anyones(member, owner, endpoint, api_client):
    members = make_generation(member, endpoint)
    owners = make_generation(owner, endpoint)
    admin = make_member(member.team, Role.ADMIN)
    assert bulk_cancel(api_client(admin), [members.pk, owners.pk]).json()["count"] == 2
    assert statuses(members, owners) == ["cancelled", "cancelled"]


def test_bulk_cancel_naming_another_teams_generation_is_404_and_cancels_none(
    member, endpoint, api_client, rival, rival_endpoint
):
    mine = make_generation(member, endpoint)
    theirs = make_generation(rival, rival_endpoint)
    assert bulk_cancel(api_client(member), [mine.pk, theirs.pk]).status_code == 404
    assert bulk_cancel(api_client(rival), [theirs.pk, mine.pk]).status_code == 404
    assert statuses(mine, theirs) == ["queued", "queued"]


def test_runpod_refusing_one_cancel_leaves_it_as_it_was_and_the_others_go_on(
    member, team, api_client, fast_failing_runpod
):
    with ScriptedServer(
        [(400, {"error": "job is locked"}), (200, {"id": "job-old", "status": "CANCELLED"})]
    ) as runpod:
        endpoint = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
        old = make_generation(member, endpoint, status=Status.RUNNING, runpod_job_id="job-old")
        new = make_generation(member, endpoint, status=Status.RUNNING, runpod_job_id="job-new")

        body = bulk_cancel(api_client(member), [old.pk, new.pk]).json()

    # Newest first: the refused one was asked first, and the other was still asked.
    assert runpod.requests == [
        ("POST", "/v2/local/cancel/job-new"),
        ("POST", "/v2/local/cancel/job-old"),
    ]
    assert body["count"] == 1
    [failure] = body["failed"]
    assert (failure["id"], failure["status"]) == (new.pk, "running")
    assert "job is locked" in failure["error"]
    assert statuses(old, new) == ["cancelled", "running"]


def test_an_unusable_endpoint_is_asked_once_and_the_other_endpoints_go_on(
    member, team, endpoint, api_client, fast_failing_runpod
):
    not_yet_sent = make_generation(member, endpoint)
    with ScriptedServer([(401, {"error": "invalid api key"})]) as runpod:
        revoked = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
        first = make_generation(member, revoked, status=Status.SUBMITTED, runpod_job_id="job-1")
        second = make_generation(member, revoked, status=Status.RUNNING, runpod_job_id="job-2")

        body = bulk_cancel(api_client(member), [not_yet_sent.pk, first.pk, second.pk]).json()

    assert len(runpod.requests) == 1
    assert body["count"] == 1
    assert {(f["id"], f["status"]) for f in body["failed"]} == {
        (first.pk, "submitted"),
        (second.pk, "running"),
    }
    assert all("invalid api key" in f["error"] for f in body["failed"])
    assert statuses(not_yet_sent, first, second) == ["cancelled", "submitted", "running"]


# --- cancel all of mine --------------------------------------------------------------------------
def test_cancel_mine_cancels_only_my_unfinished_ones_in_this_team(
    member, owner, endpoint, api_client, rival, rival_endpoint
):
    mine = [make_generation(member, endpoint) for _ in range(2)]
    my_finished = make_generation(member, endpoint, status=Status.SUCCEEDED)
    owners = make_generation(owner, endpoint)
    me_elsewhere = make_member(rival.team, Role.MEMBER, user=member.user)
    mine_elsewhere = make_generation(me_elsewhere, rival_endpoint)

    response = cancel_mine(api_client(member))

    assert response.status_code == 200
    assert response.json() == {"cancelled": 2, "already_finished": 0, "kept": None, "failed": []}
    assert statuses(*mine) == ["cancelled", "cancelled"]
    assert statuses(my_finished, owners, mine_elsewhere) == ["succeeded", "queued", "queued"]


def test_cancel_mine_can_keep_the_newest_running(member, endpoint, api_client):
    older, newest = make_generation(member, endpoint), make_generation(member, endpoint)
    body = cancel_mine(api_client(member), "?keep_newest=1").json()
    assert (body["cancelled"], body["kept"]) == (1, newest.pk)
    assert statuses(older, newest) == ["cancelled", "queued"]


def test_cancel_mine_with_nothing_running_cancels_nothing(member, endpoint, api_client):
    make_generation(member, endpoint, status=Status.SUCCEEDED)
    body = cancel_mine(api_client(member), "?keep_newest=true").json()
    assert body == {"cancelled": 0, "already_finished": 0, "kept": None, "failed": []}


def test_viewers_may_not_cancel_mine(viewer, endpoint, api_client):
    # A member who generated, then became a viewer: what they started runs on.
    generation = make_generation(viewer, endpoint)
    response = cancel_mine(api_client(viewer))
    assert response.status_code == 403
    assert statuses(generation) == ["queued"]


def test_cancel_mine_with_a_bad_keep_newest_is_422_naming_it(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    response = cancel_mine(api_client(member), "?keep_newest=perhaps")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["keep_newest"]
    assert statuses(generation) == ["queued"]


def test_cancel_mine_needs_a_token(db):
    assert cancel_mine(Client()).status_code == 401
