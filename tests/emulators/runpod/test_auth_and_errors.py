"""Authentication, bad requests, payload limits and rate limits (reference §1.1, §1.5)."""

from __future__ import annotations

import pytest
import requests

from tests.emulators.runpod.helpers import API_KEY, RunPodAPI

MIB = 1024 * 1024
JOB = {"input": {"echo": "hello"}}


@pytest.fixture(scope="module")
def endpoint(start_module_runpod):
    """No worker at all: accepted jobs simply stay IN_QUEUE, which is all these tests need."""
    return start_module_runpod("--cold-start", "0", worker=None)


def without_authorization(api):
    return requests.post(f"{api.endpoint_url}/run", json=JOB, timeout=30)


def with_a_wrong_key(api):
    return requests.post(
        f"{api.endpoint_url}/run",
        json=JOB,
        timeout=30,
        headers={"Authorization": "Bearer not-the-key"},
    )


def on_an_unknown_endpoint(api):
    return api.session.post(f"{api.base_url}/v2/no-such-endpoint/run", json=JOB, timeout=30)


def without_input(api):
    return api.call("POST", "run", json={"webhook": "http://127.0.0.1:9/hook"})


def with_malformed_json(api):
    return api.call(
        "POST", "run", data=b'{"input": {"echo": ', headers={"Content-Type": "application/json"}
    )


def over_10_mb_on_run(api):
    return api.call("POST", "run", json={"input": {"blob": "x" * (11 * MIB)}})


@pytest.mark.parametrize(
    ("send", "expected_statuses"),
    [
        pytest.param(without_authorization, {401}, id="no-authorization-401"),
        pytest.param(with_a_wrong_key, {401}, id="wrong-key-401"),
        pytest.param(on_an_unknown_endpoint, {404}, id="unknown-endpoint-404"),
        pytest.param(without_input, {400}, id="missing-input-400"),
        pytest.param(with_malformed_json, {400}, id="malformed-json-400"),
        pytest.param(over_10_mb_on_run, {400, 413}, id="run-body-over-10mb-400-or-413"),
    ],
)
def test_bad_run_request_is_refused_queues_nothing_and_the_emulator_keeps_serving(
    api, send, expected_statuses
):
    queued_before = api.health()["jobs"]["inQueue"]

    assert send(api).status_code in expected_statuses

    assert api.health()["jobs"]["inQueue"] == queued_before
    assert api.run({"echo": "still serving"}).status_code == 200


def test_raw_api_key_without_bearer_is_accepted(api):
    response = requests.get(
        f"{api.endpoint_url}/health", headers={"Authorization": API_KEY}, timeout=30
    )

    assert response.status_code == 200


def test_runsync_accepts_a_15_mb_body(api):
    response = api.call("POST", "runsync?wait=1000", json={"input": {"blob": "x" * (15 * MIB)}})

    assert response.status_code == 200
    assert response.json()["status"] == "IN_QUEUE"  # accepted; no worker will take it


def test_requests_over_the_rate_limit_get_429_and_other_routes_keep_working(start_api):
    api = start_api("--rate-limit", "5", worker=None)

    answers = [api.run({"echo": index}).status_code for index in range(6)]

    assert answers == [200, 200, 200, 200, 200, 429]
    assert api.call("GET", "health").status_code == 200


def test_job_api_calls_need_the_key_on_every_route(api):
    anonymous = RunPodAPI(api.base_url, api_key=None)

    assert anonymous.call("GET", "health").status_code == 401
    assert anonymous.call("GET", "status/some-job").status_code == 401
    assert anonymous.call("POST", "purge-queue").status_code == 401
