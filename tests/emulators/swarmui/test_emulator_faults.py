"""The emulator's own fault-switch routes (docs/emulators.md "Fault switches"): not SwarmUI, never
session-checked, and every switch settable at start or while running."""

from __future__ import annotations

FAULT_KEYS = {"backend_status", "drop_ws_after_steps", "download_delay", "download_fail_rate"}


def test_get_faults_answers_the_whole_state_without_a_session(api):
    state = api.emulator("GET")

    assert set(state) >= FAULT_KEYS
    assert state["backend_status"] == "running"
    assert state["drop_ws_after_steps"] is None


def test_post_faults_changes_a_subset_and_answers_the_whole_state(api):
    state = api.set_faults(download_delay=0.5)

    assert set(state) >= FAULT_KEYS
    assert state["download_delay"] == 0.5
    assert api.emulator("GET")["download_delay"] == 0.5
    assert api.emulator("GET")["backend_status"] == "running"


def test_reset_clears_faults_set_by_flags_and_by_post(start_api):
    api = start_api(
        "--step-delay", "0", "--backend-status", "errored", "--drop-ws-after-steps", "2",
        "--download-fail-rate", "1",
    )  # fmt: skip
    api.set_faults(download_delay=3)

    api.emulator("POST", "reset")

    state = api.emulator("GET")
    assert state["backend_status"] == "running"
    assert state["drop_ws_after_steps"] is None
    assert not state["download_delay"]
    assert not state["download_fail_rate"]
    assert len(api.generate()["images"]) == 1


def test_flags_set_the_initial_fault_state(start_api):
    api = start_api("--download-delay", "0.25", "--download-fail-rate", "0.5")

    state = api.emulator("GET")

    assert (state["download_delay"], state["download_fail_rate"]) == (0.25, 0.5)
