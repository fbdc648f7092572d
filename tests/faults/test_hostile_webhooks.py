"""Duplicate, late, forged and replayed webhooks change nothing they should not.

The URL's per-generation token is the only credential (RunPod signs nothing), so anything without
it is refused; with it, a delivery can still be a duplicate, arrive after the generation finished,
or come from another job of the same generation (an earlier submission whose answer was lost).
Rows and stored files are compared before and after.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from pathlib import Path

import pytest
import requests

from dashboard.generations.models import GeneratedImage, Generation, Status
from tests.dashboard.factories import inline_output, make_generation, png_bytes
from tests.faults.conftest import api_for, launch_dashboard, runpod_call
from tests.faults.ledger import runpod_jobs_by_generation
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dashboard(django_db_setup, tmp_path_factory):
    stack = launch_dashboard(
        tmp_path_factory.mktemp("webhooks"),
        webhooks=True,
        settings={"GENERATION_POLL_SCHEDULE": "0.25,0.5,1"},
    )
    yield stack
    stack.stop()


def hook_url(base: str, generation_id: int, token: str) -> str:
    return f"{base}/hooks/runpod/{generation_id}/{token}/"


def final(generation_id: int) -> Generation:
    return wait_until(
        lambda: (g := Generation.objects.get(pk=generation_id)).is_final and g,
        timeout=60,
        interval=0.05,
        what=f"generation {generation_id}",
    )


def snapshot(generation_ids: list[int], media_root: Path) -> dict:
    """Everything a webhook could change: rows of the generations and their images, and files."""
    rows = list(
        Generation.objects.filter(pk__in=generation_ids)
        .order_by("pk")
        .values("pk", "status", "error", "runpod_job_id", "finished_at", "cost", "worker_id")
    )
    images = list(
        GeneratedImage.objects.filter(generation__in=generation_ids)
        .order_by("pk")
        .values("pk", "generation", "index", "sha256", "file", "thumbnail")
    )
    files = {
        path.relative_to(media_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in media_root.rglob("*")
        if path.is_file()
    }
    return {"generations": rows, "images": images, "files": files}


def test_hostile_webhooks_change_nothing_they_should_not(dashboard, cloud, team_on_cloud, report):
    api = api_for(dashboard, team_on_cloud)
    web = dashboard.web_url
    done = final(api.generate("finished A", images=2)["id"])
    other = final(api.generate("finished B")["id"])
    assert (done.status, other.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    # Running: a backend that is still loading holds its job inside the worker.
    requests.post(
        f"{cloud.swarmui.base_url}/emulator/faults", json={"backend_status": "loading"}, timeout=5
    )
    running_id = api.generate("still running")["id"]
    wait_until(
        lambda: any(
            job["status"] == "IN_PROGRESS"
            for job in runpod_jobs_by_generation(cloud).get(running_id, [])
        ),
        timeout=60,
        interval=0.05,
        what="the job to start",
    )
    running = Generation.objects.get(pk=running_id)
    # Queued, its wake-up not sent yet: nothing has been submitted for it.
    queued = make_generation(team_on_cloud["member"], team_on_cloud["endpoint"])
    genuine = runpod_call(cloud, "GET", f"status/{done.runpod_job_id}").json()
    forged_output = inline_output(png_bytes(color=(0, 255, 0)))
    forged_output["images"][0]["data"] = base64.b64encode(png_bytes(color=(0, 0, 255))).decode()

    untouched = [done.pk, other.pk, queued.pk]
    before = snapshot(untouched, dashboard.media_root)
    deliveries = [
        # duplicates of the genuine delivery
        ("duplicate", done.pk, done.webhook_token, genuine, 200),
        ("duplicate", done.pk, done.webhook_token, genuine, 200),
        # late: progress, failure or cancel after success
        ("late", done.pk, done.webhook_token, {**genuine, "status": "IN_PROGRESS"}, 200),
        ("late", done.pk, done.webhook_token, {**genuine, "status": "FAILED", "error": "x"}, 200),
        ("late", done.pk, done.webhook_token, {**genuine, "status": "CANCELLED"}, 200),
        # forged: without the generation's own token
        ("forged", done.pk, "x" * 43, genuine, 404),
        ("forged", done.pk, other.webhook_token, genuine, 404),
        ("forged", running.pk, "guess", {**genuine, "output": forged_output}, 404),
        ("forged", queued.pk, done.webhook_token, {**genuine, "output": forged_output}, 404),
        ("forged", 10**9, done.webhook_token, genuine, 404),
        ("forged", done.pk, done.webhook_token, "not json", 400),
        ("forged", done.pk, done.webhook_token, {"hello": 1}, 400),
        # replayed: another job's deliveries on a generation's own URL
        ("replayed", other.pk, other.webhook_token, genuine, 200),
        ("replayed", queued.pk, queued.webhook_token, {"id": "old-job", "status": "IN_QUEUE"}, 200),
        (
            "replayed",
            queued.pk,
            queued.webhook_token,
            {"id": "old-job", "status": "IN_PROGRESS", "output": {"percent": 50}},
            200,
        ),
        (
            "replayed",
            running.pk,
            running.webhook_token,
            {"id": "old-job", "status": "FAILED", "error": "an earlier job failed"},
            200,
        ),
    ]
    answers = Counter()
    for kind, generation_id, token, body, expected in deliveries:
        url = hook_url(web, generation_id, token)
        response = (
            requests.post(url, data=body, timeout=10)
            if isinstance(body, str)
            else requests.post(url, json=body, timeout=10)
        )
        answers[f"{kind} {response.status_code}"] += 1
        assert response.status_code == expected, (kind, generation_id, body, response.text)
    after = snapshot(untouched, dashboard.media_root)
    running.refresh_from_db()
    still_following = (running.status, running.runpod_job_id, running.error)

    requests.post(
        f"{cloud.swarmui.base_url}/emulator/faults", json={"backend_status": "running"}, timeout=5
    )
    finished = final(running.pk)
    report(
        deliveries=dict(sorted(answers.items())),
        generations_changed=sum(
            a != b for a, b in zip(before["generations"], after["generations"], strict=True)
        ),
        image_rows_before=len(before["images"]),
        image_rows_after=len(after["images"]),
        files_before=len(before["files"]),
        files_after=len(after["files"]),
        running_generation_after_hostile=still_following,
        running_generation_finally=finished.status,
    )
    assert after == before
    assert still_following[0] in (Status.SUBMITTED, Status.RUNNING)
    assert still_following[1:] == (runpod_jobs_by_generation(cloud)[running.pk][0]["id"], "")
    assert finished.status == Status.SUCCEEDED, finished.error
    assert finished.images.count() == 1
    assert finished.images.get().sha256 != hashlib.sha256(png_bytes(color=(0, 0, 255))).hexdigest()
