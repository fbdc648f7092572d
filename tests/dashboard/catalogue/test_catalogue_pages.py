"""Catalogue pages: cards, filters, sorts, badges, the model page, previews behind membership,
volume usage, sync runs and the admins' Sync now."""

import html
import re
from datetime import timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.catalogue import services
from dashboard.catalogue.models import FolderUsage, SyncRun, SyncStatus
from tests.dashboard.catalogue.conftest import PREVIEW_PNG, SPECIAL_NAME, make_model
from tests.dashboard.factories import (
    make_endpoint,
    make_generation,
    make_member,
    make_team,
)

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def listed(response) -> list[str]:
    """Model names of the cards, in page order."""
    return [html.unescape(name) for name in re.findall(r'data-model="([^"]*)"', response.text)]


def test_cards_show_title_architecture_trigger_size_and_badges(member, endpoint):
    make_model(
        endpoint,
        SDXL,
        title="SDXL 1.0 Base",
        architecture="stable-diffusion-xl-v1-base",
        size=6_938_078_334,
    )
    make_model(endpoint, "pixel.safetensors", subtype="LoRA", trigger_phrase="pixel art", etag="e1")
    make_model(endpoint, "copy.safetensors", subtype="LoRA", etag="e1")
    make_model(endpoint, "gone.safetensors", missing_since=timezone.now())
    make_generation(member, endpoint, model="OfficialStableDiffusion/sd_xl_base_1.0")
    page = signed_in(member).get("/models/")
    assert page.status_code == 200
    text = page.text
    assert "SDXL 1.0 Base" in text
    assert "stable-diffusion-xl-v1-base" in text
    assert "6.5\xa0GB" in text
    assert "pixel art" in text
    assert "used 1\u00d7" in text  # the generation named it without its extension
    assert text.count("badge-duplicate") == 2  # same size and ETag at two paths
    assert text.count("missing on volume") == 1
    assert text.count("never used") == 1  # the missing SD model; LoRAs are not counted


def test_filters_by_subtype_architecture_and_missing(member, endpoint):
    make_model(endpoint, SDXL, architecture="stable-diffusion-xl-v1-base")
    make_model(endpoint, "flux.safetensors", architecture="Flux.1-dev")
    make_model(endpoint, "pixel.safetensors", subtype="LoRA", architecture="Flux.1-dev/lora")
    make_model(endpoint, "gone.safetensors", missing_since=timezone.now())
    client = signed_in(member)
    assert listed(client.get("/models/", {"subtype": "LoRA"})) == ["pixel.safetensors"]
    assert listed(client.get("/models/", {"architecture": "Flux.1-dev"})) == ["flux.safetensors"]
    assert listed(client.get("/models/", {"missing": "missing"})) == ["gone.safetensors"]
    assert "gone.safetensors" not in listed(client.get("/models/", {"missing": "present"}))


def test_the_history_link_finds_the_model_with_or_without_extension(member, endpoint):
    make_model(endpoint, SDXL)
    make_model(endpoint, "Flux/flux1-dev.safetensors")
    client = signed_in(member)
    assert listed(client.get("/models/", {"q": SDXL})) == [SDXL]
    assert listed(client.get("/models/", {"q": "OfficialStableDiffusion/sd_xl_base_1.0"})) == [SDXL]
    assert listed(client.get("/models/", {"q": "FLUX1"})) == ["Flux/flux1-dev.safetensors"]


def test_sorts_by_name_date_size_and_use_count(member, endpoint):
    now = timezone.now()
    make_model(endpoint, "a.safetensors", size=30, modified_at=now - timedelta(days=3))
    make_model(endpoint, "b.safetensors", size=10, modified_at=now)
    make_model(endpoint, "c.safetensors", size=20, modified_at=now - timedelta(days=1))
    for _ in range(2):
        make_generation(member, endpoint, model="c.safetensors")
    make_generation(member, endpoint, model="b")
    client = signed_in(member)
    order = {
        sort: listed(client.get("/models/", {"sort": sort}))
        for sort in ("name", "date", "size", "uses")
    }
    assert order == {
        "name": ["a.safetensors", "b.safetensors", "c.safetensors"],
        "date": ["b.safetensors", "c.safetensors", "a.safetensors"],
        "size": ["a.safetensors", "c.safetensors", "b.safetensors"],
        "uses": ["c.safetensors", "b.safetensors", "a.safetensors"],
    }


def test_unknown_subtype_and_sort_are_a_400_naming_the_field(member, endpoint):
    make_model(endpoint, SDXL)
    response = signed_in(member).get("/models/", {"subtype": "Checkpoint", "sort": "price"})
    assert response.status_code == 400
    assert re.search(r'data-field="subtype">Unknown subtype &#x27;Checkpoint&#x27;', response.text)
    assert 'data-field="sort">Sort by one of: name, date, size, uses' in response.text
    assert listed(response) == [SDXL]  # the bad filters are ignored, not half-applied


