"""Names and paths that come from outside never reach a header, a storage path or a zip member
unsanitised: a worker's hostile file names, and the names admins give models on the volume."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.generations.models import GeneratedImage
from tests.dashboard import factories

HOSTILE_NAMES = [
    '../../../etc/passwd"\r\nX-Evil: 1.png',
    "..\\..\\windows\\win.ini",
    "/absolute/path.png",
    "name with spaces and ünïcödé.png",
    "a" * 400 + ".png",
]
SAFE_FILENAME = re.compile(r'^(inline|attachment); filename="[A-Za-z0-9._-]+"$')
SAFE_MEMBER = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.fixture
def hostile(db):
    """A generation whose worker named its images with every trick above."""
    membership = factories.make_member(factories.make_team(), Role.OWNER)
    endpoint = factories.make_endpoint(membership.team)
    output = factories.inline_output(*[factories.png_bytes() for _ in HOSTILE_NAMES])
    for image, name in zip(output["images"], HOSTILE_NAMES, strict=True):
        image["filename"] = name
    generation = factories.make_generation(membership, endpoint, image_count=len(HOSTILE_NAMES))
    from dashboard.generations.services import ingest_outputs

    ingest_outputs(generation=generation, output=output)
    client = Client()
    client.force_login(membership.user)
    return membership, generation, client


def test_stored_paths_ignore_the_workers_file_names(hostile):
    membership, generation, _ = hostile
    for image in GeneratedImage.objects.filter(generation=generation):
        for stored in (image.file.name, image.thumbnail.name):
            assert stored.startswith(f"generations/{membership.team_id}/")
            assert ".." not in stored
            assert "\\" not in stored
            assert "\r" not in stored


def test_image_downloads_carry_safe_file_names(hostile):
    _, generation, client = hostile
    ids = list(generation.images.values_list("pk", flat=True))
    urls = [
        url
        for pk in ids
        for url in (
            f"/images/{pk}/",
            f"/images/{pk}/thumbnail/",
            f"/api/v1/images/{pk}/file",
            f"/api/v1/images/{pk}/thumbnail",
        )
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SAFE_FILENAME.match(response["Content-Disposition"]), response["Content-Disposition"]
        assert response["Content-Type"] in ("image/png", "image/webp")
        assert response["X-Content-Type-Options"] == "nosniff"


def test_zip_downloads_have_safe_names_and_members(hostile):
    _, generation, client = hostile
    ids = list(generation.images.values_list("pk", flat=True))
    page = client.post("/history/selection/zip/", {"image": ids})
    api = client.post(
        "/api/v1/images/zip", json.dumps({"image_ids": ids}), content_type="application/json"
    )
    for response in (page, api):
        assert response.status_code == 200
        assert SAFE_FILENAME.match(response["Content-Disposition"]), response["Content-Disposition"]
        content = b"".join(response.streaming_content)
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
        assert len(names) == len(HOSTILE_NAMES) + 1  # the images and metadata.json
        for name in names:
            assert SAFE_MEMBER.match(name), name
            assert ".." not in name


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "../../../../etc/cron.d/job"),
        ("name", "/root/.ssh/authorized_keys"),
        ("name", "models\\..\\..\\evil"),
        ("folder", "../outside"),
        ("folder", "/absolute"),
    ],
)
def test_model_download_refuses_names_that_leave_the_models_folder(db, settings, field, value):
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["huggingface.co"]  # no DNS here: skip resolving it
    admin = factories.make_member(factories.make_team(), Role.ADMIN)
    factories.make_endpoint(admin.team)
    client = Client()
    client.force_login(admin.user)
    body = {
        "url": "https://huggingface.co/o/r/resolve/main/m.safetensors",
        "subtype": "LoRA",
        field: value,
    }
    response = client.post(
        "/api/v1/models/downloads", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_model_rename_refuses_path_tricks(db):
    admin = factories.make_member(factories.make_team(), Role.ADMIN)
    endpoint = factories.make_endpoint(admin.team)
    from dashboard.catalogue.models import ModelFile, Subtype

    model = ModelFile.objects.create(
        endpoint=endpoint,
        path="SwarmUI/Models/Lora/style.safetensors",
        folder="SwarmUI/Models/Lora/",
        subtype=Subtype.LORA,
        name="style.safetensors",
    )
    client = Client()
    client.force_login(admin.user)
    for name in ("../../escape", "/etc/passwd", "a/../../b"):
        response = client.post(
            f"/api/v1/models/{model.pk}/rename",
            json.dumps({"new_name": name}),
            content_type="application/json",
        )
        assert response.status_code == 422, (name, response.content)
        assert response.json()["errors"][0]["field"] == "new_name"
