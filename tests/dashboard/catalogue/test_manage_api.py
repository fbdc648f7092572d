"""The model management API: admins only, another team's things are 404, one error shape."""

from __future__ import annotations

import pytest

from dashboard.catalogue.actions import provider_tokens_update
from dashboard.catalogue.models import ActionStatus, AuditEntry, ModelAction
from tests.dashboard.catalogue.conftest import make_model
from tests.dashboard.catalogue.manage_support import runpod_jobs

pytestmark = pytest.mark.usefixtures("fast_passwords")

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
HF_TOKEN = "hf_ApiSecretToken9876543210"


@pytest.fixture
def sdxl(queued_endpoint):
    return make_model(queued_endpoint, SDXL, title="SDXL")


def _download(client, url: str, **fields):
    return client.post(
        "/api/v1/models/downloads", {"url": url, **fields}, content_type="application/json"
    )


def test_an_admin_starts_a_download_and_follows_it(
    api_client, admin, queued_runpod, queued_endpoint, model_server, local_downloads
):
    client = api_client(admin)
    url = model_server.url("api_model")
    response = _download(client, url, subtype="VAE", folder="Team")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "download"
    assert body["status"] == "queued"
    assert body["model_name"] == "Team/api_model.safetensors"
    assert body["params"] == {
        "action": "download_model",
        "url": url,
        "model_name": "Team/api_model",
        "model_type": "VAE",
    }
    assert body["user"] == admin.user.username
    assert body["endpoint"] == queued_endpoint.pk
    assert body["runpod_job_id"] in [job["id"] for job in runpod_jobs(queued_runpod)]

    followed = client.get(f"/api/v1/models/actions/{body['id']}")
    assert followed.status_code == 200
    assert followed.json()["id"] == body["id"]

    cancelled = client.post(f"/api/v1/models/actions/{body['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/models/actions/{body['id']}/cancel")
    assert again.status_code == 409
    assert again.json() == {"detail": "The download has already cancelled.", "errors": []}


def test_bad_downloads_answer_422_naming_the_fields_and_send_nothing(
    api_client, owner, queued_runpod, queued_endpoint
):
    before = len(runpod_jobs(queued_runpod))
    response = _download(
        api_client(owner),
        "http://169.254.169.254/latest/meta-data/",
        subtype="Checkpoint",
        folder="../up",
        name="meta",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The request has invalid fields."
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"url", "subtype", "folder"}
    assert "is not one of them" in fields["url"]
    assert "Unknown model type 'Checkpoint'" in fields["subtype"]
    assert "'..' is not allowed" in fields["folder"]
    unknown = _download(api_client(owner), "https://huggingface.co/a/b", type="LoRA")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "type"
    assert len(runpod_jobs(queued_runpod)) == before
    assert not ModelAction.objects.exists()


def test_edit_rename_and_delete_start_jobs(api_client, owner, queued_runpod, sdxl):
    client = api_client(owner)
    edit = client.patch(
        f"/api/v1/models/{sdxl.pk}/metadata",
        {"title": "Team SDXL", "trigger_phrase": "sdxl", "author": None},
        content_type="application/json",
    )
    assert edit.status_code == 202, edit.content
    assert edit.json()["params"]["metadata"] == {"title": "Team SDXL", "trigger_phrase": "sdxl"}
    ModelAction.objects.update(status=ActionStatus.SUCCEEDED)  # let the next ones start

    rename = client.post(
        f"/api/v1/models/{sdxl.pk}/rename",
        {"new_name": "Base/sdxl"},
        content_type="application/json",
    )
    assert rename.status_code == 202, rename.content
    assert rename.json()["params"] == {
        "action": "rename_model",
        "model_name": SDXL,
        "new_name": "Base/sdxl",
        "subtype": "Stable-Diffusion",
    }
    ModelAction.objects.update(status=ActionStatus.SUCCEEDED)

    delete = client.delete(f"/api/v1/models/{sdxl.pk}")
    assert delete.status_code == 202, delete.content
    assert (delete.json()["kind"], delete.json()["model_name"]) == ("delete", SDXL)
    sent = {job["id"] for job in runpod_jobs(queued_runpod)}
    assert {edit.json()["runpod_job_id"], delete.json()["runpod_job_id"]} <= sent


