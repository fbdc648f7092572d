"""RunPodClient against the RunPod emulator (real HTTP) and a scripted server for edge cases."""

import pytest
import requests

from dashboard.fleet.runpod_client import (
    RunPodAuthError,
    RunPodClient,
    RunPodForbidden,
    RunPodNotFound,
    RunPodUnavailable,
)
from tests.dashboard.scripted_http import ScriptedServer
from tests.support.processes import free_port, wait_until

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def client(server, *, api_key="local-dev-key", endpoint_id="local", retries=3) -> RunPodClient:
    base = f"{server.base_url}/v2"
    return RunPodClient(
        endpoint_id=endpoint_id,
        api_key=api_key,
        api_base=base,
        rest_base=base,
        timeout=5,
        retries=retries,
    )


def _final(rp: RunPodClient, job_id: str) -> dict:
    return wait_until(
        lambda: (job := rp.status(job_id))["status"] in FINAL and job,
        timeout=30,
        what=f"job {job_id} to finish",
    )


def test_run_then_status_returns_the_full_job_object(runpod):
    rp = client(runpod)
    accepted = rp.run({"echo": "hello"})
    assert accepted["status"] == "IN_QUEUE"
    job = _final(rp, accepted["id"])
    assert job["status"] == "COMPLETED"
    assert job["output"]["echo"] == "hello"
    assert isinstance(job["executionTime"], int)
    assert "delayTime" in job


def test_failed_job_keeps_its_error_text(runpod):
    rp = client(runpod)
    job = _final(rp, rp.run({"fail": "Unknown model 'foo'"})["id"])
    assert job["status"] == "FAILED"
    assert job["error"] == "Unknown model 'foo'"


def test_runsync_returns_the_whole_job(runpod):
    job = client(runpod).runsync({"echo": 1}, wait_ms=20000)
    assert job["status"] == "COMPLETED"
    assert job["id"].startswith("sync-")
    assert job["output"]["echo"] == 1


def test_cancel_and_retry(runpod):
    rp = client(runpod)
    job_id = rp.run({"sleep": 30})["id"]
    assert rp.cancel(job_id)["status"] == "CANCELLED"
    failed = _final(rp, rp.run({"fail": "boom"})["id"])
    assert rp.retry(failed["id"])["status"] == "IN_QUEUE"


def test_health_purge_and_endpoint_management(runpod):
    rp = client(runpod)
    assert set(rp.health()) >= {"jobs", "workers"}
    assert "removed" in rp.purge_queue()
    assert rp.get_endpoint()["id"] == "local"
    updated = rp.update_endpoint({"workers": {"idleTimeout": 30}})
    assert updated["workers"]["idleTimeout"] == 30
    assert "summary" in rp.workers()


def test_wrong_key_raises_auth_error(runpod):
    with pytest.raises(RunPodAuthError) as error:
        client(runpod, api_key="wrong").health()
    assert error.value.status_code == 401


def test_unknown_endpoint_raises_not_found(runpod):
    with pytest.raises(RunPodNotFound):
        client(runpod, endpoint_id="nope").health()


def test_unknown_or_expired_job_raises_not_found(runpod):
    with pytest.raises(RunPodNotFound):
        client(runpod).status("no-such-job-u1")


def test_read_only_key_is_forbidden_on_management(runpod):
    rp = client(runpod, api_key="read-only-key")
    assert "jobs" in rp.health()
    with pytest.raises(RunPodForbidden):
        rp.update_endpoint({"workers": {"min": 1}})


def test_injected_5xx_are_retried_until_an_answer_comes(runpod):
    faults = {"fault_rate": 0.3, "fault_statuses": [502, 503]}
    requests.post(f"{runpod.base_url}/emulator/faults", json=faults, timeout=5)
    rp = client(runpod, retries=8)
    for _ in range(15):
        assert "jobs" in rp.health()


def test_unreachable_raises_unavailable():
    rp = RunPodClient(
        endpoint_id="x", api_key="k", api_base=f"http://127.0.0.1:{free_port()}/v2", retries=1
    )
    with pytest.raises(RunPodUnavailable, match="connection refused"):
        rp.health()


def test_rate_limit_is_retried_after_the_servers_pause():
    script = [(429, {"error": "slow down"}), (503, {}), (200, {"jobs": {}, "workers": {}})]
    with ScriptedServer(script, headers={"Retry-After": "0"}) as server:
        assert client(server).health() == {"jobs": {}, "workers": {}}
        assert len(server.requests) == 3


def test_persistent_5xx_raises_unavailable_after_the_retries():
    with ScriptedServer([(503, {"error": "busy"})] * 5) as server:
        with pytest.raises(RunPodUnavailable, match="503"):
            client(server, retries=2).health()
        assert len(server.requests) == 3


def test_run_whose_answer_was_lost_is_not_sent_again():
    """The job may exist already; sending /run again could run it twice."""
    with ScriptedServer(["drop", (200, {"id": "j2", "status": "IN_QUEUE"})]) as server:
        with pytest.raises(RunPodUnavailable):
            client(server).run({"prompt": "x"})
        assert server.requests == [("POST", "/v2/local/run")]


def test_status_whose_answer_was_lost_is_asked_again():
    with ScriptedServer(["drop", (200, {"id": "j", "status": "IN_QUEUE"})]) as server:
        assert client(server).status("j")["status"] == "IN_QUEUE"
        assert len(server.requests) == 2


def test_client_never_shows_its_key():
    rp = RunPodClient(endpoint_id="x", api_key="rpa_SECRET")
    assert "rpa_SECRET" not in repr(rp)
