"""Submit, follow and cancel generations against the emulated cloud, one service call at a time."""

import hashlib
import uuid

import pytest
import requests
from PIL import Image

from dashboard.fleet.runpod_client import RunPodNotFound
from dashboard.generations.models import Status
from dashboard.generations.services import (
    SubmitResult,
    generation_cancel,
    poll_generation,
    refresh_generation,
    submit_generation,
)
from tests.dashboard.factories import make_endpoint, make_generation
from tests.support.processes import free_port, wait_until

pytestmark = pytest.mark.slow


def _jobs(cloud, generation) -> list[dict]:
    """The emulator's jobs for this generation (each test's prompt is unique)."""
    return [j for j in cloud.jobs() if j["input"].get("prompt") == generation.prompt]


def _generation(membership, endpoint, **fields):
    """A generation whose prompt no other test uses, to find its job in the emulator."""
    return make_generation(
        membership, endpoint, **{"prompt": f"a red fox {uuid.uuid4().hex[:8]}", **fields}
    )


def _until_final(generation, timeout=60):
    return wait_until(
        lambda: (g := refresh_generation(generation_id=generation.pk)).is_final and g,
        timeout=timeout,
        interval=0.1,
        what=f"generation {generation.pk} to finish",
    )


def test_submitted_generation_runs_and_every_image_is_stored(
    member, cloud, cloud_endpoint, settings
):
    settings.PUBLIC_BASE_URL = "http://dash.example"
    generation = _generation(member, cloud_endpoint, image_count=2, seed=11, steps=3)
    assert submit_generation(generation_id=generation.pk) == SubmitResult.SUBMITTED
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    [job] = _jobs(cloud, generation)
    assert job["id"] == generation.runpod_job_id
    assert job["input"]["images"] == 2
    assert job["executionTimeout"] == settings.GENERATION_EXECUTION_TIMEOUT_MS
    assert job["ttl"] == settings.GENERATION_TTL_MS
    assert job["webhook"] == (
        f"http://dash.example/hooks/runpod/{generation.pk}/{generation.webhook_token}/"
    )

    done = _until_final(generation)
    assert done.status == Status.SUCCEEDED, done.error
    assert done.execution_ms is not None
    assert done.finished_at is not None
    images = list(done.images.order_by("index"))
    assert [image.seed for image in images] == [11, 12]
    for image in images:
        content = image.file.read()
        assert hashlib.sha256(content).hexdigest() == image.sha256
        assert (image.width, image.height) == (512, 512)
        assert image.metadata["sui_image_params"]["prompt"] == generation.prompt
        with Image.open(image.thumbnail) as thumbnail:
            assert thumbnail.format == "WEBP"
            assert max(thumbnail.size) <= settings.THUMBNAIL_SIZE


def test_second_submit_of_the_same_generation_sends_nothing(member, cloud, cloud_endpoint):
    generation = _generation(member, cloud_endpoint)
    assert submit_generation(generation_id=generation.pk) == SubmitResult.SUBMITTED
    assert submit_generation(generation_id=generation.pk) == SubmitResult.SKIPPED
    generation.refresh_from_db()
    assert [j["id"] for j in _jobs(cloud, generation)] == [generation.runpod_job_id]


def test_submit_schedules_the_first_poll(member, cloud, cloud_endpoint, sent_tasks):
    generation = _generation(member, cloud_endpoint)
    submit_generation(generation_id=generation.pk)
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [
        ("generations.poll", (generation.pk, 0))
    ]


def test_poll_schedules_the_next_poll_until_final(member, cloud, cloud_endpoint, sent_tasks):
    generation = _generation(member, cloud_endpoint)
    submit_generation(generation_id=generation.pk)
    sent_tasks.drain()
    polled = poll_generation(generation_id=generation.pk, attempt=3)
    if not polled.is_final:
        [task] = sent_tasks.drain()
        assert (task.name, task.args) == ("generations.poll", (generation.pk, 4))
        assert task.eta is not None
    _until_final(generation)
    sent_tasks.drain()
    poll_generation(generation_id=generation.pk, attempt=5)
    assert sent_tasks.drain() == []


