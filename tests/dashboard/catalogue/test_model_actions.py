"""Model actions end to end: services → RunPod emulator → the real worker → SwarmUI emulator →
the volume; progress, cancel, the audit log, the catalogue after a sync, and tokens kept secret."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import timedelta

import pytest
import requests
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from dashboard.catalogue import actions
from dashboard.catalogue.actions import (
    POLL_TASK,
    REFRESH_TASK,
    SYNC_AFTER_TASK,
    model_action_cancel,
    model_delete_start,
    model_download_start,
    model_edit_start,
    model_rename_start,
    poll_model_action,
    provider_tokens_update,
    reconcile_model_actions,
    refresh_model_action,
)
from dashboard.catalogue.manage_selectors import ACTIVE_STATUSES
from dashboard.catalogue.models import (
    ActionKind,
    ActionStatus,
    AuditEntry,
    ModelAction,
    ModelFile,
    ProviderTokens,
)
from dashboard.devstack import ensure_redis, stop_process
from dashboard.errors import Conflict
from dashboard.fleet.runpod_client import RunPodAuthError
from tests.dashboard import factories
from tests.dashboard.broker import use_broker
from tests.dashboard.catalogue.conftest import make_model
from tests.dashboard.catalogue.manage_support import CHUNK, runpod_jobs
from tests.dashboard.stack import start_stack
from tests.e2e.harness import CeleryWorker, database_url
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fast_passwords")]

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
HF_TOKEN = "hf_TeamSecretToken0123456789"
CIVITAI_TOKEN = "civitai0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("model-cloud"),
        runpod_flags=("--workers-min", "1"),
        worker_env={"PROGRESS_INTERVAL_SECONDS": "0.2"},
    )
    yield stack
    stack.stop()


@pytest.fixture
def cloud_endpoint(cloud, team):
    cloud.reset()
    return factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _until_final(action: ModelAction, timeout: float = 60, seen: list | None = None):
    """Poll RunPod through the service until the action ends; `seen` collects the progress."""

    def final():
        current = refresh_model_action(action_id=action.pk)
        if seen is not None:
            seen.append((current.status, current.progress_percent, current.bytes_per_second))
        return current if current.status not in ACTIVE_STATUSES else None

    return wait_until(final, timeout=timeout, interval=0.1, what=f"model action {action.pk}")


def _worker(endpoint, job_input: dict) -> dict:
    """Run one job on the endpoint's worker and return its output."""
    job = endpoint.runpod_client().runsync(job_input, wait_ms=60_000)
    assert job["status"] == "COMPLETED", job
    return job["output"]


def _listed(endpoint, subtype: str = "Stable-Diffusion") -> list[str]:
    output = _worker(endpoint, {"action": "list_models", "subtype": subtype, "depth": 20})
    return [model["name"] for model in output["models"]]


def _audit(action: ModelAction) -> list[tuple[str, str, str]]:
    entries = AuditEntry.objects.filter(details__action_id=action.pk).order_by("pk")
    return [(entry.action, entry.outcome, entry.username) for entry in entries]


# --- the happy paths through the whole emulated cloud --------------------------------------------
def test_download_lands_on_the_volume_with_progress(
    owner, cloud, cloud_endpoint, model_server, local_downloads, sent_tasks
):
    file_name = _unique("style")
    size = 12 * CHUNK
    url = model_server.url(file_name, size=size, pace=0.25)  # ~3 s: SwarmUI reports every 1 s
    action = model_download_start(membership=owner, url=url, subtype="lora", folder="Team")

    assert (action.kind, action.status, action.subtype) == ("download", "queued", "LoRA")
    assert action.model_name == f"Team/{file_name}.safetensors"
    assert action.params == {
        "action": "download_model",
        "url": url,
        "model_name": f"Team/{file_name}",
        "model_type": "LoRA",
    }
    assert action.runpod_job_id
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [(POLL_TASK, (action.pk, 0))]

    seen: list = []
    done = _until_final(action, seen=seen)
    assert done.status == ActionStatus.SUCCEEDED, done.error
    assert done.progress_percent == 100
    assert done.bytes_per_second > 0  # the last real speed, not SwarmUI's final 0
    assert done.finished_at is not None
    assert any(status == "running" and 0 < (p or 0) < 100 for status, p, _ in seen), seen
    target = cloud.volume / "SwarmUI" / "Models" / "Lora" / "Team" / f"{file_name}.safetensors"
    assert target.stat().st_size == size
    assert _audit(done) == [
        ("download", "started", owner.user.username),
        ("download", "succeeded", owner.user.username),
    ]
    # The catalogue sync it asks for runs in test_celery_follows_a_download_to_the_end_….
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [(SYNC_AFTER_TASK, (done.pk,))]


