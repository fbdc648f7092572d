"""The generations API: list with cursor and filters, get, cancel, retry, delete, image files."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.generations.models import GeneratedImage, Generation, Status
from dashboard.generations.services import apply_job_status
from tests.dashboard.factories import (
    inline_output,
    make_generation,
    make_member,
    make_team,
    png_bytes,
)


def _succeeded(membership, endpoint, **fields):
    generation = make_generation(
        membership, endpoint, status=Status.SUBMITTED, runpod_job_id="job-1", **fields
    )
    return apply_job_status(
        generation_id=generation.pk,
        job={
            "id": "job-1",
            "status": "COMPLETED",
            "executionTime": 10,
            "output": inline_output(png_bytes(color=(9, 9, 9))),
        },
    )


def test_get_shows_status_and_images_with_download_urls(member, endpoint, api_client):
    generation = _succeeded(member, endpoint)
    body = api_client(member).get(f"/api/v1/generations/{generation.pk}").json()
    assert body["status"] == "succeeded"
    [image] = body["images"]
    assert set(image) >= {"id", "width", "height", "seed", "url"}
    assert image["url"] == f"/api/v1/images/{image['id']}/file"


def test_image_file_downloads_for_team_members_only(member, endpoint, api_client):
    generation = _succeeded(member, endpoint)
    image = generation.images.get()
    response = api_client(member).get(f"/api/v1/images/{image.pk}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes(color=(9, 9, 9))
    outsider = make_member(make_team("Rivals"), Role.OWNER)
    assert api_client(outsider).get(f"/api/v1/images/{image.pk}/file").status_code == 404
    assert Client().get(f"/api/v1/images/{image.pk}/file").status_code == 401


def test_image_metadata_and_thumbnail(member, endpoint, api_client):
    image = _succeeded(member, endpoint).images.get()
    client = api_client(member)
    meta = client.get(f"/api/v1/images/{image.pk}").json()
    assert meta["metadata"] == {"sui_image_params": {"seed": 42}}
    assert meta["sha256"] == image.sha256
    thumbnail = client.get(meta["thumbnail_url"])
    assert thumbnail["Content-Type"] == "image/webp"


def test_other_teams_generations_are_404(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    outsider = make_member(make_team("Rivals"), Role.OWNER)
    assert api_client(outsider).get(f"/api/v1/generations/{generation.pk}").status_code == 404
    assert api_client(outsider).get("/api/v1/generations").json()["results"] == []


def test_list_is_newest_first_with_a_cursor(member, endpoint, api_client):
    made = [make_generation(member, endpoint, prompt=f"p{i}") for i in range(5)]
    client = api_client(member)
    first = client.get("/api/v1/generations?page_size=2").json()
    assert [g["id"] for g in first["results"]] == [made[4].pk, made[3].pk]
    second = client.get(first["next"]).json()
    assert [g["id"] for g in second["results"]] == [made[2].pk, made[1].pk]
    third = client.get(second["next"]).json()
    assert [g["id"] for g in third["results"]] == [made[0].pk]
    assert third["next"] is None


def test_list_filters_by_status_user_model_and_date(member, owner, endpoint, api_client):
    mine = make_generation(member, endpoint, model="flux", status=Status.FAILED)
    make_generation(owner, endpoint, model="sdxl")
    old = make_generation(member, endpoint, model="sdxl")
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    client = api_client(member)

    def ids(query):
        response = client.get(f"/api/v1/generations?{query}")
        assert response.status_code == 200, response.content
        return [g["id"] for g in response.json()["results"]]

    assert ids("status=failed") == [mine.pk]
    assert ids(f"user={member.user.username}") == [old.pk, mine.pk]
    assert ids("model=flux") == [mine.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
    assert old.pk not in ids(f"created_after={since}")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=exploded", "status"),
        ("created_after=yesterday", "created_after"),
        ("cursor=%%%", "cursor"),
        ("cursor=cD1hYmM=", "cursor"),
        ("page_size=abc", "page_size"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(member, endpoint, api_client, query, field):
    response = api_client(member).get(f"/api/v1/generations?{query}")
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}


def test_cancel_a_queued_generation(member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    response = api_client(member).post(f"/api/v1/generations/{generation.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancel_a_finished_generation_is_409(member, endpoint, api_client):
    generation = _succeeded(member, endpoint)
    response = api_client(member).post(f"/api/v1/generations/{generation.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == "The generation has already succeeded."


def test_members_cannot_cancel_someone_elses_generation_but_admins_can(
    member, owner, endpoint, api_client
):
    generation = make_generation(owner, endpoint)
    other = make_member(member.team, Role.MEMBER)
    assert api_client(other).post(f"/api/v1/generations/{generation.pk}/cancel").status_code == 403
    admin = make_member(member.team, Role.ADMIN)
    assert api_client(admin).post(f"/api/v1/generations/{generation.pk}/cancel").status_code == 200


def test_retry_makes_a_new_generation_with_the_same_parameters(
    member, endpoint, api_client, django_capture_on_commit_callbacks
):
    original = make_generation(member, endpoint, status=Status.FAILED, seed=77, steps=9)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(member).post(f"/api/v1/generations/{original.pk}/retry")
    assert response.status_code == 201
    again = Generation.objects.get(pk=response.json()["id"])
    assert again.retry_of == original
    assert (again.seed, again.steps, again.prompt) == (77, 9, original.prompt)
    assert again.status == Status.QUEUED


def test_retry_of_a_running_generation_is_409(member, endpoint, api_client):
    generation = make_generation(member, endpoint, status=Status.RUNNING)
    assert api_client(member).post(f"/api/v1/generations/{generation.pk}/retry").status_code == 409


def test_delete_removes_the_generation_and_its_files(member, endpoint, api_client):
    generation = _succeeded(member, endpoint)
    image = generation.images.get()
    storage, names = image.file.storage, [image.file.name, image.thumbnail.name]
    assert all(storage.exists(name) for name in names)
    response = api_client(member).delete(f"/api/v1/generations/{generation.pk}")
    assert response.status_code == 204
    assert not Generation.objects.filter(pk=generation.pk).exists()
    assert not GeneratedImage.objects.exists()
    assert not any(storage.exists(name) for name in names)


def test_delete_of_a_running_generation_is_409(member, endpoint, api_client):
    generation = make_generation(member, endpoint, status=Status.SUBMITTED)
    response = api_client(member).delete(f"/api/v1/generations/{generation.pk}")
    assert response.status_code == 409
    assert Generation.objects.filter(pk=generation.pk).exists()


def test_viewers_can_read_but_not_act(viewer, member, endpoint, api_client):
    generation = make_generation(member, endpoint)
    client = api_client(viewer)
    assert client.get(f"/api/v1/generations/{generation.pk}").status_code == 200
    assert client.post(f"/api/v1/generations/{generation.pk}/cancel").status_code == 403
    assert client.delete(f"/api/v1/generations/{generation.pk}").status_code == 403


def test_openapi_schema_and_docs_are_served(db):
    client = Client()
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/generations" in schema.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 200