def test_handler_error_is_shown_as_the_workers_text(member, cloud, cloud_endpoint):
    generation = _generation(member, cloud_endpoint, model="no_such_model")
    submit_generation(generation_id=generation.pk)
    done = _until_final(generation)
    assert done.status == Status.FAILED
    assert "no_such_model" in done.error


def test_bad_api_key_fails_the_generation_with_advice(member, cloud, cloud_endpoint):
    cloud_endpoint.set_api_key("wrong-key")
    cloud_endpoint.save()
    generation = _generation(member, cloud_endpoint)
    assert submit_generation(generation_id=generation.pk) == SubmitResult.FAILED
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "rejected the API key" in generation.error
    assert _jobs(cloud, generation) == []


def test_unreachable_runpod_is_retried_later_then_given_up(member, team, settings, sent_tasks):
    settings.RUNPOD_RETRIES = 0
    settings.GENERATION_SUBMIT_MAX_ATTEMPTS = 2
    endpoint = make_endpoint(team, api_base_url=f"http://127.0.0.1:{free_port()}/v2")
    generation = _generation(member, endpoint)
    assert submit_generation(generation_id=generation.pk) == SubmitResult.RETRY
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert "connection refused" in generation.error
    [task] = sent_tasks.drain()
    assert (task.name, task.args) == ("generations.submit", (generation.pk,))
    assert submit_generation(generation_id=generation.pk) == SubmitResult.FAILED
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "after 2 attempts" in generation.error


def test_cancel_stops_the_runpod_job_and_marks_cancelled(member, cloud, cloud_endpoint):
    # SwarmUI "loading" holds the generation inside the worker until the job is cancelled.
    requests.post(
        f"{cloud.swarmui.base_url}/emulator/faults", json={"backend_status": "loading"}, timeout=5
    )
    generation = _generation(member, cloud_endpoint)
    submit_generation(generation_id=generation.pk)
    generation.refresh_from_db()
    cancelled = generation_cancel(generation=generation, user=member.user)
    assert cancelled.status == Status.CANCELLED
    [job] = _jobs(cloud, generation)
    assert job["status"] == "CANCELLED"


def test_cancel_before_submission_means_it_is_never_sent(member, cloud, cloud_endpoint):
    generation = _generation(member, cloud_endpoint)
    assert generation_cancel(generation=generation, user=member.user).status == Status.CANCELLED
    assert submit_generation(generation_id=generation.pk) == SubmitResult.SKIPPED
    assert _jobs(cloud, generation) == []


def test_expired_job_times_out_with_an_explanation(member, cloud, cloud_endpoint):
    """RunPod forgets results (here after 3 s: --run-retention 3); /status then answers 404."""
    generation = _generation(member, cloud_endpoint)
    submit_generation(generation_id=generation.pk)
    generation.refresh_from_db()
    client = cloud_endpoint.runpod_client()
    wait_until(lambda: client.status(generation.runpod_job_id)["status"] == "COMPLETED", timeout=60)

    def expired():
        try:
            client.status(generation.runpod_job_id)
        except RunPodNotFound:
            return True
        return False

    wait_until(expired, timeout=30, interval=0.2, what="the job to expire")
    done = refresh_generation(generation_id=generation.pk)
    assert done.status == Status.TIMED_OUT
    assert "no longer knows this job" in done.error


def _finished_job(endpoint, generation) -> dict:
    client = endpoint.runpod_client()
    return wait_until(
        lambda: (job := client.status(generation.runpod_job_id))["status"] == "COMPLETED" and job,
        timeout=60,
        what="the job to complete",
    )


def _volume_mode(endpoint, *, bucket="vol", s3_url="", region=""):
    """Switch the endpoint to volume outputs, read over the S3 API at `s3_url`."""
    endpoint.output_mode = "volume"
    if s3_url:
        endpoint.volume_id = bucket
        endpoint.volume_s3_endpoint_url = s3_url
        endpoint.volume_s3_region = region
        endpoint.set_volume_credentials("user_test", "rps_test")
    endpoint.save()


