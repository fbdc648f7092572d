"""Django admin has every model, and never renders a stored secret."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from tests.dashboard.factories import PASSWORD, make_endpoint, make_generation, make_user

# Every model of our own apps: a new model joins these tests without anyone listing it.
MODELS = [
    model
    for config in apps.get_app_configs()
    if config.name.startswith("dashboard.")
    for model in config.get_models()
]


@pytest.fixture
def staff_client(db):
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.login(username="root", password=PASSWORD)
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_is_in_the_admin(model):
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_list_pages_render(staff_client, member, endpoint, model):
    make_generation(member, endpoint)
    meta = model._meta
    assert staff_client.get(f"/admin/{meta.app_label}/{meta.model_name}/").status_code == 200


def test_endpoint_admin_never_shows_the_key_and_empty_keeps_it(staff_client, team):
    endpoint = make_endpoint(team, api_key="rpa_ADMINSECRET")
    url = f"/admin/fleet/runpodendpoint/{endpoint.pk}/change/"
    html = staff_client.get(url).content.decode()
    assert "rpa_ADMINSECRET" not in html
    assert endpoint.api_key_encrypted not in html
    form = {
        "team": team.pk,
        "name": "renamed",
        "endpoint_id": "local",
        "api_base_url": "",
        "rest_base_url": "",
        "gpu_price_per_second": "0",
        "default_model": "",
        "known_models": "[]",
        "output_mode": "auto",
        "volume_id": "",
        "volume_s3_endpoint_url": "",
        "volume_s3_region": "",
        "api_key": "",
        "volume_access_key": "",
        "volume_secret_key": "",
    }
    assert staff_client.post(url, form).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "renamed"
    assert endpoint.get_api_key() == "rpa_ADMINSECRET"
