"""The history in the REST API: filters, search, cursor pages, stars, tags, bulk actions and
zips; 401 without a token, 403 for viewers' writes, 404 for other teams, 422 naming fields."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest
from django.test import Client
from PIL import Image

from dashboard.generations.models import GeneratedImage, Generation, Status, Tag
from dashboard.generations.services import generations_add_tags
from dashboard.generations.zips import CHUNK_SIZE
from tests.dashboard.factories import (
    make_endpoint,
    make_generation,
    make_stored_generation,
    png_bytes,
)


def post_json(client: Client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def fields_of(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def listed(client: Client, query: str = "") -> list[int]:
    response = client.get(f"/api/v1/generations?{query}")
    assert response.status_code == 200, response.content
    return [g["id"] for g in response.json()["results"]]


# --- the list ------------------------------------------------------------------------------------
def test_list_searches_and_filters_with_the_pages_names(team, member, owner, endpoint, api_client):
    staging = make_endpoint(team, name="staging")
    fox = make_generation(member, endpoint, prompt="a cyberpunk fox", starred=True)
    owl = make_generation(owner, staging, prompt="an owl", negative_prompt="blurry fox")
    generations_add_tags(generations=[owl], names=["Keeper"], user=member.user)
    client = api_client(member)

    assert listed(client, "q=cyber") == [fox.pk]
    assert listed(client, "q=fox") == [owl.pk, fox.pk]
    assert listed(client, f"endpoint={staging.pk}") == [owl.pk]
    assert listed(client, "tag=keeper") == [owl.pk]
    assert listed(client, "starred=true") == [fox.pk]
    assert listed(client, "from=2000-01-01&to=2999-12-31&q=owl") == [owl.pk]
    assert listed(client, "to=2000-01-01") == []


def test_list_shows_star_and_tags(member, endpoint, api_client):
    generation = make_generation(member, endpoint, starred=True)
    generations_add_tags(generations=[generation], names=["wip", "Client-A"], user=member.user)
    [body] = api_client(member).get("/api/v1/generations").json()["results"]
    assert body["starred"] is True
    assert body["tags"] == ["Client-A", "wip"]


def test_next_keeps_the_filters_and_pages_without_gaps(member, endpoint, api_client):
    made = [make_generation(member, endpoint, prompt=f"fox {i}") for i in range(5)]
    make_generation(member, endpoint, prompt="an owl")
    client = api_client(member)
    seen, url = [], "/api/v1/generations?q=fox&page_size=2"
    while url:
        body = client.get(url).json()
        seen += [g["id"] for g in body["results"]]
        assert body["previous"] is None
        url = body["next"]
        assert url is None or "q=fox" in url
    assert seen == [g.pk for g in reversed(made)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=not-a-cursor", "cursor"),
        ("status=exploded", "status"),
        ("q=" + "x" * 201, "q"),
        ("tag=%3Cscript%3E", "tag"),
        ("endpoint=main", "endpoint"),
        ("from=31.12.2025", "from"),
        ("from=2025-02-02&to=2025-02-01", "to"),
        ("starred=perhaps", "starred"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(member, endpoint, api_client, query, field):
    response = api_client(member).get(f"/api/v1/generations?{query}")
    assert response.status_code == 422
    assert field in fields_of(response)


def test_the_list_needs_a_token(db):
    assert Client().get("/api/v1/generations").status_code == 401


# --- stars and tags on one generation ------------------------------------------------------------
def test_star_and_unstar(member, owner, endpoint, api_client):
    generation = make_generation(owner, endpoint)
    client = api_client(member)
    starred = client.post(f"/api/v1/generations/{generation.pk}/star")
    assert starred.status_code == 200
    assert starred.json()["starred"] is True
    unstarred = client.delete(f"/api/v1/generations/{generation.pk}/star")
    assert unstarred.json()["starred"] is False
    generation.refresh_from_db()
    assert not generation.starred


def test_add_and_remove_tags(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    client = api_client(member)
    url = f"/api/v1/generations/{generation.pk}/tags"
    added = post_json(client, url, {"names": ["client x", "wip"]})
    assert added.status_code == 200
    assert added.json()["tags"] == ["client x", "wip"]
    removed = client.delete(f"{url}/Client%20X")
    assert removed.status_code == 200
    assert removed.json()["tags"] == ["wip"]


@pytest.mark.parametrize(
    "body",
    [
        {"names": ["<img src=x onerror=alert(1)>"]},
        {"names": ["x" * 41]},
        {"names": []},
        {"names": "wip"},
        {},
    ],
)
def test_bad_tag_names_are_422_and_nothing_changes(member, endpoint, api_client, body):
    generation = make_generation(member, endpoint)
    response = post_json(api_client(member), f"/api/v1/generations/{generation.pk}/tags", body)
    assert response.status_code == 422
    assert fields_of(response) & {"tags", "names"}
    assert not Tag.objects.exists()


def test_removing_a_tag_with_markup_in_its_name_is_422(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    response = api_client(member).delete(f"/api/v1/generations/{generation.pk}/tags/%3Cb%3E")
    assert response.status_code == 422
    assert fields_of(response) == {"tags"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "star", None),
        ("delete", "star", None),
        ("post", "tags", {"names": ["wip"]}),
        ("delete", "tags/wip", None),
    ],
)
def test_single_curation_routes_guard_access(
    member, viewer, endpoint, api_client, rival, method, path, body
):
    generation = make_generation(member, endpoint)
    generations_add_tags(generations=[generation], names=["wip"], user=member.user)
    url = f"/api/v1/generations/{generation.pk}/{path}"

    def call(client):
        if body is None:
            return getattr(client, method)(url)
        return client.post(url, json.dumps(body), content_type="application/json")

    assert call(Client()).status_code == 401
    assert call(api_client(viewer)).status_code == 403
    assert call(api_client(rival)).status_code == 404
    generation.refresh_from_db()
    assert not generation.starred
    assert [t.name for t in generation.tags.all()] == ["wip"]


# --- tag autocomplete ----------------------------------------------------------------------------
def test_tags_autocomplete_by_prefix_for_the_team_only(member, endpoint, api_client, rival):
    generation = make_generation(member, endpoint)
    generations_add_tags(
        generations=[generation], names=["client-a", "Client-B", "wip"], user=member.user
    )
    Tag.objects.create(team=rival.team, name="client-rival")
    client = api_client(member)
    names = [t["name"] for t in client.get("/api/v1/tags?prefix=CLI").json()]
    assert names == ["client-a", "Client-B"]
    assert len(client.get("/api/v1/tags").json()) == 3
    assert client.get("/api/v1/tags?prefix=" + "x" * 41).status_code == 422
    assert api_client(rival).get("/api/v1/tags?prefix=cli").json() == [
        {"id": Tag.objects.get(name="client-rival").pk, "name": "client-rival"}
    ]
    assert Client().get("/api/v1/tags").status_code == 401


def test_another_teams_tags_are_404_through_its_slug(member, api_client, rival):
    response = api_client(member).get("/api/v1/tags", HTTP_X_TEAM=rival.team.slug)
    assert response.status_code == 404


# --- bulk ----------------------------------------------------------------------------------------
def bulk(client: Client, ids: list[int], action: str, **extra):
    return post_json(client, "/api/v1/generations/bulk", {"ids": ids, "action": action, **extra})


def test_bulk_star_tag_untag_unstar(member, owner, endpoint, api_client):
    generations = [make_generation(owner, endpoint), make_generation(member, endpoint)]
    ids = [g.pk for g in generations]
    client = api_client(member)

    assert bulk(client, ids, "star").json() == {"action": "star", "count": 2, "tags": []}
    tagged = bulk(client, ids, "tag", tags=["keeper", "print"]).json()
    assert [t["name"] for t in tagged["tags"]] == ["keeper", "print"]
    assert all(sorted(t.name for t in g.tags.all()) == ["keeper", "print"] for g in generations)
    assert bulk(client, ids, "untag", tags=["KEEPER"]).status_code == 200
    assert bulk(client, ids, "unstar").json()["count"] == 2
    for generation in generations:
        generation.refresh_from_db()
        assert not generation.starred
        assert [t.name for t in generation.tags.all()] == ["print"]


def test_bulk_delete_removes_rows_and_files(member, endpoint, api_client):
    doomed = [make_stored_generation(member, endpoint) for _ in range(2)]
    names = [image.file.name for g in doomed for image in g.images.all()]
    storage = doomed[0].images.first().file.storage
    response = bulk(api_client(member), [g.pk for g in doomed], "delete")
    assert response.json() == {"action": "delete", "count": 2, "tags": []}
    assert not Generation.objects.exists()
    assert not any(storage.exists(name) for name in names)


def test_bulk_with_one_id_of_another_team_is_404_and_changes_nothing(
    member, endpoint, api_client, rival, rival_endpoint
):
    ours = make_generation(member, endpoint, status=Status.SUCCEEDED)
    theirs = make_generation(rival, rival_endpoint, status=Status.SUCCEEDED)
    client = api_client(member)
    for action in ("star", "tag", "delete"):
        response = bulk(client, [ours.pk, theirs.pk], action, tags=["x"])
        assert response.status_code == 404
    assert bulk(client, [ours.pk, 10**9], "star").status_code == 404
    assert Generation.objects.count() == 2
    assert not Generation.objects.filter(starred=True).exists()
    assert not Tag.objects.exists()


def test_bulk_delete_of_a_running_one_is_409_and_deletes_none(member, endpoint, api_client):
    done = make_generation(member, endpoint, status=Status.SUCCEEDED)
    running = make_generation(member, endpoint, status=Status.RUNNING)
    response = bulk(api_client(member), [done.pk, running.pk], "delete")
    assert response.status_code == 409
    assert Generation.objects.count() == 2


def test_bulk_guards_access(member, viewer, endpoint, api_client):
    generation = make_generation(member, endpoint)
    assert bulk(Client(), [generation.pk], "star").status_code == 401
    assert bulk(api_client(viewer), [generation.pk], "star").status_code == 403
    generation.refresh_from_db()
    assert not generation.starred


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": list(range(1, 502)), "action": "star"}, "ids"),
        ({"ids": [], "action": "star"}, "ids"),
        ({"ids": ["1"], "action": "star"}, "ids.0"),
        ({"ids": [1], "action": "explode"}, "action"),
        ({"ids": [1]}, "action"),
        ({"ids": [1], "action": "tag", "tags": ["<b>"]}, "tags"),
        ({"ids": [1], "action": "tag"}, "tags"),
        ({"ids": [1], "action": "untag"}, "tags"),
    ],
)
def test_bad_bulk_requests_are_422_naming_the_field(member, endpoint, api_client, body, field):
    generation = make_generation(member, endpoint)
    body = {**body, "ids": [generation.pk if i == 1 else i for i in body["ids"]]}
    response = post_json(api_client(member), "/api/v1/generations/bulk", body)
    assert response.status_code == 422
    assert field in fields_of(response)
    assert not Tag.objects.exists()


# --- zip -----------------------------------------------------------------------------------------
def _zip(client: Client, image_ids: list[int]):
    return post_json(client, "/api/v1/images/zip", {"image_ids": image_ids})


def test_zip_streams_the_stored_images_with_a_manifest(member, viewer, endpoint, api_client):
    first = make_stored_generation(member, endpoint, png_bytes(), png_bytes(color=(1, 2, 3)))
    second = make_stored_generation(member, endpoint, png_bytes(color=(9, 9, 9)), seed=7)
    images = [*first.images.all(), *second.images.all()]

    response = _zip(api_client(viewer), [image.pk for image in images])

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{member.team.slug}-images.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    expected = {f"{i.generation_id}-{i.index}-{i.seed}.png": i.sha256 for i in images}
    assert set(archive.namelist()) == {*expected, "metadata.json"}
    for name, sha256 in expected.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == sha256
    manifest = json.loads(archive.read("metadata.json"))
    by_file = {entry["file"]: entry for entry in manifest["images"]}
    assert by_file[f"{second.pk}-0-7.png"]["parameters"]["seed"] == 7
    assert by_file[f"{second.pk}-0-7.png"]["missing"] is False


def test_a_file_missing_from_storage_is_listed_as_missing(member, endpoint, api_client):
    generation = make_stored_generation(member, endpoint)
    image = generation.images.get()
    image.file.storage.delete(image.file.name)
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(_zip(api_client(member), [image.pk]).streaming_content))
    )
    [entry] = json.loads(archive.read("metadata.json"))["images"]
    assert entry["missing"] is True
    assert archive.read(entry["file"]) == b""


def test_zip_of_images_not_all_ours_is_404(member, endpoint, api_client, rival, rival_endpoint):
    ours = make_stored_generation(member, endpoint).images.get()
    theirs = make_stored_generation(rival, rival_endpoint).images.get()
    client = api_client(member)
    assert _zip(client, [ours.pk, theirs.pk]).status_code == 404
    assert _zip(client, [theirs.pk]).status_code == 404
    assert _zip(client, [ours.pk, 10**9]).status_code == 404
    assert _zip(Client(), [ours.pk]).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"image_ids": list(range(1, 1002))}, {"image_ids": []}, {"image_ids": "1,2"}, {}],
)
def test_bad_zip_requests_are_422(member, api_client, body):
    response = post_json(api_client(member), "/api/v1/images/zip", body)
    assert response.status_code == 422
    assert all(field.startswith("image_ids") for field in fields_of(response))
    assert GeneratedImage.objects.count() == 0


def test_zip_streams_big_files_chunk_by_chunk(member, endpoint, api_client):
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    big = buffer.getvalue()
    assert len(big) > 3 * CHUNK_SIZE
    image = make_stored_generation(member, endpoint, big).images.get()

    chunks = list(_zip(api_client(member), [image.pk]).streaming_content)

    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read(f"{image.generation_id}-0-{image.seed}.png") == big
