"""Sessions: GetNewSession, restarts and the forget-sessions switch (reference §2, §9 item 3)."""

from __future__ import annotations

import re

from tests.emulators.swarmui.helpers import INVALID_SESSION
from tests.support.processes import wait_until


def test_new_session_is_40_lower_case_hex_chars(api):
    session = api.new_session()

    assert re.fullmatch(r"[0-9a-f]{40}", session["session_id"])


def test_each_new_session_gets_its_own_id(api):
    ids = {api.new_session()["session_id"] for _ in range(5)}

    assert len(ids) == 5


def test_new_session_describes_the_local_single_user_install(api):
    session = api.new_session()

    assert session["user_id"] == "local"
    assert session["output_append_user"] is True
    assert isinstance(session["version"], str)
    assert session["version"]
    assert "*" in session["permissions"]
    assert "basic_image_generation" in session["permissions"]


def test_user_flag_names_the_single_user(start_api):
    api = start_api("--step-delay", "0", "--user", "bob")

    assert api.new_session()["user_id"] == "bob"
    assert api.generate_one().startswith("View/bob/raw/")


def test_server_id_is_stable_within_one_process(api):
    assert api.new_session()["server_id"] == api.new_session()["server_id"]


def test_server_id_changes_when_the_server_restarts(start_api, api):
    before = api.new_session()["server_id"]
    api.server.stop()

    restarted = start_api("--step-delay", "0", volume=api.volume)

    assert restarted.new_session()["server_id"] != before


def test_session_survives_a_restart_on_the_same_volume(start_api, api):
    # Sessions are persisted in Data/ unless --no_persist; old ids are revived lazily (§2.2).
    old = api.session_id
    api.server.stop()

    restarted = start_api("--step-delay", "0", volume=api.volume)

    assert restarted.post("GetCurrentStatus", {"session_id": old}).status_code == 200


def test_session_keeps_working_across_calls(api):
    for _ in range(3):
        assert "status" in api.ok("GetCurrentStatus")


def test_forget_sessions_makes_known_ids_401_and_a_new_session_works(api):
    old = api.session_id
    api.ok("GetCurrentStatus")

    api.set_faults(forget_sessions=True)

    response = api.post("GetCurrentStatus", {"session_id": old})
    assert (response.status_code, response.text) == (401, INVALID_SESSION)
    fresh = api.new_session()["session_id"]
    assert api.post("GetCurrentStatus", {"session_id": fresh}).status_code == 200


def test_forget_sessions_is_one_shot(api):
    api.set_faults(forget_sessions=True)
    fresh = api.new_session()["session_id"]

    for _ in range(3):
        assert api.post("GetCurrentStatus", {"session_id": fresh}).status_code == 200


def test_forget_sessions_every_flag_forgets_sessions_periodically(start_api):
    api = start_api("--step-delay", "0", "--forget-sessions-every", "1")
    old = api.session_id

    wait_until(
        lambda: api.post("GetCurrentStatus", {"session_id": old}).status_code == 401,
        timeout=10,
        what="the session to be forgotten",
    )
    assert api.still_serves()
