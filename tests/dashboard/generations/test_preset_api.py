"""The presets API: list, create, get, change, delete; `preset` on POST /generations, with the
request's own fields over the preset's."""

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.generations.models import Generation, Preset
from tests.dashboard.factories import make_member

BODY = {
    "name": "Ink",
    "description": "for the comic",
    "negative_prompt": "blurry",
    "steps": 30,
    "cfg_scale": 6.5,
    "extra_params": {"sampler": "euler"},
}


def _post(client: Client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


def _patch(client: Client, path: str, body: dict):
    return client.patch(path, body, content_type="application/json")


def _fields(response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_create_then_list_and_get(member, endpoint, api_client):
    client = api_client(member)

    created = _post(client, "/api/v1/presets", {**BODY, "endpoint": "main"})

    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in BODY} == BODY
    assert (body["endpoint"], body["created_by"], body["width"]) == (
        endpoint.pk,
        member.user.username,
        None,
    )
    assert client.get("/api/v1/presets").json() == [body]
    assert client.get(f"/api/v1/presets/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"width": 500}, "width", "Must be a multiple of 8 (500 is not)."),
        ({"steps": 0}, "steps", "Must be between 1 and 150."),
        ({"extra_params": {"seed": 3}}, "extra_params", "'seed' has its own field; set it there."),
        ({"endpoint": "nowhere"}, "endpoint", "Unknown endpoint."),
        ({"name": " "}, "name", "Name the preset."),
        ({"name": "INK"}, "name", "Your team already has a preset named “Ink”."),
        ({"steps": "30"}, "steps", "Input should be a valid integer"),
        ({"name": "a\x00b"}, "name", "Text cannot contain NUL characters."),
    ],
)
def test_bad_fields_are_422_naming_them_and_nothing_is_saved(
    member, endpoint, api_client, body, field, message
):
    client = api_client(member)
    _post(client, "/api/v1/presets", BODY)

    response = _post(client, "/api/v1/presets", {**BODY, "name": "Other", **body})

    assert response.status_code == 422
    assert _fields(response)[field] == message
    assert Preset.objects.count() == 1


def test_patch_changes_only_what_is_sent_and_null_leaves_a_setting_out(
    member, endpoint, api_client
):
    client = api_client(member)
    preset_id = _post(client, "/api/v1/presets", BODY).json()["id"]

    response = _patch(client, f"/api/v1/presets/{preset_id}", {"steps": 40, "cfg_scale": None})

    assert response.status_code == 200
    body = response.json()
    assert (body["steps"], body["cfg_scale"], body["negative_prompt"]) == (40, None, "blurry")
    bad = _patch(client, f"/api/v1/presets/{preset_id}", {"steps": 0, "name": None})
    assert bad.status_code == 422
    assert set(_fields(bad)) == {"steps", "name"}
    assert Preset.objects.get().steps == 40


def test_delete(member, endpoint, api_client):
    client = api_client(member)
    preset_id = _post(client, "/api/v1/presets", BODY).json()["id"]

    assert client.delete(f"/api/v1/presets/{preset_id}").status_code == 204
    assert client.get(f"/api/v1/presets/{preset_id}").status_code == 404


def test_who_may_do_what(team, member, viewer, endpoint, api_client):
    preset_id = _post(api_client(member), "/api/v1/presets", BODY).json()["id"]
    path = f"/api/v1/presets/{preset_id}"
    other = api_client(make_member(team, Role.MEMBER))
    as_viewer = api_client(viewer)

    assert as_viewer.get(path).status_code == 200
    assert _post(as_viewer, "/api/v1/presets", {**BODY, "name": "v"}).status_code == 403
    for client in (as_viewer, other):
        assert _patch(client, path, {"steps": 5}).status_code == 403
        assert client.delete(path).status_code == 403
    admin = api_client(make_member(team, Role.ADMIN))
    assert _patch(admin, path, {"steps": 5}).json()["steps"] == 5
    assert admin.delete(path).status_code == 204


def test_another_teams_preset_is_404_everywhere(member, endpoint, rival, api_client):
    preset_id = _post(api_client(member), "/api/v1/presets", BODY).json()["id"]
    path = f"/api/v1/presets/{preset_id}"
    theirs = api_client(rival)

    assert theirs.get("/api/v1/presets").json() == []
    assert theirs.get(path).status_code == 404
    assert _patch(theirs, path, {"steps": 5}).status_code == 404
    assert theirs.delete(path).status_code == 404
    response = _post(theirs, "/api/v1/generations", {"prompt": "x", "preset": preset_id})
    assert response.status_code == 404
    assert response.json() == {"detail": f"Your team has no preset {preset_id}.", "errors": []}
    assert Preset.objects.get().steps == 30
    assert not Generation.objects.exists()


# --- `preset` on POST /generations ---------------------------------------------------------------
def _generate(client: Client, **body) -> dict:
    response = _post(client, "/api/v1/generations", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_generation_takes_the_presets_settings_by_id_or_name(member, endpoint, api_client):
    client = api_client(member)
    preset_id = _post(client, "/api/v1/presets", {**BODY, "width": 768}).json()["id"]

    for reference in (preset_id, "ink"):
        generation = _generate(client, prompt="a fox", preset=reference)

        assert generation["negative_prompt"] == "blurry"
        assert (generation["steps"], generation["cfg_scale"]) == (30, 6.5)
        assert (generation["width"], generation["height"]) == (768, 1024)  # 1024: the default
        assert generation["extra_params"] == {"sampler": "euler"}


def test_the_requests_own_fields_win_over_the_presets(member, endpoint, api_client):
    client = api_client(member)
    _post(client, "/api/v1/presets", {**BODY, "prompt": "a castle", "seed": 5})

    generation = _generate(
        client,
        preset="Ink",
        prompt="a fox",
        steps=8,
        extra_params={"scheduler": "karras", "sampler": "dpmpp_2m"},
    )

    assert (generation["prompt"], generation["steps"], generation["seed"]) == ("a fox", 8, 5)
    assert generation["negative_prompt"] == "blurry"
    assert generation["extra_params"] == {"sampler": "dpmpp_2m", "scheduler": "karras"}


def test_a_prompt_template_takes_the_requests_prompt(member, endpoint, api_client):
    client = api_client(member)
    _post(client, "/api/v1/presets", {**BODY, "prompt": "{prompt}, ink drawing"})

    assert _generate(client, preset="Ink", prompt="a fox")["prompt"] == "a fox, ink drawing"
    assert _generate(client, preset="Ink")["prompt"] == "ink drawing"


def test_without_a_prompt_from_request_or_preset_the_prompt_is_required(
    member, endpoint, api_client
):
    client = api_client(member)
    _post(client, "/api/v1/presets", BODY)

    for body in ({"preset": "Ink"}, {}):
        response = _post(client, "/api/v1/generations", body)

        assert response.status_code == 422
        assert _fields(response) == {"prompt": "Write a prompt."}
    assert not Generation.objects.exists()


def test_an_unknown_preset_is_404_and_nothing_is_generated(member, endpoint, api_client):
    response = _post(api_client(member), "/api/v1/generations", {"prompt": "x", "preset": "nope"})

    assert response.status_code == 404
    assert response.json()["detail"] == "Your team has no preset 'nope'."
    assert not Generation.objects.exists()
