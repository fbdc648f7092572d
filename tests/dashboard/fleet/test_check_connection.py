"""'Test connection' calls /health and says plainly what is wrong."""

from dashboard.fleet.services import endpoint_check_connection
from tests.dashboard.factories import make_endpoint
from tests.support.processes import free_port


def _check(team, runpod, **fields):
    endpoint = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2", **fields)
    return endpoint_check_connection(endpoint=endpoint)


def test_good_endpoint_reports_its_workers_and_queue(team, runpod):
    report = _check(team, runpod)
    assert report.ok
    assert report.message.startswith("Connected. Workers:")
    assert "in queue" in report.message
    assert "jobs" in report.health


def test_bad_key_is_named(team, runpod):
    report = _check(team, runpod, api_key="wrong")
    assert not report.ok
    assert "rejected the API key (401)" in report.message


def test_unknown_endpoint_is_named(team, runpod):
    report = _check(team, runpod, endpoint_id="nope")
    assert not report.ok
    assert "no endpoint 'nope'" in report.message
    assert "Check the endpoint id" in report.message


def test_unreachable_is_named(team, settings):
    settings.RUNPOD_RETRIES = 0
    endpoint = make_endpoint(team, api_base_url=f"http://127.0.0.1:{free_port()}/v2")
    report = endpoint_check_connection(endpoint=endpoint)
    assert not report.ok
    assert "Cannot reach RunPod" in report.message
    assert "connection refused" in report.message


def test_api_reports_the_check(owner, runpod, api_client):
    endpoint = make_endpoint(owner.team, api_base_url=f"{runpod.base_url}/v2", api_key="wrong")
    response = api_client(owner).post(f"/api/v1/endpoints/{endpoint.pk}/test")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert "401" in response.json()["message"]