def _run_on_runpod(membership, endpoint, **fields):
    """Submit a generation and wait for RunPod to finish it; the dashboard has not looked yet."""
    generation = _generation(membership, endpoint, **fields)
    submit_generation(generation_id=generation.pk)
    generation.refresh_from_db()
    return generation, _finished_job(endpoint, generation)


def test_volume_outputs_are_fetched_over_the_volumes_s3_api(
    member, cloud, cloud_endpoint, moto_s3, volume_bucket
):
    bucket, s3 = volume_bucket
    _volume_mode(cloud_endpoint, bucket=bucket, s3_url=moto_s3.base_url, region="EU-RO-1")
    generation, job = _run_on_runpod(member, cloud_endpoint, image_count=2)
    paths = [image["path"] for image in job["output"]["images"]]
    assert all(image["type"] == "volume" for image in job["output"]["images"])
    # RunPod's S3 API serves the volume's own files; here we copy them into the fake S3 server.
    for path in paths:
        s3.put_object(Bucket=bucket, Key=path, Body=(cloud.volume / path).read_bytes())

    done = refresh_generation(generation_id=generation.pk)
    assert done.status == Status.SUCCEEDED, done.error
    stored = [image.file.read() for image in done.images.order_by("index")]
    assert stored == [(cloud.volume / path).read_bytes() for path in paths]


def test_volume_file_missing_fails_the_generation(
    member, cloud, cloud_endpoint, moto_s3, volume_bucket
):
    bucket, _ = volume_bucket
    _volume_mode(cloud_endpoint, bucket=bucket, s3_url=moto_s3.base_url)
    generation, _ = _run_on_runpod(member, cloud_endpoint)
    done = refresh_generation(generation_id=generation.pk)
    assert done.status == Status.FAILED
    assert "no file" in done.error


def test_volume_outputs_without_credentials_fail_with_advice(member, cloud, cloud_endpoint):
    _volume_mode(cloud_endpoint)
    generation, _ = _run_on_runpod(member, cloud_endpoint)
    done = refresh_generation(generation_id=generation.pk)
    assert done.status == Status.FAILED
    assert "no S3 credentials" in done.error


def test_unreachable_volume_keeps_the_generation_running_to_try_again(
    member, cloud, cloud_endpoint, settings
):
    settings.VOLUME_S3_MAX_ATTEMPTS = 1
    _volume_mode(cloud_endpoint, s3_url=f"http://127.0.0.1:{free_port()}")
    generation, _ = _run_on_runpod(member, cloud_endpoint)
    later = refresh_generation(generation_id=generation.pk)
    assert later.status == Status.RUNNING
    assert later.phase == "Saving"
    assert not later.images.exists()


def test_refreshed_model_list_comes_from_the_volume_and_guards_generations(
    owner, member, cloud, cloud_endpoint, api_client
):
    response = api_client(owner).post(f"/api/v1/endpoints/{cloud_endpoint.pk}/refresh-models")
    assert response.status_code == 200
    names = response.json()
    assert "OfficialStableDiffusion/sd_xl_base_1.0.safetensors" in names
    cloud_endpoint.refresh_from_db()
    assert cloud_endpoint.known_models == names
    body = {"prompt": "a fox", "width": 512, "height": 512, "model": "sd_xl_base_1.0"}
    ok = api_client(member).post("/api/v1/generations", body, content_type="application/json")
    assert ok.status_code == 201
    assert ok.json()["model"] == "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    bad = api_client(member).post(
        "/api/v1/generations", {**body, "model": "nope"}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "model"


def test_members_cannot_refresh_models(member, cloud_endpoint, api_client):
    response = api_client(member).post(f"/api/v1/endpoints/{cloud_endpoint.pk}/refresh-models")
    assert response.status_code == 403
