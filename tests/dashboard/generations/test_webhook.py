"""POST /hooks/runpod/<id>/<token>/: authenticated by the URL's token, idempotent."""

import pytest
from django.test import Client

from dashboard.generations.models import GeneratedImage, Status
from tests.dashboard.factories import inline_output, make_generation, png_bytes


@pytest.fixture
def generation(member, endpoint):
    return make_generation(member, endpoint, status=Status.SUBMITTED, runpod_job_id="job-1")


def _hook(generation, body, token=None):
    url = f"/hooks/runpod/{generation.pk}/{token or generation.webhook_token}/"
    return Client().post(url, body, content_type="application/json")


def _completed():
    return {
        "id": "job-1",
        "status": "COMPLETED",
        "executionTime": 900,
        "output": inline_output(png_bytes()),
        "input": {},
        "webhook": "x",
    }


def test_webhook_completes_the_generation(generation):
    response = _hook(generation, _completed())
    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 1


def test_duplicate_and_late_webhooks_are_harmless(generation):
    assert _hook(generation, _completed()).status_code == 200
    assert _hook(generation, _completed()).status_code == 200
    late = {"id": "job-1", "status": "FAILED", "error": "late"}
    assert _hook(generation, late).status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert GeneratedImage.objects.count() == 1


def test_wrong_token_is_404_and_changes_nothing(generation):
    response = _hook(generation, _completed(), token="x" * 43)
    assert response.status_code == 404
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED


def test_unknown_generation_is_404(generation):
    response = Client().post(
        f"/hooks/runpod/{generation.pk + 1}/{generation.webhook_token}/",
        {},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_body_that_is_not_a_job_is_400(generation):
    assert _hook(generation, "not json").status_code == 400
    assert _hook(generation, {"hello": 1}).status_code == 400


def test_webhook_only_accepts_post(generation):
    assert (
        Client().get(f"/hooks/runpod/{generation.pk}/{generation.webhook_token}/").status_code
        == 405
    )
