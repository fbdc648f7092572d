"""Media on S3 (django-storages) against a real S3 protocol server (moto): what settings.py builds
from STORAGE_S3_* is what stores, serves and deletes a generation's images."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from dashboard.generations.models import Status
from dashboard.generations.services import generation_delete, ingest_outputs
from dashboard.storage_settings import media_storage
from tests.dashboard.factories import (
    PASSWORD,
    inline_output,
    make_generation,
    make_member,
    make_team,
    png_bytes,
)
from tests.support.processes import REPO_ROOT

PREFIX = "media"
KEY_ID = "media-key"
SECRET = "media-secret"


@pytest.fixture
def s3_media(moto_s3, settings):
    """A fresh bucket and the default storage pointed at it exactly as settings.py would."""
    bucket = f"media-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3.base_url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    s3.create_bucket(Bucket=bucket)
    storage = media_storage(
        bucket=bucket,
        endpoint_url=moto_s3.base_url,
        region="us-east-1",
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        prefix=f"/{PREFIX}/",
    )
    # Django's setting_changed receiver drops the cached storages, so default_storage follows.
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    return bucket, s3


def _keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _body(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_ingested_image_and_thumbnail_land_in_the_bucket_under_the_prefix(
    s3_media, member, endpoint
):
    bucket, s3 = s3_media
    content = png_bytes(96, 64)
    generation = make_generation(member, endpoint, status=Status.SUCCEEDED)

    assert ingest_outputs(generation=generation, output=inline_output(content)) == 1

    image = generation.images.get()
    folder = f"{PREFIX}/generations/{generation.team_id}/{generation.created_at:%Y/%m}/"
    assert _keys(s3, bucket) == [
        f"{folder}{generation.pk}/0-thumb.webp",
        f"{folder}{generation.pk}/0.png",
    ]
    assert _body(s3, bucket, f"{PREFIX}/{image.file.name}") == content
    assert image.sha256 == hashlib.sha256(content).hexdigest()
    with Image.open(io.BytesIO(_body(s3, bucket, f"{PREFIX}/{image.thumbnail.name}"))) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (96, 64)


def test_image_view_streams_the_stored_bytes_to_members_only(s3_media, member, endpoint):
    content = png_bytes(80, 48, color=(10, 120, 200))
    generation = make_generation(member, endpoint, status=Status.SUCCEEDED)
    ingest_outputs(generation=generation, output=inline_output(content))
    image = generation.images.get()

    client = Client()
    client.login(username=member.user.username, password=PASSWORD)
    response = client.get(f"/images/{image.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == image.sha256

    outsider = make_member(make_team("Elsewhere"))
    client.login(username=outsider.user.username, password=PASSWORD)
    assert client.get(f"/images/{image.pk}/").status_code == 404


def test_urls_of_stored_media_are_signed(s3_media, member, endpoint):
    generation = make_generation(member, endpoint, status=Status.SUCCEEDED)
    ingest_outputs(generation=generation, output=inline_output(png_bytes()))
    url = urlsplit(default_storage.url(generation.images.get().file.name))
    query = parse_qs(url.query)
    # botocore's default presigning for S3 is query-string SigV2 (Signature, Expires).
    assert {"Signature", "Expires"} <= query.keys() or "X-Amz-Signature" in query
    assert url.path.startswith(f"/{s3_media[0]}/{PREFIX}/generations/")


def test_deleting_the_generation_removes_its_objects(s3_media, member, endpoint):
    bucket, s3 = s3_media
    kept = make_generation(member, endpoint, status=Status.SUCCEEDED)
    ingest_outputs(generation=kept, output=inline_output(png_bytes()))
    doomed = make_generation(member, endpoint, status=Status.SUCCEEDED, image_count=2)
    ingest_outputs(generation=doomed, output=inline_output(png_bytes(), png_bytes(color=(0, 0, 0))))
    assert len(_keys(s3, bucket)) == 6

    generation_delete(generation=doomed, user=member.user)

    remaining = _keys(s3, bucket)
    assert len(remaining) == 2
    assert all(f"/{kept.pk}/" in key for key in remaining)


# --- what settings.py builds from the environment ----------------------------------------------
def test_without_a_bucket_media_stays_on_the_filesystem():
    filesystem = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert media_storage(bucket="") == filesystem
    assert media_storage(bucket="  ", region="eu-west-1", prefix="media") == filesystem


def test_a_bucket_switches_media_to_s3_with_private_signed_objects():
    storage = media_storage(
        bucket="team-media",
        endpoint_url="https://s3.example.net",
        region="eu-west-1",
        access_key_id="AKIA1",
        secret_access_key="s3cr3t",
        prefix="swarmdeck/media",
    )
    assert storage == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "team-media",
            "endpoint_url": "https://s3.example.net",
            "region_name": "eu-west-1",
            "access_key": "AKIA1",
            "secret_key": "s3cr3t",
            "location": "swarmdeck/media",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


def test_empty_values_are_left_to_boto3_and_slashes_trimmed_from_the_prefix():
    options = media_storage(bucket="b", endpoint_url=" ", prefix="/m/")["OPTIONS"]
    assert options["endpoint_url"] is None
    assert options["region_name"] is None
    assert options["access_key"] is None
    assert options["secret_key"] is None
    assert options["location"] == "m"


def test_settings_module_builds_storages_from_the_environment():
    """The settings module itself, imported fresh in a process with STORAGE_S3_* set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STORAGE_S3_", "DJANGO_"))
    }
    env |= {
        "STORAGE_S3_BUCKET": "from-env",
        "STORAGE_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "STORAGE_S3_REGION": "eu-central-1",
        "STORAGE_S3_ACCESS_KEY_ID": "id-from-env",
        "STORAGE_S3_SECRET_ACCESS_KEY": "secret-from-env",
        "STORAGE_S3_PREFIX": "/p/",
    }
    script = "import json, dashboard.settings as s; print(json.dumps(s.STORAGES['default']))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    built = json.loads(result.stdout.strip().splitlines()[-1])
    assert built == media_storage(
        bucket="from-env",
        endpoint_url="http://127.0.0.1:9000",
        region="eu-central-1",
        access_key_id="id-from-env",
        secret_access_key="secret-from-env",
        prefix="/p/",
    )
    assert built["OPTIONS"]["location"] == "p"
