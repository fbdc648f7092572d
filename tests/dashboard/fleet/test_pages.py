"""Endpoint pages: members look, owners and admins edit and test; secrets never rendered."""

from django.test import Client

from dashboard.fleet.models import RunPodEndpoint
from tests.dashboard.factories import PASSWORD, make_endpoint
from tests.support.processes import free_port


def signed_in(membership) -> Client:
    client = Client()
    client.login(username=membership.user.username, password=PASSWORD)
    return client


FORM = {
    "name": "prod",
    "endpoint_id": "abc123",
    "api_key": "rpa_PAGESECRET",
    "gpu_price_per_second": "0.0003",
    "output_mode": "auto",
}


def test_owner_adds_an_endpoint(owner):
    response = signed_in(owner).post("/endpoints/new/", FORM)
    assert response.status_code == 302
    assert RunPodEndpoint.objects.get().get_api_key() == "rpa_PAGESECRET"


def test_missing_api_key_is_explained_next_to_the_field(owner):
    html = signed_in(owner).post("/endpoints/new/", {**FORM, "api_key": ""}).content.decode()
    assert 'id="id_api_key-errors"' in html
    assert "Enter the RunPod API key." in html
    assert not RunPodEndpoint.objects.exists()


def test_edit_page_never_renders_the_secret(owner):
    endpoint = make_endpoint(owner.team, api_key="rpa_NEVERSHOWN")
    html = signed_in(owner).get(f"/endpoints/{endpoint.pk}/").content.decode()
    assert "rpa_NEVERSHOWN" not in html
    assert endpoint.api_key_encrypted not in html


def test_members_cannot_open_the_editor(member, endpoint):
    client = signed_in(member)
    assert client.get("/endpoints/").status_code == 200
    assert client.get(f"/endpoints/{endpoint.pk}/").status_code == 403
    assert client.post("/endpoints/new/", FORM).status_code == 403


def test_test_connection_button_reports_in_plain_words(owner, settings):
    settings.RUNPOD_RETRIES = 0
    endpoint = make_endpoint(owner.team, api_base_url=f"http://127.0.0.1:{free_port()}/v2")
    html = signed_in(owner).post(f"/endpoints/{endpoint.pk}/test/").content.decode()
    assert "Cannot reach RunPod" in html
