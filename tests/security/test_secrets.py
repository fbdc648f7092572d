"""Secrets at rest and on screen: API tokens kept only as hashes; RunPod keys, volume S3
credentials and Hugging Face/CivitAI tokens encrypted with the key from the environment (and
rotatable); none of them in an admin page. (Every page and API route, as every actor: the access
matrix looks for these secrets in each answer. Logs: test_secrets_in_logs.)"""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from dashboard import crypto
from dashboard.accounts.models import ApiToken
from dashboard.catalogue.models import ProviderTokens
from dashboard.fleet.models import RunPodEndpoint
from tests.dashboard import factories
from tests.security.world import World, build_world

ENCRYPTED_COLUMNS = {
    RunPodEndpoint: [
        "api_key_encrypted",
        "volume_s3_access_key_encrypted",
        "volume_s3_secret_key_encrypted",
    ],
    ProviderTokens: ["huggingface_token_encrypted", "civitai_token_encrypted"],
}


def database_holds(plain: str) -> list[str]:
    """Every table (of every app, Django's and libraries' included) holding `plain` anywhere."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for row in model.objects.values_list():
            if any(plain in str(value) for value in row):
                found.append(model._meta.label)
                break
    return found


def raw_column(model, column: str, pk: int) -> str:
    """The stored text itself, read with SQL past the model's accessors."""
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def stored_secrets(world: World) -> dict[str, str]:
    """Plain value → raw stored text of each of team A's secrets."""
    tokens = ProviderTokens.objects.get(team=world.team)
    raw = {
        column: raw_column(RunPodEndpoint, column, world.endpoint.pk)
        for column in ENCRYPTED_COLUMNS[RunPodEndpoint]
    } | {
        column: raw_column(ProviderTokens, column, tokens.pk)
        for column in ENCRYPTED_COLUMNS[ProviderTokens]
    }
    s = world.secrets
    return {
        s.runpod_api_key: raw["api_key_encrypted"],
        s.volume_access_key: raw["volume_s3_access_key_encrypted"],
        s.volume_secret_key: raw["volume_s3_secret_key_encrypted"],
        s.huggingface_token: raw["huggingface_token_encrypted"],
        s.civitai_token: raw["civitai_token_encrypted"],
    }


def test_api_tokens_are_stored_only_as_their_hash(db):
    membership = factories.make_member(factories.make_team())
    client = Client()
    client.force_login(membership.user)
    response = client.post(
        "/api/v1/tokens", json.dumps({"name": "ci"}), content_type="application/json"
    )
    plain = response.json()["token"]
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert database_holds(plain) == []
    assert plain.startswith(token.prefix)
    assert len(token.prefix) < len(plain) // 3


def test_secrets_are_encrypted_with_the_key_from_the_environment(db, settings):
    key = Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEY = key
    world = build_world()
    for plain, stored in stored_secrets(world).items():
        assert plain not in stored
        assert Fernet(key).decrypt(stored.encode()).decode() == plain
        assert database_holds(plain) == []


def test_secrets_cannot_be_read_without_the_key(db, settings):
    settings.SECRET_ENCRYPTION_KEY = Fernet.generate_key().decode()
    world = build_world()
    settings.SECRET_ENCRYPTION_KEY = Fernet.generate_key().decode()
    endpoint = RunPodEndpoint.objects.get(pk=world.endpoint.pk)
    with pytest.raises(crypto.SecretDecryptionError, match="SECRET_ENCRYPTION_KEY"):
        endpoint.get_api_key()


def test_key_rotation_re_encrypts_every_secret_so_the_old_key_can_go(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEY = old
    world = build_world()
    before = stored_secrets(world)
    settings.SECRET_ENCRYPTION_KEY = f"{new},{old}"
    assert (
        RunPodEndpoint.objects.get(pk=world.endpoint.pk).get_api_key()
        == world.secrets.runpod_api_key
    )
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "fleet.RunPodEndpoint: 2 rows" in out.getvalue()
    settings.SECRET_ENCRYPTION_KEY = new  # the old key is gone
    after = stored_secrets(world)
    for plain, stored in after.items():
        assert stored != before[plain]
        assert Fernet(new).decrypt(stored.encode()).decode() == plain
    endpoint = RunPodEndpoint.objects.get(pk=world.endpoint.pk)
    assert endpoint.get_api_key() == world.secrets.runpod_api_key
    assert (
        crypto.decrypt(endpoint.volume_s3_secret_key_encrypted) == world.secrets.volume_secret_key
    )
    tokens = ProviderTokens.objects.get(team=world.team)
    assert tokens.huggingface_token() == world.secrets.huggingface_token
    assert tokens.civitai_token() == world.secrets.civitai_token


def admin_urls(superuser) -> list[str]:
    """The changelist, add and change page of every model in the admin (its newest row)."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    urls = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        if (row := model_admin.get_queryset(request).order_by("-pk").first()) is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))
    return urls


def test_no_admin_page_renders_a_secret(world):
    root = factories.make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    urls = admin_urls(root)
    shown = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        shown.update({f"{url} {s[:6]}…": True for s in world.secrets.values() if s in body})
    print(json.dumps({"admin_pages": len(urls), "secrets_shown": len(shown)}))
    assert len(urls) > 30
    assert shown == {}
