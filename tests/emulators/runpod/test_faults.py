"""Fault switches: injected statuses, dropped and held connections, latency (emulator docs)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.emulators.runpod.helpers import eventually


@pytest.fixture(autouse=True)
def _reset_faults(api):
    yield
    api.admin("POST", "reset")  # before `api` cancels leftover jobs, which needs a healthy API


def job_id_with_input(node: object, job_input: dict, key: str | None = None) -> str | None:
    """Search /emulator/state, whatever its layout, for the job that carries `job_input`."""
    if isinstance(node, dict):
        if node.get("input") == job_input:
            return node.get("id", key)
        children = node.items()
    elif isinstance(node, list):
        children = ((None, child) for child in node)
    else:
        return None
    for child_key, child in children:
        found = job_id_with_input(child, job_input, child_key)
        if found:
            return found
    return None


def test_fault_rate_one_answers_public_calls_with_the_fault_status_until_reset(api):
    state = api.set_faults(fault_rate=1, fault_statuses=[503])
    assert (state["fault_rate"], state["fault_statuses"]) == (1, [503])

    assert api.call("GET", "health").status_code == 503
    assert api.run({"echo": "faulted"}).status_code == 503
    assert api.admin("GET", "faults").json()["fault_rate"] == 1  # admin routes are never faulted

    assert api.admin("POST", "reset").status_code == 200
    assert api.call("GET", "health").status_code == 200
    assert api.admin("GET", "faults").json()["fault_rate"] == 0


def test_injected_429_carries_retry_after(api):
    api.set_faults(fault_rate=1, fault_statuses=[429])

    response = api.call("GET", "health")

    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_timeout_fault_holds_the_request_then_closes_it_unanswered(api):
    api.set_faults(fault_rate=1, fault_statuses=["timeout"], fault_timeout=1)

    with pytest.raises(requests.ConnectionError):
        api.call("GET", "health", timeout=20)


def test_dropped_run_response_still_queues_and_completes_the_job(api):
    job_input = {"echo": f"dropped-{uuid.uuid4().hex}"}
    api.set_faults(drop_rate=1)

    with pytest.raises(requests.ConnectionError):
        api.call("POST", "run", json={"input": job_input}, timeout=20)

    job_id = eventually(
        lambda: job_id_with_input(api.admin("GET", "state").json(), job_input),
        lambda found: found,
        what="the dropped job in /emulator/state",
    )
    api.admin("POST", "reset")
    assert api.wait_for_status(job_id)["output"]["echo"] == job_input["echo"]


def test_response_delay_still_answers(api):
    assert api.set_faults(response_delay=0.3)["response_delay"] == 0.3

    response = api.call("GET", "health")

    assert response.status_code == 200
    assert "jobs" in response.json()
