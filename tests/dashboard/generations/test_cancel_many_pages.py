"""Cancelling many generations from the pages: the history selection bar's *Cancel running* and
the generate page's *Cancel all my running*, with what they say afterwards."""

from __future__ import annotations

import pytest

from dashboard.generations.models import Status
from tests.dashboard.factories import make_endpoint, make_finished_generation, make_generation
from tests.dashboard.generations.test_cancel_many_api import statuses
from tests.dashboard.generations.test_pages import signed_in
from tests.dashboard.scripted_http import ScriptedServer


def said(response) -> list[str]:
    """The flash messages on the page a redirect led to."""
    return [str(message) for message in response.context["messages"]]


# --- the selection bar ---------------------------------------------------------------------------
def test_history_selection_bar_offers_cancel_to_members_only(member, viewer, endpoint):
    button = 'name="action" value="cancel"'
    assert button in signed_in(member).get("/history/").content.decode()
    assert button not in signed_in(viewer).get("/history/").content.decode()


def test_selection_cancel_cancels_running_ones_and_counts_the_finished(member, endpoint):
    queued = make_generation(member, endpoint)
    submitted = make_generation(member, endpoint, status=Status.SUBMITTED)
    finished = make_finished_generation(member, endpoint)
    data = {
        "generation": [queued.pk, submitted.pk],
        "image": [finished.images.get().pk],
        "action": "cancel",
        "next": "/history/?status=running",
    }

    response = signed_in(member).post("/history/selection/", data, follow=True)

    assert response.redirect_chain == [("/history/?status=running", 302)]
    assert said(response) == ["Cancelled 2 generations. 1 had already finished."]
    assert statuses(queued, submitted, finished) == ["cancelled", "cancelled", "succeeded"]


def test_selection_cancel_by_a_viewer_or_of_someone_elses_is_403(viewer, member, owner, endpoint):
    owners = make_generation(owner, endpoint)
    data = {"generation": [owners.pk], "action": "cancel"}

    as_viewer = signed_in(viewer).post("/history/selection/", data)
    as_member = signed_in(member).post("/history/selection/", data)

    assert as_viewer.status_code == 403
    assert as_member.status_code == 403
    assert "Only its author or a team admin" in as_member.content.decode()
    assert statuses(owners) == ["queued"]


def test_selection_cancel_with_another_teams_id_is_404(member, endpoint, rival, rival_endpoint):
    mine, theirs = make_generation(member, endpoint), make_generation(rival, rival_endpoint)
    data = {"generation": [mine.pk, theirs.pk], "action": "cancel"}
    assert signed_in(member).post("/history/selection/", data).status_code == 404
    assert statuses(mine, theirs) == ["queued", "queued"]


def test_selection_cancel_says_which_runpod_could_not_cancel(member, team, settings):
    settings.RUNPOD_RETRIES = 0
    with ScriptedServer([(503, {"error": "try later"})]) as runpod:
        endpoint = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
        running = make_generation(member, endpoint, status=Status.RUNNING, runpod_job_id="job-1")
        data = {"generation": [running.pk], "action": "cancel"}
        response = signed_in(member).post("/history/selection/", data, follow=True)

    [summary, failure] = said(response)
    assert summary == "Cancelled 0 generations."
    assert failure.startswith(f"RunPod could not cancel #{running.pk}; it is still running: ")
    assert "try later" in failure
    assert statuses(running) == ["running"]


# --- cancel all my running (the generate page) ---------------------------------------------------
def test_generate_page_has_the_cancel_all_button_for_members_only(member, viewer, endpoint):
    assert 'id="cancel-mine"' in signed_in(member).get("/").content.decode()
    assert 'id="cancel-mine"' not in signed_in(viewer).get("/").content.decode()


def test_cancel_all_my_running_cancels_mine_and_returns_to_generate(member, owner, endpoint):
    mine = [make_generation(member, endpoint) for _ in range(3)]
    owners = make_generation(owner, endpoint)

    response = signed_in(member).post("/generations/mine/cancel/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert said(response) == ["Cancelled 3 generations."]
    assert statuses(*mine) == ["cancelled"] * 3
    assert statuses(owners) == ["queued"]


def test_cancel_all_but_the_newest(member, endpoint):
    older, newest = make_generation(member, endpoint), make_generation(member, endpoint)

    response = signed_in(member).post(
        "/generations/mine/cancel/", {"keep_newest": "1", "next": "/history/"}, follow=True
    )

    assert response.redirect_chain == [("/history/", 302)]
    assert said(response) == [f"Cancelled 1 generation. Kept the newest, #{newest.pk}, running."]
    assert statuses(older, newest) == ["cancelled", "queued"]


def test_cancel_all_with_nothing_running_says_so(member, endpoint):
    make_generation(member, endpoint, status=Status.FAILED)
    response = signed_in(member).post("/generations/mine/cancel/", follow=True)
    assert said(response) == ["None of your generations is running."]


@pytest.mark.parametrize("value", ["yes", "2"])
def test_cancel_all_with_a_bad_keep_newest_is_a_400_naming_it(member, endpoint, value):
    generation = make_generation(member, endpoint)
    response = signed_in(member).post("/generations/mine/cancel/", {"keep_newest": value})
    assert response.status_code == 400
    assert "keep_newest" in response.content.decode()
    assert statuses(generation) == ["queued"]


def test_viewers_may_not_cancel_all(viewer, endpoint):
    generation = make_generation(viewer, endpoint)
    response = signed_in(viewer).post("/generations/mine/cancel/")
    assert response.status_code == 403
    assert "Viewers cannot change generations." in response.content.decode()
    assert statuses(generation) == ["queued"]