def test_preview_is_served_through_a_membership_check(member, endpoint):
    model = make_model(endpoint, SDXL)
    model.preview.save("p.png", ContentFile(PREVIEW_PNG))
    response = signed_in(member).get(f"/models/{model.pk}/preview/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PREVIEW_PNG
    outsider = make_member(make_team("Rivals"), Role.OWNER)
    assert signed_in(outsider).get(f"/models/{model.pk}/preview/").status_code == 404
    assert Client().get(f"/models/{model.pk}/preview/").status_code == 302  # to sign in
    no_preview = make_model(endpoint, "plain.safetensors")
    assert signed_in(member).get(f"/models/{no_preview.pk}/preview/").status_code == 404


def test_another_teams_model_is_not_found(member, endpoint):
    rival_endpoint = make_endpoint(make_team("Rivals"), name="theirs")
    theirs = make_model(rival_endpoint, "secret.safetensors")
    client = signed_in(member)
    assert client.get(f"/models/{theirs.pk}/").status_code == 404
    assert "secret.safetensors" not in client.get("/models/").text


def test_model_page_shows_metadata_generations_spend_and_duplicates(member, endpoint):
    model = make_model(
        endpoint,
        SDXL,
        title="SDXL 1.0 Base",
        trigger_phrase="photo of",
        description="The base model.",
        metadata={"modelspec.author": "Stability AI"},
        etag="same",
    )
    twin = make_model(
        endpoint, "copy.safetensors", etag="same", path="SwarmUI/Models/unet/copy.safetensors"
    )
    for cost in ("0.0125", "0.0075"):
        make_generation(member, endpoint, model=SDXL, prompt=f"fox {cost}", cost=Decimal(cost))
    make_generation(member, endpoint, model="something-else", prompt="not this one")
    page = signed_in(member).get(f"/models/{model.pk}/")
    assert page.status_code == 200
    text = page.text
    for expected in ("SDXL 1.0 Base", "photo of", "The base model.", "Stability AI", model.path):
        assert expected in text
    assert "fox 0.0125" in text
    assert "fox 0.0075" in text
    assert "not this one" not in text
    assert "$0.0200" in text
    assert twin.path in text
    assert "/history/?model=OfficialStableDiffusion/sd_xl_base_1.0.safetensors" in text


def test_usage_panel_and_recent_sync_runs(member, endpoint):
    FolderUsage.objects.create(endpoint=endpoint, folder="SwarmUI", bytes=5 * 2**30, files=120)
    FolderUsage.objects.create(
        endpoint=endpoint, folder="SwarmUI/Models/Lora", bytes=2**20, files=3
    )
    SyncRun.objects.create(
        endpoint=endpoint,
        source="s3",
        status=SyncStatus.SUCCEEDED,
        added=4,
        objects_listed=130,
        errors=[{"path": "SwarmUI/Models/Lora/", "message": "token repeated"}],
        finished_at=timezone.now(),
    )
    text = signed_in(member).get("/models/").text
    assert "5.0\xa0GB" in text
    assert "1.0\xa0MB" in text
    assert "token repeated" in text
    assert ">130<" in text


def test_admins_sync_now_members_may_not(
    owner, member, endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    assert "Sync now" not in signed_in(member).get("/models/").text
    assert signed_in(member).post("/models/sync/", {"endpoint": endpoint.pk}).status_code == 403
    assert not SyncRun.objects.exists()
    client = signed_in(owner)
    assert "Sync now" in client.get("/models/").text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/models/sync/", {"endpoint": endpoint.pk}, HTTP_HX_REQUEST="true")
    run = SyncRun.objects.get()
    assert (run.source, run.requested_by) == ("worker", owner.user)  # no S3 credentials
    assert f'hx-get="/models/sync/{run.pk}/"' in response.text
    assert [t.name for t in sent_tasks.drain()] == ["catalogue.sync"]
    rival = make_endpoint(make_team("Rivals"), name="theirs")
    assert client.post("/models/sync/", {"endpoint": rival.pk}).status_code == 404


def test_sync_now_while_one_runs_joins_it_and_says_so(owner, endpoint, sent_tasks):
    client = signed_in(owner)
    client.post("/models/sync/", {"endpoint": endpoint.pk})
    first = client.get("/models/").text
    client.post("/models/sync/", {"endpoint": endpoint.pk})
    second = client.get("/models/").text
    assert SyncRun.objects.count() == 1
    assert f"Syncing the models of {endpoint.name}." in first
    assert f"A sync of {endpoint.name} was already running." in second


def test_sync_progress_polls_until_the_run_ends(member, volume_endpoint):
    run = services.catalogue_sync(volume_endpoint, trigger="manual")
    client = signed_in(member)
    running = client.get(f"/models/sync/{run.pk}/")
    assert 'hx-trigger="every 1s"' in running.text
    assert "Waiting for a Celery worker" in running.text
    assert f'id="sync-run-{run.pk}"' in client.get("/models/").text
    services.run_sync(sync_run_id=run.pk)
    done = client.get(f"/models/sync/{run.pk}/")
    assert "hx-trigger" not in done.text
    assert "Done: " in done.text


def test_a_synced_volume_shows_up_with_its_previews(member, volume_endpoint):
    run = services.catalogue_sync(volume_endpoint, trigger="manual")
    services.run_sync(sync_run_id=run.pk)
    client = signed_in(member)
    assert listed(client.get("/models/", {"q": "ünï"})) == [SPECIAL_NAME]
    page = client.get("/models/", {"q": SDXL})
    assert listed(page) == [SDXL]
    [preview_url] = re.findall(r'src="(/models/\d+/preview/)"', page.text)
    assert b"".join(client.get(preview_url).streaming_content) == PREVIEW_PNG