@pytest.fixture
def celery_worker(transactional_db, settings, tmp_path):
    """A real Celery worker on Redis (its own queue) sharing this test's database."""
    redis_url, redis = ensure_redis(settings.REDIS_URL, tmp_path)
    queue = f"model-actions-{uuid.uuid4().hex[:8]}"
    use_broker(redis_url, queue)
    worker = CeleryWorker(
        queue=queue,
        log_path=tmp_path / "celery.log",
        env={
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
        },
    ).start()
    yield worker
    worker.stop()
    use_broker("memory://")
    stop_process(redis)


def test_celery_follows_a_download_to_the_end_and_syncs_the_catalogue(
    cloud, team, celery_worker, model_server, local_downloads
):
    owner = factories.make_member(team, "owner")
    endpoint = factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)
    name = _unique("celery")
    action = model_download_start(membership=owner, url=model_server.url(name))

    def synced():
        return ModelFile.objects.filter(endpoint=endpoint, name=f"{name}.safetensors").first()

    wait_until(synced, timeout=90, interval=0.2, what=f"{name} in the catalogue")
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED, celery_worker.log()
    assert [entry[1] for entry in _audit(action)] == ["started", "succeeded"]


def test_an_edit_shows_up_in_describe_model_and_in_the_catalogue_row(owner, cloud, cloud_endpoint):
    row = make_model(cloud_endpoint, SDXL, title="Old title", description="kept")
    action = model_edit_start(
        membership=owner,
        model_file=row,
        changes={"title": "Team SDXL", "trigger_phrase": "sdxl style", "tags": "base, xl"},
    )
    assert action.params["metadata"] == {
        "title": "Team SDXL",
        "trigger_phrase": "sdxl style",
        "tags": ["base", "xl"],
    }
    done = _until_final(action)
    assert done.status == ActionStatus.SUCCEEDED, done.error

    described = _worker(cloud_endpoint, {"action": "describe_model", "model_name": SDXL})["model"]
    assert (described["title"], described["trigger_phrase"]) == ("Team SDXL", "sdxl style")
    assert described["tags"] == ["base", "xl"]
    row.refresh_from_db()
    assert (row.title, row.trigger_phrase) == ("Team SDXL", "sdxl style")
    assert _audit(done)[-1][:2] == ("edit", "succeeded")


def test_rename_then_delete_are_reflected_in_list_models(
    owner, cloud, cloud_endpoint, model_server, local_downloads
):
    first, second = _unique("first"), _unique("second")
    download = model_download_start(membership=owner, url=model_server.url(first), name=first)
    assert _until_final(download).status == ActionStatus.SUCCEEDED
    row = make_model(cloud_endpoint, f"{first}.safetensors")

    rename = model_rename_start(membership=owner, model_file=row, new_name=f"Moved/{second}")
    assert rename.params["new_name"] == f"Moved/{second}"
    assert _until_final(rename).status == ActionStatus.SUCCEEDED
    listed = _listed(cloud_endpoint)
    assert f"Moved/{second}.safetensors" in listed
    assert f"{first}.safetensors" not in listed
    assert AuditEntry.objects.filter(details__new_name=f"Moved/{second}.safetensors").count() == 2

    moved = make_model(cloud_endpoint, f"Moved/{second}.safetensors")
    delete = model_delete_start(membership=owner, model_file=moved)
    assert _until_final(delete).status == ActionStatus.SUCCEEDED
    assert f"Moved/{second}.safetensors" not in _listed(cloud_endpoint)
    assert not (cloud.volume / "SwarmUI" / "Models" / "Stable-Diffusion" / "Moved").exists()
    moved.refresh_from_db()
    assert moved.missing_since is not None


