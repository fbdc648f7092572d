"""Model management pages and the Django admin: admins only, live progress, confirmations that
say what is lost, and tokens that are never shown."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.test import Client

from dashboard.catalogue.actions import apply_action_job, provider_tokens_update
from dashboard.catalogue.models import (
    ActionStatus,
    AuditEntry,
    FolderUsage,
    ModelAction,
    ModelFile,
    ProviderTokens,
    SyncRun,
)
from tests.dashboard import factories
from tests.dashboard.catalogue.conftest import make_model
from tests.dashboard.catalogue.manage_support import runpod_jobs

pytestmark = pytest.mark.usefixtures("fast_passwords")

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
HF_TOKEN = "hf_PageSecretToken1122334455"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def sdxl(queued_endpoint):
    return make_model(
        queued_endpoint,
        SDXL,
        title="SDXL base",
        trigger_phrase="old phrase",
        size=2_000_000_000,
        metadata_etag="m1",
        preview_etag="p1",
    )


def _pages(model_id: int, action_id: int) -> list[tuple[str, str]]:
    return [
        ("get", "/models/downloads/new/"),
        ("post", "/models/downloads/new/"),
        ("get", f"/models/actions/{action_id}/"),
        ("get", f"/models/actions/{action_id}/progress/"),
        ("post", f"/models/actions/{action_id}/cancel/"),
        ("get", f"/models/{model_id}/edit/"),
        ("post", f"/models/{model_id}/edit/"),
        ("get", f"/models/{model_id}/rename/"),
        ("post", f"/models/{model_id}/rename/"),
        ("get", f"/models/{model_id}/delete/"),
        ("post", f"/models/{model_id}/delete/"),
        ("get", "/models/provider-tokens/"),
        ("post", "/models/provider-tokens/"),
        ("get", "/models/audit/"),
    ]


def _action(model: ModelFile, **fields) -> ModelAction:
    return ModelAction.objects.create(
        team=model.endpoint.team,
        endpoint=model.endpoint,
        kind=fields.pop("kind", "edit"),
        subtype=model.subtype,
        model_name=model.name,
        **fields,
    )


def test_members_and_viewers_get_403_on_every_page(member, viewer, sdxl):
    action = _action(sdxl)
    for membership in (member, viewer):
        client = signed_in(membership)
        for method, url in _pages(sdxl.pk, action.pk):
            response = getattr(client, method)(url, {"title": "x", "new_name": "y", "url": "z"})
            assert response.status_code == 403, (membership.role, method, url)
    action.refresh_from_db()
    assert action.status == ActionStatus.QUEUED
    assert ModelAction.objects.count() == 1
    assert not ProviderTokens.objects.exists()


def test_another_teams_models_and_actions_are_404(owner, other_team_model):
    action = _action(other_team_model, kind="delete")
    client = signed_in(owner)
    for method, url in _pages(other_team_model.pk, action.pk):
        if "/models/" in url and any(
            part in url for part in ("/actions/", "/edit", "/rename", "/delete")
        ):
            assert getattr(client, method)(url).status_code == 404, (method, url)
    assert ModelAction.objects.count() == 1


def test_the_download_form_starts_a_download_with_live_progress_and_cancel(
    admin, queued_runpod, queued_endpoint, model_server, local_downloads
):
    client = signed_in(admin)
    form = client.get("/models/downloads/new/")
    assert form.status_code == 200
    assert 'name="url"' in form.content.decode()
    url = model_server.url("paged")
    response = client.post(
        "/models/downloads/new/", {"url": url, "subtype": "LoRA", "folder": "", "name": ""}
    )
    action = ModelAction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/models/actions/{action.pk}/"
    assert action.runpod_job_id in [job["id"] for job in runpod_jobs(queued_runpod)]

    page = client.get(response["Location"]).content.decode()
    assert f'hx-get="/models/actions/{action.pk}/progress/"' in page
    assert "Download · Queued" in page
    assert "paged.safetensors" in page

    apply_action_job(
        action_id=action.pk,
        job={"status": "IN_PROGRESS", "output": {"percent": 42.7, "bytes_per_second": 5_000_000}},
    )
    partial = client.get(f"/models/actions/{action.pk}/progress/").content.decode()
    assert 'value="42" max="100"' in partial
    assert "4.8\xa0MB/s" in partial
    assert 'hx-trigger="every 1s"' in partial

    cancelled = client.post(f"/models/actions/{action.pk}/cancel/", HTTP_HX_REQUEST="true")
    html = cancelled.content.decode()
    assert "Download · Cancelled" in html
    assert "hx-get" not in html
    action.refresh_from_db()
    assert action.status == ActionStatus.CANCELLED


def test_a_bad_download_shows_the_errors_by_the_fields_and_sends_nothing(
    owner, queued_runpod, queued_endpoint
):
    before = len(runpod_jobs(queued_runpod))
    response = signed_in(owner).post(
        "/models/downloads/new/",
        {"url": "https://huggingface.co/stabilityai/sdxl-turbo", "subtype": "LoRA", "name": "a.b"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Open its &#x27;Files and versions&#x27; tab" in html
    assert "would be saved as &#x27;ab&#x27;" in html
    assert len(runpod_jobs(queued_runpod)) == before
    assert not ModelAction.objects.exists()


def test_the_edit_page_sends_only_the_fields_changed(owner, sdxl):
    client = signed_in(owner)
    page = client.get(f"/models/{sdxl.pk}/edit/").content.decode()
    assert 'value="SDXL base"' in page
    assert 'value="old phrase"' in page
    response = client.post(
        f"/models/{sdxl.pk}/edit/",
        {"title": "Team SDXL", "trigger_phrase": "old phrase", "description": "", "tags": ""},
    )
    action = ModelAction.objects.get()
    assert response.status_code == 302
    assert action.kind == "edit"
    assert action.params["metadata"] == {"title": "Team SDXL"}


def test_an_edit_that_changes_nothing_says_so(owner, sdxl):
    response = signed_in(owner).post(
        f"/models/{sdxl.pk}/edit/", {"title": "SDXL base", "trigger_phrase": "old phrase"}
    )
    assert "Change at least one field." in response.content.decode()
    assert not ModelAction.objects.exists()


def test_the_rename_page(owner, sdxl):
    client = signed_in(owner)
    assert 'value="OfficialStableDiffusion/sd_xl_base_1.0"' in (
        client.get(f"/models/{sdxl.pk}/rename/").content.decode()
    )
    bad = client.post(f"/models/{sdxl.pk}/rename/", {"new_name": "../up"})
    assert "&#x27;..&#x27; is not allowed" in bad.content.decode()
    good = client.post(f"/models/{sdxl.pk}/rename/", {"new_name": "Base/sdxl"})
    action = ModelAction.objects.get()
    assert good["Location"] == f"/models/actions/{action.pk}/"
    assert action.params["new_name"] == "Base/sdxl"


def test_the_delete_confirmation_says_what_will_be_lost(owner, member, sdxl):
    for name in (SDXL, "OfficialStableDiffusion/sd_xl_base_1.0", "Other/model"):
        factories.make_generation(member, sdxl.endpoint, model=name)
    client = signed_in(owner)
    page = client.get(f"/models/{sdxl.pk}/delete/").content.decode()
    assert f"Stable-Diffusion: {SDXL}</code> (1.9\xa0GB)" in page
    assert "its metadata (.swarm.json" in page
    assert "its preview image" in page
    assert "2 generations of the team used this model" in page
    assert not ModelAction.objects.exists()  # looking is not deleting

    response = client.post(f"/models/{sdxl.pk}/delete/")
    action = ModelAction.objects.get()
    assert response["Location"] == f"/models/actions/{action.pk}/"
    assert (action.kind, action.model_name) == ("delete", SDXL)
    assert AuditEntry.objects.get().details["generations"] == 2


def test_provider_tokens_are_shown_as_set_or_not_never_as_themselves(
    owner, queued_endpoint, settings
):
    client = signed_in(owner)
    page = client.get("/models/provider-tokens/").content.decode()
    assert "<dt>Hugging Face</dt><dd>not set</dd>" in page
    response = client.post("/models/provider-tokens/", {"huggingface_token": HF_TOKEN})
    assert response.status_code == 302
    page = client.get("/models/provider-tokens/").content.decode()
    assert "<dt>Hugging Face</dt><dd>set</dd>" in page
    assert "<dt>CivitAI</dt><dd>not set</dd>" in page
    stored = ProviderTokens.objects.get(team=owner.team)
    assert stored.huggingface_token() == HF_TOKEN

    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["huggingface.co"]
    settings.MODEL_DOWNLOAD_CHECK_REDIRECTS = False  # no network: redirects cannot be followed
    client.post(
        "/models/downloads/new/",
        {"url": "https://huggingface.co/a/b/blob/main/m.safetensors", "subtype": "VAE"},
    )
    action = ModelAction.objects.get()
    for url in (
        "/models/provider-tokens/",
        f"/models/actions/{action.pk}/",
        f"/models/actions/{action.pk}/progress/",
        "/models/audit/",
        "/models/downloads/new/",
    ):
        html = client.get(url).content.decode()
        assert HF_TOKEN not in html, url
        assert stored.huggingface_token_encrypted not in html, url

    client.post("/models/provider-tokens/", {"clear_huggingface": "on"})
    assert "<dt>Hugging Face</dt><dd>not set</dd>" in (
        client.get("/models/provider-tokens/").content.decode()
    )
    bad = client.post("/models/provider-tokens/", {"civitai_token": "has space"})
    assert "A token has no spaces or line breaks" in bad.content.decode()


def test_the_audit_log_page_lists_who_did_what(owner, sdxl):
    provider_tokens_update(membership=owner, civitai="civ_token_value")
    client = signed_in(owner)
    client.post(f"/models/{sdxl.pk}/edit/", {"title": "Renamed title"})
    page = client.get("/models/audit/").content.decode()
    action = ModelAction.objects.get()
    assert f'<a href="/models/actions/{action.pk}/">action #{action.pk}</a>' in page
    assert f"Stable-Diffusion: {SDXL}" in page
    assert "civitai: set" in page
    assert page.count(owner.user.username) >= 2
    assert "civ_token_value" not in page


# --- Django admin ---------------------------------------------------------------------------------
CATALOGUE_MODELS = [ModelFile, SyncRun, FolderUsage, ModelAction, AuditEntry, ProviderTokens]


@pytest.fixture
def staff_client(db):
    factories.make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.login(username="root", password=factories.PASSWORD)
    return client


@pytest.mark.parametrize("model", CATALOGUE_MODELS, ids=lambda m: m.__name__)
def test_every_catalogue_model_is_in_the_admin_and_lists(staff_client, owner, sdxl, model):
    assert django_admin.site.is_registered(model)
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    _action(sdxl)
    meta = model._meta
    response = staff_client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
    assert response.status_code == 200
    assert HF_TOKEN not in response.content.decode()


def test_the_audit_log_cannot_be_edited_in_the_admin(staff_client, owner):
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    entry = AuditEntry.objects.get()
    assert staff_client.get("/admin/catalogue/auditentry/add/").status_code == 403
    change = staff_client.post(
        f"/admin/catalogue/auditentry/{entry.pk}/change/", {"outcome": "forged"}
    )
    assert change.status_code == 403
    assert staff_client.post(f"/admin/catalogue/auditentry/{entry.pk}/delete/").status_code == 403
    entry.refresh_from_db()
    assert entry.outcome == "changed"


def test_the_admin_shows_whether_a_token_is_set_but_never_the_token(staff_client, owner):
    provider_tokens_update(membership=owner, huggingface=HF_TOKEN)
    tokens = ProviderTokens.objects.get()
    html = staff_client.get(f"/admin/catalogue/providertokens/{tokens.pk}/change/").content.decode()
    assert HF_TOKEN not in html
    assert tokens.huggingface_token_encrypted not in html
    assert "Hugging Face token" in html
