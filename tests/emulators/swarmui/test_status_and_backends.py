"""GetCurrentStatus, ListBackends, readiness, backend faults and InterruptAll (reference §3.4, §6,
§9 item 9)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.emulators.swarmui.helpers import SwarmAPI
from tests.support.processes import wait_until

BACKEND_KEYS = {
    "type", "status", "id", "settings", "modcount", "features", "enabled", "title",
    "max_usages", "seconds_since_used", "time_since_used", "can_load_models",
}  # fmt: skip
INTERRUPTED = [{"error": "Generation session interrupted."}, {"images": []}]


@pytest.fixture
def background():
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def generate_in_background(pool: ThreadPoolExecutor, api: SwarmAPI, **params) -> Future:
    return pool.submit(api.same_session_client().generate, **params)


def counts(api: SwarmAPI) -> dict:
    return api.ok("GetCurrentStatus")["status"]


def is_generating(api: SwarmAPI) -> bool:
    status = counts(api)
    return status["live_gens"] + status["waiting_gens"] + status["waiting_backends"] > 0


def backend_statuses(api: SwarmAPI) -> set[str]:
    return {backend["status"] for backend in api.ok("ListBackends").values()}


def test_current_status_has_session_counts_backend_summary_and_features(api):
    answer = api.ok("GetCurrentStatus")

    assert set(answer) == {"status", "backend_status", "supported_features"}
    assert answer["status"] == {
        "waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0,
    }  # fmt: skip
    summary = answer["backend_status"]
    assert (summary["status"], summary["class"], summary["any_loading"]) == ("running", "", False)
    assert isinstance(summary["message"], str)
    assert all(isinstance(feature, str) for feature in answer["supported_features"])


def test_status_counts_belong_to_the_calling_session_only(slow_api, background):
    bystander = SwarmAPI(slow_api.server)
    running = generate_in_background(background, slow_api, steps=500)

    wait_until(lambda: is_generating(slow_api), timeout=10, what="the generation to show up")
    assert not is_generating(bystander)

    slow_api.ok("InterruptAll", other_sessions=False)
    running.result(timeout=15)


def test_list_backends_is_an_object_keyed_by_backend_id(api):
    backends = api.ok("ListBackends")

    assert backends
    for key, backend in backends.items():
        assert key == str(backend["id"])
        assert set(backend) >= BACKEND_KEYS
        assert backend["status"] == "running"
        assert backend["enabled"] is True
        assert isinstance(backend["settings"], dict)
        assert "current_model" not in backend


def test_list_backends_full_data_adds_current_model(api):
    backends = api.ok("ListBackends", nonreal=True, full_data=True)

    assert all("current_model" in backend for backend in backends.values())


def test_boot_delay_reports_loading_then_running(start_api):
    api = start_api("--step-delay", "0", "--boot-delay", "3")

    assert backend_statuses(api) == {"loading"}
    summary = api.ok("GetCurrentStatus")["backend_status"]
    assert (summary["status"], summary["class"], summary["any_loading"]) == (
        "loading",
        "soft",
        True,
    )

    wait_until(lambda: backend_statuses(api) == {"running"}, timeout=10, what="backends running")
    summary = api.ok("GetCurrentStatus")["backend_status"]
    assert (summary["status"], summary["any_loading"]) == ("running", False)


def test_generation_during_boot_waits_for_the_backend(start_api):
    api = start_api("--step-delay", "0", "--boot-delay", "2")
    assert backend_statuses(api) == {"loading"}

    image = api.generate_one()

    assert api.output_file(image).is_file()
    assert backend_statuses(api) == {"running"}


def test_loading_backend_fault_holds_generation_until_running(api, background):
    api.set_faults(backend_status="loading")
    pending = generate_in_background(background, api)

    wait_until(lambda: is_generating(api), timeout=10, what="the generation to wait")
    assert not pending.done()

    api.set_faults(backend_status="running")
    assert len(pending.result(timeout=15)["images"]) == 1


@pytest.mark.parametrize(
    ("fault", "summary"), [("errored", "errored"), ("disabled", "all_disabled")]
)
def test_unusable_backends_fail_generation_with_no_backends_available(api, fault, summary):
    api.set_faults(backend_status=fault)

    assert api.generate() == {"error": "No backends available!"}
    assert backend_statuses(api) == {fault}
    status = api.ok("GetCurrentStatus")["backend_status"]
    assert (status["status"], status["class"]) == (summary, "error")


def test_backend_status_flag_sets_the_fault_at_start(start_api):
    api = start_api("--step-delay", "0", "--backend-status", "errored")

    assert backend_statuses(api) == {"errored"}
    assert api.generate() == {"error": "No backends available!"}


def test_interrupt_all_ends_a_running_http_generation(slow_api, background):
    running = generate_in_background(background, slow_api, steps=500)
    wait_until(lambda: is_generating(slow_api), timeout=10, what="the generation to start")

    assert slow_api.ok("InterruptAll", other_sessions=False) == {"success": True}

    assert running.result(timeout=5) in INTERRUPTED


def test_interrupt_all_leaves_other_sessions_alone_by_default(slow_api, background):
    running = generate_in_background(background, slow_api, steps=100)
    wait_until(lambda: is_generating(slow_api), timeout=10, what="the generation to start")

    assert SwarmAPI(slow_api.server).ok("InterruptAll", other_sessions=False) == {"success": True}

    assert len(running.result(timeout=15)["images"]) == 1


def test_interrupt_all_with_other_sessions_ends_the_users_other_generations(slow_api, background):
    running = generate_in_background(background, slow_api, steps=500)
    wait_until(lambda: is_generating(slow_api), timeout=10, what="the generation to start")

    assert SwarmAPI(slow_api.server).ok("InterruptAll", other_sessions=True) == {"success": True}

    assert running.result(timeout=5) in INTERRUPTED