def test_cancelling_a_running_download_ends_cancelled_and_leaves_no_file(
    owner, admin, cloud, cloud_endpoint, model_server, local_downloads
):
    name = _unique("slow")
    url = model_server.url(name, size=200 * CHUNK, pace=0.5)  # would take 100 s
    action = model_download_start(membership=owner, url=url)
    wait_until(
        lambda: refresh_model_action(action_id=action.pk).status == ActionStatus.RUNNING,
        timeout=30,
        interval=0.1,
        what="the download to start",
    )

    cancelled = model_action_cancel(membership=admin, action=action)

    assert cancelled.status == ActionStatus.CANCELLED
    assert cancelled.finished_at is not None
    assert _audit(cancelled) == [
        ("download", "started", owner.user.username),
        ("download", "cancelled", admin.user.username),
    ]
    [job] = [job for job in cloud.jobs() if job["id"] == action.runpod_job_id]
    assert job["status"] == "CANCELLED"
    folder = cloud.volume / "SwarmUI" / "Models" / "Stable-Diffusion"
    wait_until(
        lambda: not (folder / f"{name}.download.tmp").exists(),
        timeout=15,
        what="SwarmUI to drop the partial download",
    )
    assert not (folder / f"{name}.safetensors").exists()
    with pytest.raises(Conflict, match="has already cancelled"):
        model_action_cancel(membership=admin, action=cancelled)


def test_a_failed_download_records_the_workers_words(
    owner, cloud, cloud_endpoint, model_server, local_downloads
):
    first = model_download_start(membership=owner, url=model_server.url(_unique("twice")))
    assert _until_final(first).status == ActionStatus.SUCCEEDED
    # The catalogue has not synced, so only the worker can tell that the name is taken.
    second = model_download_start(
        membership=owner, url=model_server.url("other"), name=first.params["model_name"]
    )
    done = _until_final(second)
    assert done.status == ActionStatus.FAILED
    assert done.error == "SwarmUI: Model at that save path already exists."
    assert _audit(done)[-1][:2] == ("download", "failed")
    assert AuditEntry.objects.get(details__action_id=done.pk, outcome="failed").details["error"]


# --- secrets --------------------------------------------------------------------------------------
def test_the_team_token_reaches_runpod_with_the_job_and_is_kept_nowhere_else(
    owner, queued_runpod, queued_endpoint, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    # huggingface.co is not resolved here (no network in tests); the host check is url_guard's.
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["huggingface.co", "civitai.com"]
    settings.MODEL_DOWNLOAD_CHECK_REDIRECTS = False  # no network: redirects cannot be followed
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN, civitai=CIVITAI_TOKEN)
    hugging = model_download_start(
        membership=owner, url="https://huggingface.co/team/models/blob/main/style.safetensors"
    )
    civitai = model_download_start(
        membership=owner,
        url="https://civitai.com/models/42/style?modelVersionId=4242",
        name="civitai_style",
    )

    sent = {job["id"]: job["input"] for job in runpod_jobs(queued_runpod)}
    assert sent[hugging.runpod_job_id]["api_keys"] == {"huggingface_api": HF_TOKEN}
    assert sent[hugging.runpod_job_id]["url"] == (
        "https://huggingface.co/team/models/resolve/main/style.safetensors"
    )
    assert sent[civitai.runpod_job_id]["api_keys"] == {"civitai_api": CIVITAI_TOKEN}
    stored = json.dumps(
        [
            list(ModelAction.objects.values()),
            list(AuditEntry.objects.values("details", "target", "action", "outcome")),
            list(ProviderTokens.objects.values()),
        ],
        default=str,
    )
    for token in (HF_TOKEN, CIVITAI_TOKEN):
        assert token not in stored
        assert token not in caplog.text
    assert "api_keys" not in hugging.params
    tokens_entry = AuditEntry.objects.get(action="tokens")
    assert tokens_entry.details == {"huggingface": "set", "civitai": "set"}


def test_other_hosts_get_no_token(owner, queued_runpod, queued_endpoint, model_server, settings):
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1"]
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    action = model_download_start(membership=owner, url=model_server.url("plain"))
    [job] = [job for job in runpod_jobs(queued_runpod) if job["id"] == action.runpod_job_id]
    assert "api_keys" not in job["input"]


def test_a_token_in_a_worker_error_is_masked(owner, queued_endpoint, model_server, settings):
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1"]
    provider_tokens_update(membership=owner, civitai=CIVITAI_TOKEN)
    action = model_download_start(membership=owner, url=model_server.url("leaky"))
    ended = actions.apply_action_job(
        action_id=action.pk, job={"status": "FAILED", "error": f"401 for key {CIVITAI_TOKEN}"}
    )
    assert ended.error == "401 for key [token]"
    assert CIVITAI_TOKEN not in json.dumps(AuditEntry.objects.get(outcome="failed").details)


