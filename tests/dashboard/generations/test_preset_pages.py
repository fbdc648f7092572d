"""Preset pages: the menu that fills the generate form, "Save as preset…", the presets list, new,
edit and delete with its confirmation, and who may do which."""

import html
import re

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.generations.models import Preset
from tests.dashboard.factories import PASSWORD, make_member

FORM = {
    "prompt": "a fox",
    "negative_prompt": "",
    "model": "",
    "width": "768",
    "height": "512",
    "steps": "12",
    "cfg_scale": "7",
    "seed": "-1",
    "images": "1",
    "extra_params": "",
}


def signed_in(membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.username, password=PASSWORD)
    return client


def _preset(membership, **fields) -> Preset:
    defaults = {"name": "Ink", "negative_prompt": "blurry", "steps": 30}
    return Preset.objects.create(
        team=membership.team, created_by=membership.user, **{**defaults, **fields}
    )


def _values(response) -> dict:
    """What the generate form shows in each field."""
    form = response.context["form"]
    return {name: form[name].value() for name in FORM}


def _errors_of(page: str, field: str) -> str:
    match = re.search(rf'<ul class="errors" id="id_{field}-errors">(.*?)</ul>', page, re.S)
    assert match, f"no error next to {field}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


# --- the menu on the generate page --------------------------------------------------------------
def test_the_preset_menu_lists_the_teams_presets_only(member, endpoint, rival):
    _preset(member, name="Ink")
    _preset(rival, name="Their secret look")

    page = signed_in(member).get("/").content.decode()

    assert re.search(r'<select id="preset-choice" name="preset"', page)
    assert ">Ink</option>" in page
    assert "Their secret look" not in page


def test_choosing_a_preset_fills_the_form_and_says_so(member, endpoint):
    preset = _preset(member, endpoint=endpoint, extra_params={"sampler": "euler"})

    response = signed_in(member).get(f"/?preset={preset.pk}")

    values = _values(response)
    assert (values["negative_prompt"], values["steps"]) == ("blurry", 30)
    assert values["width"] == 1024  # not in the preset: the form's default stays
    assert response.context["form"]["endpoint"].value() == endpoint.pk
    assert '"sampler": "euler"' in html.unescape(response.content.decode())
    assert "Preset “Ink” applied." in response.content.decode()


def test_with_htmx_the_preset_goes_over_the_forms_values_and_a_template_takes_the_prompt(
    member, endpoint
):
    preset = _preset(member, prompt="{prompt}, ink drawing", negative_prompt="")

    response = signed_in(member).get(
        "/", {"preset": preset.pk, **FORM, "steps": "9"}, HTTP_HX_REQUEST="true"
    )

    assert "<html" not in response.content.decode()  # the form area only
    values = _values(response)
    assert values["prompt"] == "a fox, ink drawing"
    assert (values["width"], values["steps"]) == ("768", 30)


def test_a_viewer_uses_presets_to_fill_the_form(viewer, member, endpoint):
    preset = _preset(member)

    response = signed_in(viewer).get(f"/?preset={preset.pk}")

    assert response.status_code == 200
    assert _values(response)["negative_prompt"] == "blurry"


@pytest.mark.parametrize("reference", ["rival", "999999999", "abc", "9" * 30])
def test_a_preset_not_of_the_team_leaves_the_form_afresh(member, endpoint, rival, reference):
    theirs = _preset(rival, negative_prompt="their negative prompt")
    reference = theirs.pk if reference == "rival" else reference

    response = signed_in(member).get(f"/?preset={reference}")

    page = response.content.decode()
    assert response.status_code == 200
    assert "That preset is not one of your team&#x27;s; the form starts afresh." in page
    assert "their negative prompt" not in page
    assert _values(response)["negative_prompt"] is None


