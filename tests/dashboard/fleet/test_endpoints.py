"""Endpoints per team: admins manage them, secrets are encrypted and never shown back."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard.accounts.models import Role
from dashboard.fleet.models import RunPodEndpoint
from dashboard.fleet.services import endpoint_create, endpoint_update
from tests.dashboard.factories import make_endpoint, make_member, make_team

NEW = {
    "name": "production",
    "endpoint_id": "abc123xyz",
    "api_key": "rpa_TOPSECRET",
    "gpu_price_per_second": "0.00031",
    "volume_access_key": "user_ACCESS",
    "volume_secret_key": "rps_SECRETKEY",
    "volume_id": "vol123",
    "volume_s3_endpoint_url": "https://s3api-eu-ro-1.runpod.io",
    "volume_s3_region": "EU-RO-1",
}


def test_admin_creates_an_endpoint_and_its_secrets_are_encrypted(owner, api_client):
    response = api_client(owner).post("/api/v1/endpoints", NEW, content_type="application/json")
    assert response.status_code == 201
    text = json.dumps(response.json())
    for secret in ("rpa_TOPSECRET", "user_ACCESS", "rps_SECRETKEY"):
        assert secret not in text
    endpoint = RunPodEndpoint.objects.get()
    assert endpoint.is_default
    assert "rpa_TOPSECRET" not in endpoint.api_key_encrypted
    assert endpoint.get_api_key() == "rpa_TOPSECRET"
    assert endpoint.has_volume_access
    assert response.json()["has_volume_access"] is True


def test_secrets_never_appear_in_the_list(owner, api_client):
    make_endpoint(owner.team, api_key="rpa_HIDDEN")
    response = api_client(owner).get("/api/v1/endpoints")
    assert response.status_code == 200
    assert "rpa_HIDDEN" not in response.content.decode()
    assert "api_key" not in response.json()[0]


def test_members_see_but_cannot_manage_endpoints(member, api_client):
    client = api_client(member)
    assert client.get("/api/v1/endpoints").status_code == 200
    response = client.post("/api/v1/endpoints", NEW, content_type="application/json")
    assert response.status_code == 403
    assert not RunPodEndpoint.objects.exists()


def test_update_with_empty_secret_keeps_the_stored_one(owner):
    endpoint = make_endpoint(owner.team, api_key="rpa_ORIGINAL")
    endpoint_update(endpoint=endpoint, by=owner, api_key="", default_model="flux")
    endpoint.refresh_from_db()
    assert endpoint.get_api_key() == "rpa_ORIGINAL"
    assert endpoint.default_model == "flux"


def test_patch_changes_only_what_is_sent(owner, api_client):
    endpoint = make_endpoint(owner.team, api_key="rpa_ORIGINAL", name="main")
    response = api_client(owner).patch(
        f"/api/v1/endpoints/{endpoint.pk}", {"api_key": "rpa_NEW"}, content_type="application/json"
    )
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.get_api_key() == "rpa_NEW"
    assert endpoint.name == "main"


def test_another_teams_endpoint_is_404(owner, api_client):
    foreign = make_endpoint(make_team("Rivals"))
    response = api_client(owner).patch(
        f"/api/v1/endpoints/{foreign.pk}", {"name": "mine"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_making_a_second_endpoint_default_unsets_the_first(owner):
    first = endpoint_create(team=owner.team, by=owner, api_key="k", name="a", endpoint_id="a")
    second = endpoint_create(
        team=owner.team, by=owner, api_key="k", name="b", endpoint_id="b", is_default=True
    )
    first.refresh_from_db()
    assert second.is_default
    assert not first.is_default


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endpoint_id": "has space"}, "endpoint_id"),
        ({"api_key": ""}, "api_key"),
        ({"gpu_price_per_second": "-1"}, "gpu_price_per_second"),
        ({"output_mode": "ftp"}, "output_mode"),
    ],
)
def test_bad_endpoint_fields_are_named(owner, api_client, changes, field):
    body = {**NEW, **changes}
    response = api_client(owner).post("/api/v1/endpoints", body, content_type="application/json")
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not RunPodEndpoint.objects.exists()


def test_duplicate_name_is_refused(owner):
    endpoint_create(team=owner.team, by=owner, api_key="k", name="a", endpoint_id="a")
    with pytest.raises(ValidationError) as error:
        endpoint_create(team=owner.team, by=owner, api_key="k", name="a", endpoint_id="b")
    assert "name" in error.value.message_dict


def test_an_admin_of_another_team_cannot_create_here(team):
    outsider = make_member(make_team("Rivals"), Role.ADMIN)
    with pytest.raises(PermissionDenied):
        endpoint_create(team=team, by=outsider, api_key="k", name="x", endpoint_id="x")
