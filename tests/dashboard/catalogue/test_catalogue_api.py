"""The catalogue API: list with filters, sorts and pagination; a model; previews; volume usage;
starting syncs (owners and admins) and reading sync runs. Another team's things are 404s."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.catalogue.models import FolderUsage, SyncRun, SyncStatus
from tests.dashboard.catalogue.conftest import PREVIEW_PNG, make_model
from tests.dashboard.factories import make_endpoint, make_generation, make_member, make_team

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"


@pytest.fixture
def models(endpoint):
    return {
        "sdxl": make_model(endpoint, SDXL, architecture="sdxl", size=300, title="SDXL Base"),
        "flux": make_model(endpoint, "flux.safetensors", architecture="flux", size=200),
        "lora": make_model(
            endpoint, "pixel.safetensors", subtype="LoRA", trigger_phrase="pixel art"
        ),
        "gone": make_model(endpoint, "gone.safetensors", size=50, missing_since=timezone.now()),
    }


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]]


def test_members_list_the_teams_models_with_filters(member, models, api_client):
    client = api_client(member)
    body = client.get("/api/v1/models").json()
    assert body["count"] == 4
    first = body["items"][0]
    assert set(first) >= {
        "id",
        "name",
        "subtype",
        "title",
        "architecture",
        "size",
        "uses",
        "missing",
    }
    assert names(client.get("/api/v1/models?subtype=LoRA")) == ["pixel.safetensors"]
    assert names(client.get("/api/v1/models?architecture=flux")) == ["flux.safetensors"]
    assert names(client.get("/api/v1/models?missing=true")) == ["gone.safetensors"]
    assert names(client.get("/api/v1/models?q=pixel%20art")) == ["pixel.safetensors"]
    assert names(client.get("/api/v1/models?q=OfficialStableDiffusion/sd_xl_base_1.0")) == [SDXL]


def test_sorts_and_pages(member, endpoint, models, api_client):
    for _ in range(3):
        make_generation(member, endpoint, model="flux")
    client = api_client(member)
    assert names(client.get("/api/v1/models?sort=size&subtype=Stable-Diffusion"))[:2] == [
        SDXL,
        "flux.safetensors",
    ]
    by_use = client.get("/api/v1/models?sort=uses").json()["items"]
    assert (by_use[0]["name"], by_use[0]["uses"]) == ("flux.safetensors", 3)
    page = client.get("/api/v1/models?sort=name&limit=2&offset=2").json()
    assert page["count"] == 4
    assert [item["name"] for item in page["items"]] == ["gone.safetensors", "pixel.safetensors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("subtype=Checkpoint", "subtype"),
        ("sort=price", "sort"),
        ("missing=perhaps", "missing"),
        ("endpoint=abc", "endpoint"),
    ],
)
def test_bad_filters_are_422s_naming_the_field(member, models, api_client, query, field):
    response = api_client(member).get(f"/api/v1/models?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The request has invalid fields."
    assert [error["field"] for error in body["errors"]] == [field]


def test_a_model_with_its_uses_spend_duplicates_and_preview(member, endpoint, api_client):
    sdxl = make_model(endpoint, SDXL, etag="same", metadata={"modelspec.author": "Stability AI"})
    twin = make_model(
        endpoint, "copy.safetensors", etag="same", path="SwarmUI/Models/unet/copy.safetensors"
    )
    sdxl.preview.save("p.png", ContentFile(PREVIEW_PNG))
    generation = make_generation(member, endpoint, model=SDXL, cost=Decimal("0.25"))
    make_generation(member, endpoint, model="OfficialStableDiffusion/sd_xl_base_1.0", cost=None)
    client = api_client(member)
    body = client.get(f"/api/v1/models/{sdxl.pk}").json()
    assert (body["uses"], Decimal(body["spend"]), body["duplicate"]) == (2, Decimal("0.25"), True)
    assert body["duplicate_paths"] == [twin.path]
    assert body["metadata"] == {"modelspec.author": "Stability AI"}
    assert generation.pk in body["generation_ids"]
    assert body["preview_url"] == f"/api/v1/models/{sdxl.pk}/preview"
    preview = client.get(body["preview_url"])
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert b"".join(preview.streaming_content) == PREVIEW_PNG


def test_another_teams_models_usage_and_runs_are_404s(member, models, api_client):
    rival = make_endpoint(make_team("Rivals"), name="theirs")
    theirs = make_model(rival, "secret.safetensors")
    run = SyncRun.objects.create(endpoint=rival, source="s3")
    client = api_client(member)
    for url in (
        f"/api/v1/models/{theirs.pk}",
        f"/api/v1/models/{theirs.pk}/preview",
        f"/api/v1/models?endpoint={rival.pk}",
        f"/api/v1/volume/usage?endpoint={rival.pk}",
        f"/api/v1/catalogue/sync-runs/{run.pk}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found.", "errors": []}
    assert "secret.safetensors" not in names(client.get("/api/v1/models"))
    assert Client().get("/api/v1/models").status_code == 401


def test_volume_usage_of_the_default_or_a_named_endpoint(member, endpoint, api_client):
    second = make_endpoint(member.team, name="second")
    FolderUsage.objects.create(endpoint=endpoint, folder="SwarmUI", bytes=1000, files=3)
    FolderUsage.objects.create(endpoint=second, folder="ComfyUI", bytes=50, files=1)
    client = api_client(member)
    default = client.get("/api/v1/volume/usage").json()
    assert default["endpoint"] == endpoint.pk
    assert [(f["folder"], f["bytes"], f["files"]) for f in default["folders"]] == [
        ("SwarmUI", 1000, 3)
    ]
    named = client.get(f"/api/v1/volume/usage?endpoint={second.pk}").json()
    assert [f["folder"] for f in named["folders"]] == ["ComfyUI"]


def test_admins_start_a_sync_members_may_not(
    member, endpoint, api_client, django_capture_on_commit_callbacks, sent_tasks
):
    admin = make_member(member.team, Role.ADMIN)
    denied = api_client(member).post(
        "/api/v1/catalogue/sync", {"endpoint": endpoint.pk}, content_type="application/json"
    )
    assert denied.status_code == 403
    assert "owners and admins" in denied.json()["detail"]
    client = api_client(admin)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            "/api/v1/catalogue/sync", {"endpoint": endpoint.pk}, content_type="application/json"
        )
    assert started.status_code == 202
    body = started.json()
    assert (body["status"], body["source"], body["requested_by"]) == (
        "running",
        "worker",
        admin.user.username,
    )
    again = client.post(
        "/api/v1/catalogue/sync", {"endpoint": endpoint.pk}, content_type="application/json"
    )
    assert again.json()["id"] == body["id"]  # the running one, not a second sync
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [("catalogue.sync", (body["id"],))]


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({}, 422, "endpoint"),
        ({"endpoint": "main"}, 422, "endpoint"),
        ({"endpoint": 999999}, 404, None),
    ],
)
def test_sync_needs_a_team_endpoint(owner, endpoint, api_client, payload, status, field):
    response = api_client(owner).post(
        "/api/v1/catalogue/sync", payload, content_type="application/json"
    )
    assert response.status_code == status
    if field:
        assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not SyncRun.objects.exists()


def test_sync_runs_newest_first(member, endpoint, api_client):
    now = timezone.now()
    old = SyncRun.objects.create(
        endpoint=endpoint,
        source="s3",
        status=SyncStatus.SUCCEEDED,
        added=5,
        started_at=now - timedelta(hours=1),
        finished_at=now - timedelta(minutes=59),
        errors=[{"path": "SwarmUI/Models/Lora/", "message": "token repeated"}],
    )
    new = SyncRun.objects.create(endpoint=endpoint, source="s3")
    client = api_client(member)
    runs = client.get("/api/v1/catalogue/sync-runs").json()["items"]
    assert [run["id"] for run in runs] == [new.pk, old.pk]
    assert runs[1]["duration_seconds"] == 60.0
    assert runs[1]["errors"][0]["message"] == "token repeated"
    single = client.get(f"/api/v1/catalogue/sync-runs/{new.pk}").json()
    assert (single["status"], single["finished_at"]) == ("running", None)