# --- "Save as preset…" --------------------------------------------------------------------------
def test_save_as_preset_first_asks_for_a_name_keeping_the_forms_values(member, endpoint):
    response = signed_in(member).post(
        "/presets/save/", {**FORM, "endpoint": endpoint.pk}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' in page
    assert 'name="description"' in page
    assert '<input type="hidden" name="prompt" value="a fox"' in page
    assert '<input type="hidden" name="width" value="768"' in page
    assert "errors" not in re.sub(r'<ul class="errors" id="preset-settings-errors"></ul>', "", page)
    assert not Preset.objects.exists()


def test_save_as_preset_saves_the_values_and_updates_the_menu(member, endpoint):
    response = signed_in(member).post(
        "/presets/save/",
        {**FORM, "endpoint": endpoint.pk, "name": "Fox sketch", "description": "small"},
        HTTP_HX_REQUEST="true",
    )

    preset = Preset.objects.get()
    assert (preset.name, preset.description, preset.created_by) == (
        "Fox sketch",
        "small",
        member.user,
    )
    assert (preset.prompt, preset.width, preset.height, preset.steps) == ("a fox", 768, 512, 12)
    assert (preset.seed, preset.image_count, preset.endpoint) == (-1, 1, endpoint)
    assert preset.negative_prompt == ""
    assert preset.extra_params == {}
    page = response.content.decode()
    assert "Saved preset “Fox sketch”" in page
    assert '<div id="preset-menu" class="preset-menu" hx-swap-oob="true">' in page
    assert f'<option value="{preset.pk}" title="small">Fox sketch</option>' in page


def test_without_htmx_saving_returns_to_the_form_filled_from_the_preset(member, endpoint):
    client = signed_in(member)

    response = client.post("/presets/save/", {**FORM, "name": "Fox sketch"})

    preset = Preset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/?preset={preset.pk}"
    assert _values(client.get(response["Location"]))["width"] == 768


@pytest.mark.parametrize(
    ("sent", "field", "message"),
    [
        ({"name": ""}, "name", "Name the preset."),
        ({"name": "ink"}, "name", "Your team already has a preset named “Ink”."),
        ({"name": "n", "description": "d" * 301}, "description", "Use at most 300 characters"),
    ],
)
def test_save_as_preset_errors_are_next_to_the_name_fields(member, endpoint, sent, field, message):
    _preset(member, name="Ink")

    response = signed_in(member).post("/presets/save/", {**FORM, **sent})

    assert response.status_code == 400
    assert message in _errors_of(response.content.decode(), field)
    assert Preset.objects.count() == 1


def test_save_as_preset_names_a_bad_setting_and_keeps_it_to_be_fixed(member, endpoint):
    response = signed_in(member).post(
        "/presets/save/", {**FORM, "width": "500", "name": "Odd"}, HTTP_HX_REQUEST="true"
    )

    page = html.unescape(response.content.decode())
    assert "<li>Width: Must be a multiple of 8 (500 is not).</li>" in page
    assert not Preset.objects.exists()


def test_viewers_cannot_save_presets(viewer, endpoint):
    client = signed_in(viewer)

    assert client.post("/presets/save/", {**FORM, "name": "mine"}).status_code == 403
    assert client.get("/presets/new/").status_code == 403
    assert client.post("/presets/new/", {"name": "mine"}).status_code == 403
    assert not Preset.objects.exists()
    assert 'disabled title="Viewers cannot save presets"' in client.get("/").content.decode()


# --- the presets page, new, edit, delete --------------------------------------------------------
def test_the_presets_page_lists_name_description_author_and_settings(member, endpoint, rival):
    _preset(member, description="for the comic", cfg_scale=6.5, extra_params={"sampler": "euler"})
    _preset(rival, name="Their secret look")

    page = html.unescape(signed_in(member).get("/presets/").content.decode())

    assert "Ink" in page
    assert "for the comic" in page
    assert member.user.username in page
    assert "negative prompt · 30 steps · CFG 6.5 · sampler=euler" in page
    assert "Their secret look" not in page


def test_edit_and_delete_links_show_for_those_who_may_use_them(team, member, endpoint):
    preset = _preset(member)
    other = make_member(team, Role.MEMBER)
    admin = make_member(team, Role.ADMIN)
    edit = f"/presets/{preset.pk}/edit/"

    assert edit in signed_in(member).get("/presets/").content.decode()
    assert edit in signed_in(admin).get("/presets/").content.decode()
    assert edit not in signed_in(other).get("/presets/").content.decode()


def test_a_new_preset_may_be_just_a_negative_prompt_and_a_sampler(member, endpoint):
    client = signed_in(member)
    assert client.get("/presets/new/").status_code == 200

    response = client.post(
        "/presets/new/",
        {"name": "Clean", "negative_prompt": "blurry", "extra_params": '{"sampler": "euler"}'},
    )

    assert response.status_code == 302
    assert response["Location"] == "/presets/"
    preset = Preset.objects.get()
    assert preset.settings() == {"negative_prompt": "blurry", "extra_params": {"sampler": "euler"}}


def test_edit_shows_the_preset_and_saves_changes(member, endpoint):
    preset = _preset(member, description="old")
    client = signed_in(member)

    form = client.get(f"/presets/{preset.pk}/edit/").context["form"]
    assert (form["name"].value(), form["steps"].value()) == ("Ink", 30)
    response = client.post(
        f"/presets/{preset.pk}/edit/", {"name": "Ink v2", "negative_prompt": "blurry", "seed": "7"}
    )

    assert response.status_code == 302
    preset.refresh_from_db()
    assert (preset.name, preset.description, preset.steps, preset.seed) == ("Ink v2", "", None, 7)


def test_edit_errors_are_next_to_their_fields_and_nothing_changes(member, endpoint):
    preset = _preset(member)

    response = signed_in(member).post(
        f"/presets/{preset.pk}/edit/", {"name": "", "steps": "999", "width": "500"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Name the preset." in _errors_of(page, "name")
    assert "Must be between 1 and 150." in _errors_of(page, "steps")
    assert "Must be a multiple of 8 (500 is not)." in _errors_of(page, "width")
    preset.refresh_from_db()
    assert (preset.name, preset.steps, preset.width) == ("Ink", 30, None)


def test_delete_asks_first_then_deletes(member, endpoint):
    preset = _preset(member)
    client = signed_in(member)

    confirmation = client.get(f"/presets/{preset.pk}/delete/")
    assert confirmation.status_code == 200
    assert "Delete the preset “Ink” for the whole team?" in confirmation.content.decode()
    assert Preset.objects.exists()

    response = client.post(f"/presets/{preset.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/presets/"
    assert not Preset.objects.exists()


@pytest.mark.parametrize("action", ["edit", "delete"])
@pytest.mark.parametrize(
    ("who", "status"), [("other member", 403), ("viewer", 403), ("rival", 404)]
)
def test_only_its_creator_or_an_admin_edits_or_deletes_a_preset(
    team, member, viewer, rival, endpoint, action, who, status
):
    preset = _preset(member)
    actor = {"other member": make_member(team, Role.MEMBER), "viewer": viewer, "rival": rival}
    client = signed_in(actor[who])
    url = f"/presets/{preset.pk}/{action}/"

    assert client.get(url).status_code == status
    assert client.post(url, {"name": "taken over"}).status_code == status
    preset.refresh_from_db()
    assert preset.name == "Ink"


def test_an_admin_edits_and_deletes_a_members_preset(team, member, endpoint):
    preset = _preset(member)
    client = signed_in(make_member(team, Role.ADMIN))

    assert client.post(f"/presets/{preset.pk}/edit/", {"name": "Tidied"}).status_code == 302
    assert client.post(f"/presets/{preset.pk}/delete/").status_code == 302
    assert not Preset.objects.exists()