def test_tokens_can_be_cleared_and_bad_ones_are_refused(owner):
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN, civitai=CIVITAI_TOKEN)
    provider_tokens_update(membership=owner, huggingface="")
    tokens = ProviderTokens.objects.get(team=owner.team)
    assert (tokens.huggingface_token(), tokens.civitai_token()) == ("", CIVITAI_TOKEN)
    with pytest.raises(ValidationError) as error:
        provider_tokens_update(membership=owner, civitai="two words")
    assert error.value.message_dict == {
        "civitai_token": ["A token has no spaces or line breaks; copy it again."]
    }
    assert tokens.civitai_token() == CIVITAI_TOKEN
    outcomes = list(AuditEntry.objects.filter(action="tokens").values_list("details", flat=True))
    assert outcomes == [{"huggingface": "cleared"}, {"huggingface": "set", "civitai": "set"}]


# --- bad input: field errors, nothing saved, nothing sent -----------------------------------------
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"url": "ftp://huggingface.co/a/b/m.safetensors"}, "url", "Only http:// and https://"),
        ({"url": "https://u:p@huggingface.co/a/b/m.safetensors"}, "url", "user name or password"),
        ({"url": "https://evil.example/m.safetensors"}, "url", "is not one of them"),
        ({"url": "https://huggingface.co/a/b"}, "url", "'Files and versions' tab"),
        ({"url": "https://civitai.com/models/4201"}, "url", "Choose the version"),
        ({"subtype": "Checkpoint"}, "subtype", "Unknown model type 'Checkpoint'"),
        ({"name": "x" * 121}, "name", "longer than 120 characters"),
        ({"name": "v1.5"}, "name", "would be saved as 'v15'"),
        ({"folder": "../outside"}, "folder", "'..' is not allowed"),
        ({"endpoint": 999999}, "endpoint", "Unknown endpoint."),
        (
            {"url": "https://civitai.com/api/download/models/1"},
            "name",
            "does not say what the file is called",
        ),
    ],
)
def test_bad_downloads_name_the_field_and_send_nothing(
    owner, queued_runpod, queued_endpoint, model_server, settings, fields, field, words
):
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1", "civitai.com"]  # no DNS needed
    before = len(runpod_jobs(queued_runpod))
    with pytest.raises(ValidationError) as error:
        model_download_start(membership=owner, **{"url": model_server.url("fine"), **fields})
    assert words in error.value.message_dict[field][0]
    assert len(runpod_jobs(queued_runpod)) == before
    assert not ModelAction.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_download_onto_a_model_already_there_is_refused(
    owner, queued_endpoint, model_server, local_downloads
):
    make_model(queued_endpoint, "taken.safetensors")
    with pytest.raises(ValidationError) as error:
        model_download_start(membership=owner, url=model_server.url("taken"))
    assert "taken.safetensors is already on the volume" in error.value.message_dict["name"][0]


def test_members_and_viewers_may_not_start_anything(member, viewer, queued_endpoint):
    row = make_model(queued_endpoint, SDXL)
    for membership in (member, viewer):
        with pytest.raises(PermissionDenied):
            model_download_start(membership=membership, url="https://huggingface.co/a/b")
        with pytest.raises(PermissionDenied):
            model_delete_start(membership=membership, model_file=row)
        with pytest.raises(PermissionDenied):
            provider_tokens_update(membership=membership, huggingface="x")
    assert not ModelAction.objects.exists()


def test_another_teams_model_is_not_found(owner, other_team_model):
    with pytest.raises(ModelFile.DoesNotExist):
        model_delete_start(membership=owner, model_file=other_team_model)
    with pytest.raises(ModelFile.DoesNotExist):
        model_rename_start(membership=owner, model_file=other_team_model, new_name="mine")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({}, "__all__", "Change at least one field."),
        ({"title": "t" * 301}, "title", "at most 300 characters"),
        ({"standard_width": -8}, "standard_width", "from 0 (unknown) to 16384"),
        ({"standard_width": "wide"}, "standard_width", "whole number"),
        ({"tags": [1, 2]}, "tags", "a list of words"),
        ({"preview_image": "data:x"}, "preview_image", "Not a metadata field"),
    ],
)
def test_bad_edits_name_the_field(owner, queued_endpoint, changes, field, words):
    row = make_model(queued_endpoint, SDXL)
    with pytest.raises(ValidationError) as error:
        model_edit_start(membership=owner, model_file=row, changes=changes)
    assert words in error.value.message_dict[field][0]
    assert not ModelAction.objects.exists()


