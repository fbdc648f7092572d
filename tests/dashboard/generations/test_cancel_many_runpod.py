"""Cancelling many generations whose jobs RunPod holds: each is cancelled at the (emulated)
RunPod, and an endpoint RunPod refuses leaves its generations as they were."""

from __future__ import annotations

import json

import pytest

from dashboard.generations.models import Generation, Status
from dashboard.generations.services import SubmitResult, submit_generation
from tests.dashboard.factories import make_endpoint, make_generation
from tests.support.emulators import runpod_server, started_servers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runpod(tmp_path_factory):
    """A RunPod emulator without workers: every job waits IN_QUEUE until it is cancelled."""
    log_dir = tmp_path_factory.mktemp("runpod")
    with started_servers(lambda: runpod_server(log_dir, "--workers-max", "0")) as start:
        yield start()


def submitted(membership, endpoint) -> Generation:
    """A generation RunPod has accepted (a real /run), waiting in its queue."""
    generation = make_generation(membership, endpoint)
    assert submit_generation(generation_id=generation.pk) == SubmitResult.SUBMITTED
    generation.refresh_from_db()
    return generation


def job_status(endpoint, generation) -> str:
    return endpoint.runpod_client().status(generation.runpod_job_id)["status"]


def test_bulk_cancel_cancels_every_job_at_runpod(member, team, runpod, api_client):
    endpoint = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
    waiting = [submitted(member, endpoint) for _ in range(3)]
    body = json.dumps({"ids": [g.pk for g in waiting], "action": "cancel"})

    response = api_client(member).post(
        "/api/v1/generations/bulk", body, content_type="application/json"
    )

    assert response.json()["count"] == 3
    assert [job_status(endpoint, g) for g in waiting] == ["CANCELLED"] * 3
    assert {g.status for g in Generation.objects.filter(pk__in=[g.pk for g in waiting])} == {
        Status.CANCELLED
    }


def test_runpod_refusing_one_endpoint_leaves_its_generation_and_cancels_the_rest(
    member, team, runpod, api_client, settings
):
    settings.RUNPOD_RETRIES = 0
    endpoint = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
    cancellable = submitted(member, endpoint)
    doomed_key = make_endpoint(team, api_base_url=f"{runpod.base_url}/v2")
    refused = submitted(member, doomed_key)
    doomed_key.set_api_key("revoked-key")  # the key was revoked after the job was sent
    doomed_key.save()
    not_sent = make_generation(member, endpoint)

    response = api_client(member).post("/api/v1/generations/cancel-mine")

    body = response.json()
    assert (body["cancelled"], body["already_finished"]) == (2, 0)
    [failure] = body["failed"]
    assert (failure["id"], failure["status"]) == (refused.pk, "submitted")
    assert "401" in failure["error"]
    assert job_status(endpoint, cancellable) == "CANCELLED"
    assert job_status(endpoint, refused) == "IN_QUEUE"  # read with the good key
    refused.refresh_from_db()
    assert (refused.status, refused.finished_at) == (Status.SUBMITTED, None)
    assert Generation.objects.get(pk=not_sent.pk).status == Status.CANCELLED