def test_the_catalogues_own_model_route_still_answers(api_client, member, sdxl):
    response = api_client(member).get(f"/api/v1/models/{sdxl.pk}")
    assert response.status_code == 200
    assert response.json()["name"] == SDXL


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "__all__", "Change at least one field."),
        ({"title": None}, "__all__", "Change at least one field."),
        ({"standard_width": -1}, "standard_width", "from 0 (unknown) to 16384"),
        ({"standard_width": "wide"}, "standard_width", "valid integer"),
        ({"title": "x" * 301}, "title", "at most 300 characters"),
        ({"preview_image": "clear"}, "preview_image", "Extra inputs are not permitted"),
    ],
)
def test_bad_edits_answer_422(api_client, owner, sdxl, body, field, words):
    response = api_client(owner).patch(
        f"/api/v1/models/{sdxl.pk}/metadata", body, content_type="application/json"
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert words in error["message"]


def test_a_bad_rename_names_the_field(api_client, owner, sdxl):
    response = api_client(owner).post(
        f"/api/v1/models/{sdxl.pk}/rename",
        {"new_name": "sdxl 1.0"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "new_name"


def test_members_get_403_on_every_route(api_client, member, sdxl, queued_endpoint, owner):
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    action = ModelAction.objects.create(
        team=member.team, endpoint=queued_endpoint, kind="edit", subtype="LoRA", model_name="x"
    )
    client = api_client(member)
    responses = [
        _download(client, "https://huggingface.co/a/b/blob/main/m.safetensors"),
        client.get(f"/api/v1/models/actions/{action.pk}"),
        client.post(f"/api/v1/models/actions/{action.pk}/cancel"),
        client.patch(f"/api/v1/models/{sdxl.pk}/metadata", {"title": "x"}, "application/json"),
        client.post(f"/api/v1/models/{sdxl.pk}/rename", {"new_name": "y"}, "application/json"),
        client.delete(f"/api/v1/models/{sdxl.pk}"),
        client.get("/api/v1/audit-log"),
    ]
    for response in responses:
        assert response.status_code == 403, response.request
        assert response.json()["detail"] == "Only the team's owners and admins manage models."
    action.refresh_from_db()
    assert action.status == ActionStatus.QUEUED
    assert ModelAction.objects.count() == 1


def test_another_teams_models_and_actions_are_404(api_client, owner, other_team_model):
    action = ModelAction.objects.create(
        team=other_team_model.endpoint.team,
        endpoint=other_team_model.endpoint,
        kind="delete",
        subtype="Stable-Diffusion",
        model_name=other_team_model.name,
    )
    client = api_client(owner)
    model_id = other_team_model.pk
    responses = [
        client.get(f"/api/v1/models/actions/{action.pk}"),
        client.post(f"/api/v1/models/actions/{action.pk}/cancel"),
        client.patch(f"/api/v1/models/{model_id}/metadata", {"title": "x"}, "application/json"),
        client.post(f"/api/v1/models/{model_id}/rename", {"new_name": "y"}, "application/json"),
        client.delete(f"/api/v1/models/{model_id}"),
    ]
    assert [response.status_code for response in responses] == [404] * 5
    assert ModelAction.objects.count() == 1


def test_the_audit_log_lists_the_teams_entries_newest_first(
    api_client, owner, queued_endpoint, sdxl, other_team_model
):
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    client = api_client(owner)
    client.patch(f"/api/v1/models/{sdxl.pk}/metadata", {"title": "T"}, "application/json")
    entries = client.get("/api/v1/audit-log").json()
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("edit", "started"),
        ("tokens", "changed"),
    ]
    assert entries[0]["username"] == owner.user.username
    assert entries[0]["target"] == f"Stable-Diffusion: {SDXL}"
    only_tokens = client.get("/api/v1/audit-log?action=tokens&limit=5").json()
    assert [e["details"] for e in only_tokens] == [{"huggingface": "set"}]
    assert HF_TOKEN not in client.get("/api/v1/audit-log").content.decode()
    assert AuditEntry.objects.exclude(team=owner.team).count() == 0
    assert client.get("/api/v1/audit-log?limit=500").status_code == 422