def test_renames_onto_itself_or_another_model_are_refused(owner, queued_endpoint):
    row = make_model(queued_endpoint, "Flux/tiny.safetensors")
    make_model(queued_endpoint, "Flux/other.safetensors")
    for new_name, words in (
        ("Flux/tiny", "That is its name already."),
        ("Flux/other", "Another Stable-Diffusion model is Flux/other.safetensors."),
        ("Flux/v2.0", "would be saved as 'v20'"),
        ("", "Give the model a name."),
    ):
        with pytest.raises(ValidationError) as error:
            model_rename_start(membership=owner, model_file=row, new_name=new_name)
        [message] = error.value.message_dict["new_name"]
        assert words in message


def test_missing_or_busy_models_cannot_be_changed(owner, queued_endpoint):
    gone = make_model(queued_endpoint, "gone.safetensors", missing_since=timezone.now())
    with pytest.raises(Conflict, match="missing from the volume"):
        model_delete_start(membership=owner, model_file=gone)
    row = make_model(queued_endpoint, SDXL)
    model_edit_start(membership=owner, model_file=row, changes={"title": "one"})
    with pytest.raises(Conflict, match=r"is busy: its edit metadata \(action #\d+\) is still"):
        model_delete_start(membership=owner, model_file=row)


# --- RunPod's side: refusals, polling, lost wake-ups ----------------------------------------------
def test_runpod_refusing_the_job_is_recorded_as_failed(
    owner, team, queued_runpod, model_server, local_downloads
):
    factories.make_endpoint(
        team, name="bad-key", api_key="wrong", api_base_url=f"{queued_runpod.base_url}/v2"
    )
    with pytest.raises(RunPodAuthError):
        model_download_start(membership=owner, url=model_server.url("refused"))
    action = ModelAction.objects.get()
    assert action.status == ActionStatus.FAILED
    assert action.error.startswith("RunPod refused the job: RunPod answered 401")
    assert [entry[1] for entry in _audit(action)] == ["started", "failed"]


def test_polling_reschedules_itself_until_the_action_ends(
    owner, queued_endpoint, model_server, local_downloads, sent_tasks
):
    action = model_download_start(membership=owner, url=model_server.url("polled"))
    sent_tasks.drain()
    assert poll_model_action(action_id=action.pk, attempt=0).status == ActionStatus.QUEUED
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [(POLL_TASK, (action.pk, 1))]
    model_action_cancel(membership=owner, action=action)
    assert poll_model_action(action_id=action.pk, attempt=1).status == ActionStatus.CANCELLED
    assert POLL_TASK not in [task.name for task in sent_tasks.drain()]


def test_the_reconciler_fails_lost_submissions_and_rechecks_the_rest(
    owner, queued_endpoint, model_server, local_downloads, sent_tasks
):
    followed = model_download_start(membership=owner, url=model_server.url("followed"))
    lost = ModelAction.objects.create(
        team=owner.team,
        endpoint=queued_endpoint,
        user=owner.user,
        kind=ActionKind.DELETE,
        subtype="Stable-Diffusion",
        model_name="lost.safetensors",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    sent_tasks.drain()
    assert reconcile_model_actions() == {"lost": 1, "refreshed": 1}
    lost.refresh_from_db()
    assert lost.status == ActionStatus.FAILED
    assert "never reached RunPod" in lost.error
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [(REFRESH_TASK, (followed.pk,))]


def test_an_action_cancelled_while_runpod_is_still_answering_run_is_cancelled_there(
    transactional_db, team, queued_runpod, model_server, local_downloads
):
    owner = factories.make_member(team, "owner")
    factories.make_endpoint(team, name="slow", api_base_url=f"{queued_runpod.base_url}/v2")
    faults = f"{queued_runpod.base_url}/emulator/faults"
    requests.post(faults, json={"response_delay": 1.5}, timeout=5).raise_for_status()
    started: list[ModelAction] = []

    def start() -> None:
        try:
            started.append(model_download_start(membership=owner, url=model_server.url("late")))
        finally:
            connection.close()

    thread = threading.Thread(target=start)
    try:
        thread.start()
        queued = wait_until(ModelAction.objects.first, timeout=10, what="the action row")
        assert queued.runpod_job_id == ""
        assert model_action_cancel(membership=owner, action=queued).status == "cancelled"
        thread.join(timeout=30)
    finally:
        requests.post(f"{queued_runpod.base_url}/emulator/reset", timeout=5)
    [action] = started
    assert action.status == ActionStatus.CANCELLED
    [job] = [job for job in runpod_jobs(queued_runpod) if job["id"] == action.runpod_job_id]
    assert job["status"] == "CANCELLED"
