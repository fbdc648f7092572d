"""A generation through the whole stack: REST API → Celery on Redis → RunPod emulator → the real
worker → SwarmUI emulator → images stored, by webhook and by polling."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import requests

from dashboard.generations.models import GeneratedImage, Generation, Status
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

FINAL = {"succeeded", "failed", "cancelled", "timed_out"}


class Api:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", timeout=30)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.session.post(f"{self.base_url}{path}", json=body, timeout=30)

    def generate(self, **params) -> dict:
        body = {
            "prompt": f"a red fox {uuid.uuid4().hex[:6]}",
            "width": 512,
            "height": 512,
            "steps": 4,
            "images": 1,
            **params,
        }
        response = self.post("/api/v1/generations", body)
        assert response.status_code == 201, response.text
        return response.json()

    def wait_final(self, generation_id: int, timeout: float = 60) -> dict:
        def final():
            body = self.get(f"/api/v1/generations/{generation_id}").json()
            return body if body["status"] in FINAL else None

        return wait_until(final, timeout=timeout, interval=0.1, what=f"generation {generation_id}")


@pytest.fixture
def api(live_server, team_on_cloud) -> Api:
    return Api(live_server.url, team_on_cloud["token"])


def _jobs_for(cloud, prompt: str) -> list[dict]:
    return [job for job in cloud.jobs() if job["input"].get("prompt") == prompt]


def test_generation_completes_by_polling_and_images_download(api, cloud, start_celery):
    start_celery()  # no PUBLIC_BASE_URL: no webhook, polling only
    created = api.generate(images=2, seed=5)
    assert created["status"] == "queued"
    done = api.wait_final(created["id"])
    assert done["status"] == "succeeded", done["error"]
    assert [image["seed"] for image in done["images"]] == [5, 6]
    [job] = _jobs_for(cloud, done["prompt"])
    assert job["webhook"] is None
    for image in done["images"]:
        response = api.get(image["url"])
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        stored = GeneratedImage.objects.get(pk=image["id"])
        assert hashlib.sha256(response.content).hexdigest() == stored.sha256
        assert (image["width"], image["height"]) == (512, 512)


def test_generation_completes_by_webhook(api, cloud, start_celery, live_server):
    # Polls would come only after 30 s: finishing sooner proves the webhook did it.
    start_celery(PUBLIC_BASE_URL=live_server.url, GENERATION_POLL_SCHEDULE="30")
    created = api.generate()
    done = api.wait_final(created["id"], timeout=25)
    assert done["status"] == "succeeded", done["error"]
    [job] = _jobs_for(cloud, done["prompt"])
    assert job["webhook"].startswith(f"{live_server.url}/hooks/runpod/{created['id']}/")
    assert len(done["images"]) == 1


def test_duplicate_and_late_webhooks_are_harmless(api, cloud, start_celery, live_server):
    start_celery(PUBLIC_BASE_URL=live_server.url)
    created = api.generate(images=2)
    done = api.wait_final(created["id"])
    assert done["status"] == "succeeded"
    [job] = _jobs_for(cloud, done["prompt"])
    full = requests.get(
        f"{cloud.api_base}/local/status/{job['id']}",
        headers={"Authorization": "Bearer local-dev-key"},
        timeout=10,
    ).json()
    for payload in (
        full,
        full,
        {**full, "status": "IN_PROGRESS", "output": {"percent": 10}},
        {**full, "status": "FAILED", "error": "late"},
    ):
        response = requests.post(job["webhook"], json=payload, timeout=10)
        assert response.status_code == 200
    again = api.get(f"/api/v1/generations/{created['id']}").json()
    assert again["status"] == "succeeded"
    assert [i["id"] for i in again["images"]] == [i["id"] for i in done["images"]]
    assert GeneratedImage.objects.filter(generation_id=created["id"]).count() == 2


def test_webhook_and_fast_polling_race_safely(api, start_celery, live_server):
    start_celery(PUBLIC_BASE_URL=live_server.url, GENERATION_POLL_SCHEDULE="0.05")
    created = [api.generate(images=2) for _ in range(3)]
    for generation in created:
        done = api.wait_final(generation["id"])
        assert done["status"] == "succeeded", done["error"]
        assert len(done["images"]) == 2
    assert GeneratedImage.objects.count() == 6


def test_cancel_through_the_api_stops_the_runpod_job(api, cloud, start_celery):
    start_celery()
    # A SwarmUI whose backend is still loading holds the job inside the worker.
    requests.post(
        f"{cloud.swarmui.base_url}/emulator/faults", json={"backend_status": "loading"}, timeout=5
    )
    created = api.generate()
    wait_until(
        lambda: api.get(f"/api/v1/generations/{created['id']}").json()["runpod_job_id"],
        timeout=30,
        what="the job to be submitted",
    )
    response = api.post(f"/api/v1/generations/{created['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    [job] = _jobs_for(cloud, created["prompt"])
    assert job["status"] == "CANCELLED"


def test_flaky_runpod_api_still_gets_the_images(api, cloud, start_celery):
    start_celery()
    cloud.faults(fault_rate=0.3, fault_statuses=[502, 503])
    created = [api.generate() for _ in range(2)]
    for generation in created:
        assert api.wait_final(generation["id"])["status"] == "succeeded"


def test_bad_input_is_refused_and_nothing_reaches_runpod(api, cloud, start_celery, team_on_cloud):
    start_celery()
    before = len(cloud.jobs())
    response = api.post(
        "/api/v1/generations",
        {"prompt": "x", "width": 1001, "steps": 500, "images": 0, "model": "../etc/passwd"},
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"width", "steps", "images"} <= fields
    assert not Generation.objects.exists()
    assert len(cloud.jobs()) == before


def test_lost_wake_up_is_recovered_by_the_reconciler(team_on_cloud, start_celery):
    """A generation whose submit message never reached Redis is picked up by the reconciler."""
    from dashboard.celery import app as celery_app
    from tests.dashboard.factories import make_generation

    start_celery(GENERATION_STALE_SECONDS="0")
    generation = make_generation(team_on_cloud["member"], team_on_cloud["endpoint"], steps=2)
    celery_app.send_task("generations.reconcile")
    done = wait_until(
        lambda: (g := Generation.objects.get(pk=generation.pk)).is_final and g,
        timeout=60,
        interval=0.1,
        what="the reconciled generation",
    )
    assert done.status == Status.SUCCEEDED, done.error
