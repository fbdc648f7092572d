"""Inventory sync over a real S3 protocol server (moto, behind a proxy that misbehaves like RunPod's
S3 on command), and through the worker's list_models when there are no S3 credentials."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.catalogue import services, tasks
from dashboard.catalogue.models import FolderUsage, ModelFile, SyncRun, SyncStatus
from tests.dashboard import factories
from tests.dashboard.catalogue.conftest import (
    EMBEDDED_PNG,
    LORA_ROOT,
    PREVIEW_PNG,
    SD_ROOT,
    SPECIAL_NAME,
    make_model,
)
from tests.dashboard.stack import start_stack


def sync(endpoint, **options) -> SyncRun:
    """Start a sync as the beat would and run its task body here."""
    run = services.catalogue_sync(endpoint, trigger=options.pop("trigger", "schedule"), **options)
    services.run_sync(sync_run_id=run.pk)
    run.refresh_from_db()
    return run


def names(endpoint, **filters) -> set[tuple[str, str]]:
    rows = ModelFile.objects.filter(endpoint=endpoint, **filters)
    return set(rows.values_list("subtype", "name"))


def row(endpoint, name) -> ModelFile:
    return ModelFile.objects.get(endpoint=endpoint, name=name)


def test_first_sync_lists_every_model_as_swarmui_names_it(volume_endpoint):
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.source == "s3"
    assert names(volume_endpoint) == {
        ("Stable-Diffusion", "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"),
        ("Stable-Diffusion", SPECIAL_NAME),
        ("Stable-Diffusion", "old.ckpt"),
        ("Stable-Diffusion", "wan2.1.gguf"),
        ("LoRA", "styles/pixel-art.safetensors"),
        ("LoRA", "copy-of-pixel-art.safetensors"),
        ("VAE", "ae.safetensors"),
    }
    assert (run.added, run.changed, run.missing, run.errors) == (7, 0, 0, [])
    sdxl = row(volume_endpoint, "OfficialStableDiffusion/sd_xl_base_1.0.safetensors")
    assert sdxl.path == f"{SD_ROOT}OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    assert (sdxl.size, sdxl.is_supported_format) == (4096, True)
    assert sdxl.etag
    assert sdxl.modified_at is not None
    assert row(volume_endpoint, "old.ckpt").is_supported_format is False
    assert row(volume_endpoint, "wan2.1.gguf").path == "SwarmUI/Models/diffusion_models/wan2.1.gguf"
    assert run.finished_at is not None
    assert run.duration_seconds >= 0
    assert run.progress.startswith("Done:")


def test_side_files_give_metadata_and_previews(volume_endpoint):
    sync(volume_endpoint)
    sdxl = row(volume_endpoint, "OfficialStableDiffusion/sd_xl_base_1.0.safetensors")
    assert sdxl.title == "SDXL 1.0 Base"
    assert sdxl.architecture == "stable-diffusion-xl-v1-base"
    assert sdxl.description == "The SDXL base model."
    assert sdxl.metadata["modelspec.author"] == "Stability AI"
    assert sdxl.preview.read() == PREVIEW_PNG
    lora = row(volume_endpoint, "styles/pixel-art.safetensors")
    assert (lora.title, lora.trigger_phrase) == ("Pixel Art", "pixel art")
    assert lora.preview.read() == EMBEDDED_PNG  # embedded in .swarm.json, as SwarmUI edits do
    assert "modelspec.preview_image" not in lora.metadata
    vae = row(volume_endpoint, "ae.safetensors")
    assert vae.preview.name.endswith(".png")  # stored by what it is, not what its name says
    assert not row(volume_endpoint, SPECIAL_NAME).preview


def test_quirks_are_skipped_and_every_listing_is_one_folder(volume_endpoint, faulty_s3):
    sync(volume_endpoint)
    paths = set(ModelFile.objects.values_list("path", flat=True))
    assert not any(".s3compat_uploads" in path or "/." in path for path in paths)
    assert faulty_s3.lists
    assert all(request.delimiter == "/" for request in faulty_s3.lists)
    listed = {request.prefix for request in faulty_s3.lists}
    assert not any(".s3compat_uploads" in prefix for prefix in listed)
    assert {f"{LORA_ROOT}empty/", "ComfyUI/models/checkpoints/"} <= listed


def test_usage_per_top_folder(volume_endpoint):
    sync(volume_endpoint)
    usage = {
        u.folder: (u.bytes, u.files) for u in FolderUsage.objects.filter(endpoint=volume_endpoint)
    }
    assert usage["ComfyUI"] == (900, 1)
    assert usage["/"] == (len(b"volume notes"), 1)
    assert usage["SwarmUI/Output"] == (300, 1)
    assert usage["SwarmUI/Models/Lora"][1] == 3  # two models and a side file; no staging parts
    assert usage["SwarmUI/Models/upscale_models"] == (700, 1)
    swarm_bytes, swarm_files = usage["SwarmUI"]
    assert swarm_files == sum(
        files
        for folder, (_, files) in usage.items()
        if folder.count("/") == 1 and folder.startswith("SwarmUI/")
    )
    assert ".s3compat_uploads" not in usage
    assert swarm_bytes > 4096


def test_second_sync_of_an_unchanged_volume_writes_no_model_row(volume_endpoint, faulty_s3):
    sync(volume_endpoint)
    faulty_s3.reset()
    with CaptureQueriesContext(connection) as queries:
        run = sync(volume_endpoint)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))
        and ("catalogue_modelfile" in q["sql"] or "catalogue_folderusage" in q["sql"])
    ]
    assert writes == []
    assert (run.added, run.changed, run.missing, run.unchanged) == (0, 0, 0, 7)
    assert faulty_s3.gets == []  # side files and previews are read only when they change


def test_changes_are_picked_up_and_only_changed_side_files_read(volume_endpoint, volume, faulty_s3):
    sync(volume_endpoint)
    volume.put(f"{SD_ROOT}old.ckpt", b"c" * 2000)
    volume.put(
        f"{LORA_ROOT}styles/pixel-art.swarm.json",
        b'{"modelspec.title": "Pixel Art v2", "modelspec.trigger_phrase": "pixelated"}',
    )
    faulty_s3.reset()
    run = sync(volume_endpoint)
    assert (run.added, run.changed, run.missing) == (0, 2, 0)
    assert row(volume_endpoint, "old.ckpt").size == 2000
    lora = row(volume_endpoint, "styles/pixel-art.safetensors")
    assert (lora.title, lora.trigger_phrase, lora.architecture) == ("Pixel Art v2", "pixelated", "")
    assert not lora.preview  # the new metadata embeds no preview
    assert [path.rsplit("/", 1)[-1] for path in faulty_s3.gets] == ["pixel-art.swarm.json"]


def test_missing_files_are_marked_then_cleared_when_they_come_back(volume_endpoint, volume):
    sync(volume_endpoint)
    volume.delete(f"{SD_ROOT}{SPECIAL_NAME}")
    for key in ("SwarmUI/Models/VAE/ae.safetensors", "SwarmUI/Models/VAE/ae.jpg"):
        volume.delete(key)  # the whole VAE folder is gone
    run = sync(volume_endpoint)
    assert run.missing == 2
    assert names(volume_endpoint, missing_since__isnull=False) == {
        ("Stable-Diffusion", SPECIAL_NAME),
        ("VAE", "ae.safetensors"),
    }
    assert SPECIAL_NAME not in volume_endpoint_known(volume_endpoint)
    volume.put(f"{SD_ROOT}{SPECIAL_NAME}", b"f" * 2048)
    run = sync(volume_endpoint)
    assert (run.changed, run.missing) == (1, 0)
    assert row(volume_endpoint, SPECIAL_NAME).missing_since is None
    assert row(volume_endpoint, "ae.safetensors").missing_since is not None
    assert SPECIAL_NAME in volume_endpoint_known(volume_endpoint)


def volume_endpoint_known(endpoint) -> list[str]:
    endpoint.refresh_from_db()
    return endpoint.known_models


def test_known_models_are_the_present_stable_diffusion_names(volume_endpoint):
    sync(volume_endpoint)
    assert volume_endpoint_known(volume_endpoint) == sorted(
        [
            "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
            SPECIAL_NAME,
            "old.ckpt",
            "wan2.1.gguf",
        ]
    )


def test_pages_are_followed_with_their_continuation_tokens(volume_endpoint, faulty_s3):
    faulty_s3.page_size = 2
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert len(names(volume_endpoint)) == 7
    sd_pages = [r for r in faulty_s3.lists if r.prefix == SD_ROOT]
    assert len(sd_pages) >= 3
    assert sd_pages[0].token is None
    assert all(page.token for page in sd_pages[1:])


def test_a_repeated_token_stops_that_folder_keeps_what_was_seen_and_marks_nothing_missing(
    volume_endpoint, volume, faulty_s3
):
    sync(volume_endpoint)
    usage_before = FolderUsage.objects.get(endpoint=volume_endpoint, folder="SwarmUI")
    volume.put(f"{SD_ROOT}zz-new.safetensors", b"z" * 10)
    faulty_s3.reset()
    faulty_s3.page_size = 2
    faulty_s3.repeat_tokens_in = SD_ROOT
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED  # the rest of the volume was read
    [error] = run.errors
    assert error["path"] == SD_ROOT
    assert "same continuation token twice" in error["message"]
    # Files of the unfinished folder are not declared missing, nor its sub-folders' files.
    assert not ModelFile.objects.filter(endpoint=volume_endpoint, missing_since__isnull=False)
    assert row(volume_endpoint, SPECIAL_NAME).missing_since is None
    assert not ModelFile.objects.filter(name="zz-new.safetensors")  # beyond the repeat: unseen
    # Usage of the folders the stop cut short keeps its last numbers.
    usage_after = FolderUsage.objects.get(endpoint=volume_endpoint, folder="SwarmUI")
    assert (usage_after.bytes, usage_after.files) == (usage_before.bytes, usage_before.files)
    assert run.progress.endswith(", 1 error.")


def test_502s_are_retried(volume_endpoint, faulty_s3):
    faulty_s3.fail_lists = 2
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert [r.status for r in faulty_s3.lists[:3]] == [502, 502, 200]
    assert len(names(volume_endpoint)) == 7


def test_a_volume_that_keeps_failing_fails_the_sync_with_a_readable_error(
    volume_endpoint, faulty_s3, settings
):
    settings.VOLUME_S3_MAX_ATTEMPTS = 1  # boto3 counts retries: two attempts in all
    faulty_s3.fail_lists = 2
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.FAILED
    assert "The volume cannot be listed" in run.errors[-1]["message"]
    assert "502" in run.errors[-1]["message"]
    assert run.progress.startswith("Failed:")
    assert not ModelFile.objects.exists()


def test_a_folder_that_keeps_failing_is_reported_and_the_rest_is_read(
    volume_endpoint, faulty_s3, settings
):
    sync(volume_endpoint)
    settings.VOLUME_S3_MAX_ATTEMPTS = 1
    faulty_s3.reset()
    faulty_s3.fail_lists, faulty_s3.fail_lists_in = 2, "ComfyUI/"
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED
    assert [e["path"] for e in run.errors] == ["ComfyUI/"]
    assert not ModelFile.objects.filter(missing_since__isnull=False).exists()


def test_rows_the_worker_reported_give_way_to_the_volume_listing(volume_endpoint):
    make_model(
        volume_endpoint,
        "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
        path="(worker)/Stable-Diffusion/OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
    )
    run = sync(volume_endpoint)
    assert run.status == SyncStatus.SUCCEEDED
    assert not ModelFile.objects.filter(path__startswith="(worker)/").exists()
    assert row(
        volume_endpoint, "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    ).path.startswith(SD_ROOT)


# --- starting, claiming, scheduling ---------------------------------------------------------------
def test_only_one_sync_runs_per_endpoint(
    volume_endpoint, owner, django_capture_on_commit_callbacks, sent_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.catalogue_sync(volume_endpoint, trigger="manual", user=owner.user)
        second = services.catalogue_sync(volume_endpoint, trigger="manual", user=owner.user)
    assert second.pk == first.pk
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [("catalogue.sync", (first.pk,))]
    assert first.requested_by == owner.user
    assert first.trigger == "manual"


def test_a_task_delivered_twice_runs_the_sync_once(volume_endpoint):
    run = services.catalogue_sync(volume_endpoint, trigger="manual")
    assert tasks.sync_catalogue(run.pk) == SyncStatus.SUCCEEDED
    assert tasks.sync_catalogue(run.pk) is None
    assert SyncRun.objects.get(pk=run.pk).added == 7


def test_a_silent_running_sync_is_abandoned_for_a_new_one(volume_endpoint):
    stale = services.catalogue_sync(volume_endpoint, trigger="manual")
    SyncRun.objects.filter(pk=stale.pk).update(
        heartbeat_at=timezone.now() - services.STALE_AFTER - timedelta(seconds=1)
    )
    fresh = services.catalogue_sync(volume_endpoint, trigger="manual")
    assert fresh.pk != stale.pk
    stale.refresh_from_db()
    assert stale.status == SyncStatus.FAILED
    assert "abandoned" in stale.errors[-1]["message"]


def test_an_action_during_a_sync_asks_for_one_more(volume_endpoint):
    running = services.catalogue_sync(volume_endpoint, trigger="schedule")
    assert services.catalogue_sync(volume_endpoint, trigger="action").pk == running.pk
    services.run_sync(sync_run_id=running.pk)
    follow_up = SyncRun.objects.get(endpoint=volume_endpoint, status=SyncStatus.RUNNING)
    assert follow_up.trigger == "action"
    assert follow_up.pk != running.pk


def test_members_may_not_start_a_sync(volume_endpoint, member):
    with pytest.raises(PermissionDenied):
        services.catalogue_sync(volume_endpoint, trigger="manual", user=member.user)
    assert not SyncRun.objects.exists()


def test_the_beat_syncs_every_endpoint(
    team, volume_endpoint, sent_tasks, django_capture_on_commit_callbacks
):
    other = factories.make_endpoint(factories.make_team(), name="no-volume")
    assert settings.CELERY_BEAT_SCHEDULE["sync-model-catalogues"] == {
        "task": "catalogue.schedule_syncs",
        "schedule": float(settings.CATALOGUE_SYNC_INTERVAL_SECONDS),
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.schedule_catalogue_syncs() == 2
    runs = {run.endpoint_id: run.source for run in SyncRun.objects.all()}
    assert runs == {volume_endpoint.pk: "s3", other.pk: "worker"}
    assert sorted(t.name for t in sent_tasks.drain()) == ["catalogue.sync", "catalogue.sync"]


# --- without S3 credentials: the worker's list_models ---------------------------------------------
@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("cloud"), runpod_flags=("--workers-min", "1"))
    yield stack
    stack.stop()


@pytest.mark.slow
def test_without_s3_credentials_the_worker_lists_the_models(cloud, team):
    endpoint = factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)
    run = sync(endpoint)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.source == "worker"
    assert names(endpoint) == {
        ("Stable-Diffusion", "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"),
        ("Stable-Diffusion", "Flux/flux1-schnell-tiny.safetensors"),
        ("LoRA", "OfficialStableDiffusion/sd_xl_offset_example-lora_1.0.safetensors"),
        ("VAE", "Flux/ae.safetensors"),
    }
    sdxl = row(endpoint, "OfficialStableDiffusion/sd_xl_base_1.0.safetensors")
    assert (sdxl.title, sdxl.architecture) == (
        "Stable Diffusion XL 1.0 Base",
        "stable-diffusion-xl-v1-base",
    )
    assert (sdxl.size, sdxl.etag) == (0, "")
    assert volume_endpoint_known(endpoint) == [
        "Flux/flux1-schnell-tiny.safetensors",
        "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
    ]
    # The model leaves the volume (deleted through the worker): the next sync marks it missing.
    deleted = endpoint.runpod_client().runsync(
        {"action": "delete_model", "model_name": "Flux/ae.safetensors", "subtype": "VAE"},
        wait_ms=60_000,
    )
    assert deleted["status"] == "COMPLETED", deleted
    run = sync(endpoint)
    assert (run.added, run.changed, run.missing) == (0, 0, 1)
    assert row(endpoint, "Flux/ae.safetensors").is_missing
