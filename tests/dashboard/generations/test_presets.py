"""Preset services: save, change, delete and apply team presets; who may; the generation rules."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard.accounts.models import Role
from dashboard.generations import presets
from dashboard.generations.models import Preset
from dashboard.generations.services import generation_create
from tests.dashboard.factories import make_endpoint, make_member, make_team

XL = "OfficialStableDiffusion/sd_xl_base.safetensors"


def _save(membership, **fields) -> Preset:
    return presets.preset_create(team=membership.team, user=membership.user, **fields)


def _refused(call, **fields) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(**fields)
    return caught.value.message_dict


def test_a_preset_keeps_the_settings_given_and_leaves_the_others_out(member, endpoint):
    preset = _save(
        member,
        name="  Ink   sketch ",
        description="for the comic",
        negative_prompt="blurry",
        steps="30",
        cfg_scale=6.5,
        extra_params={"sampler": "euler"},
    )

    preset.refresh_from_db()
    assert preset.name == "Ink sketch"
    assert preset.created_by == member.user
    assert (preset.prompt, preset.model, preset.width, preset.seed) == ("", "", None, None)
    assert preset.settings() == {
        "negative_prompt": "blurry",
        "steps": 30,
        "cfg_scale": 6.5,
        "extra_params": {"sampler": "euler"},
    }
    assert preset.summary() == ["negative prompt", "30 steps", "CFG 6.5", "sampler=euler"]


def test_names_are_unique_in_a_team_ignoring_case_but_not_across_teams(member, endpoint):
    _save(member, name="Portrait", steps=20)

    errors = _refused(presets.preset_create, team=member.team, user=member.user, name="PORTRAIT")

    assert errors == {"name": ["Your team already has a preset named “Portrait”."]}
    assert Preset.objects.count() == 1
    other = make_member(make_team("Rivals"), Role.MEMBER)
    assert _save(other, name="portrait").team == other.team


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "Name the preset."),
        ({"name": "x" * 81}, "name", "Use at most 80 characters (this has 81)."),
        ({"description": "d" * 301}, "description", "Use at most 300 characters (this has 301)."),
    ],
)
def test_name_and_description_rules(member, endpoint, fields, field, message):
    errors = _refused(
        presets.preset_create, team=member.team, user=member.user, **{"name": "n", **fields}
    )

    assert errors == {field: [message]}
    assert not Preset.objects.exists()


BAD_SETTINGS = [
    pytest.param({"width": 500}, "width", id="width-multiple-of-8"),
    pytest.param({"height": 4096}, "height", id="height-range"),
    pytest.param({"steps": 999}, "steps", id="steps-range"),
    pytest.param({"cfg_scale": "lots"}, "cfg_scale", id="cfg-not-a-number"),
    pytest.param({"seed": -7}, "seed", id="seed-range"),
    pytest.param({"images": 99}, "images", id="images-over-team-limit"),
    pytest.param({"prompt": "p" * 4001}, "prompt", id="prompt-length"),
    pytest.param({"extra_params": {"steps": 30}}, "extra_params", id="core-key"),
    pytest.param({"extra_params": ["sampler"]}, "extra_params", id="not-an-object"),
    pytest.param({"extra_params": {"123": "x"}}, "extra_params", id="contract-refuses"),
    pytest.param({"model": "no-such-model"}, "model", id="unknown-model"),
    pytest.param({"endpoint": 2**62}, "endpoint", id="unknown-endpoint"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_SETTINGS)
def test_settings_are_refused_with_the_words_of_generation_create(member, team, bad, field):
    make_endpoint(team, name="main", default_model=XL, known_models=[XL])
    as_generation = _refused(
        generation_create, team=team, user=member.user, **{"prompt": "a fox", **bad}
    )

    as_preset = _refused(presets.preset_create, team=team, user=member.user, name="p", **bad)

    assert as_preset == {field: as_generation[field]}
    assert not Preset.objects.exists()


def test_every_bad_field_is_named_at_once(member, endpoint):
    errors = _refused(
        presets.preset_create,
        team=member.team,
        user=member.user,
        name="",
        width=500,
        steps=0,
    )

    assert set(errors) == {"name", "width", "steps"}


def test_a_model_is_resolved_on_the_presets_endpoint(member, team):
    endpoint = make_endpoint(team, name="main", known_models=[XL])

    preset = _save(member, name="xl", endpoint="main", model="sd_xl_base")

    assert preset.endpoint == endpoint
    assert preset.model == XL


def test_viewers_and_outsiders_cannot_save_presets(viewer, endpoint):
    with pytest.raises(PermissionDenied, match="Viewers can use presets"):
        _save(viewer, name="mine")
    outsider = make_member(make_team("Rivals"), Role.OWNER)
    with pytest.raises(PermissionDenied, match="not a member"):
        presets.preset_create(team=viewer.team, user=outsider.user, name="theirs")
    assert not Preset.objects.exists()


def test_update_changes_only_the_fields_given_and_an_empty_setting_is_left_out(member, endpoint):
    preset = _save(member, name="Base", steps=30, seed=7, negative_prompt="blurry")

    presets.preset_update(preset=preset, user=member.user, steps=40, seed=None, name="Base v2")

    preset.refresh_from_db()
    assert (preset.name, preset.steps, preset.seed) == ("Base v2", 40, None)
    assert preset.negative_prompt == "blurry"


def test_a_refused_update_changes_nothing(member, endpoint):
    preset = _save(member, name="Base", steps=30)
    _save(member, name="Other")

    errors = _refused(
        presets.preset_update, preset=preset, user=member.user, name="other", steps=999
    )

    assert set(errors) == {"name", "steps"}
    preset.refresh_from_db()
    assert (preset.name, preset.steps) == ("Base", 30)


@pytest.mark.parametrize(
    ("role", "own", "allowed"),
    [
        (Role.MEMBER, True, True),
        (Role.MEMBER, False, False),
        (Role.ADMIN, False, True),
        (Role.OWNER, False, True),
        (Role.VIEWER, True, False),  # demoted after saving it
    ],
)
def test_the_creator_or_owners_and_admins_change_and_delete_a_preset(
    team, endpoint, role, own, allowed
):
    actor = make_member(team, role)
    creator = actor if own else make_member(team, Role.MEMBER)
    preset = Preset.objects.create(team=team, created_by=creator.user, name="Shared", steps=20)

    for change in (
        lambda: presets.preset_update(preset=preset, user=actor.user, steps=25),
        lambda: presets.preset_delete(preset=preset, user=actor.user),
    ):
        if allowed:
            change()
        else:
            with pytest.raises(PermissionDenied):
                change()
    assert Preset.objects.exists() is not allowed


def test_apply_puts_the_presets_settings_over_the_forms_values(member, endpoint):
    preset = _save(member, name="Negative", negative_prompt="blurry", endpoint=endpoint.pk)
    form = {"prompt": "a fox", "negative_prompt": "ugly", "width": "768", "steps": "12"}

    applied = presets.preset_apply(preset=preset, values=form)

    assert applied == {**form, "negative_prompt": "blurry", "endpoint": endpoint.pk}


@pytest.mark.parametrize(
    ("template", "typed", "expected"),
    [
        ("{prompt}, masterpiece, best quality", "a fox", "a fox, masterpiece, best quality"),
        ("photo of {prompt} at dusk", "  a lighthouse ", "photo of a lighthouse at dusk"),
        ("{prompt}, masterpiece", "", "masterpiece"),
        ("masterpiece, {prompt}", None, "masterpiece"),
    ],
)
def test_a_prompt_template_takes_the_forms_prompt(member, endpoint, template, typed, expected):
    preset = _save(member, name="Template", prompt=template)
    values = {} if typed is None else {"prompt": typed}

    assert presets.preset_apply(preset=preset, values=values)["prompt"] == expected


def test_a_plain_prompt_replaces_the_forms_prompt(member, endpoint):
    preset = _save(member, name="Fixed", prompt="a castle")

    assert presets.preset_apply(preset=preset, values={"prompt": "a fox"})["prompt"] == "a castle"
    assert presets.preset_apply(preset=preset)["prompt"] == "a castle"


def test_a_deleted_endpoint_leaves_the_preset_without_one(member, endpoint):
    preset = _save(member, name="On main", endpoint=endpoint.pk, steps=10)

    endpoint.delete()

    preset.refresh_from_db()
    assert preset.endpoint is None
    assert "endpoint" not in presets.preset_apply(preset=preset)


def test_presets_are_found_by_id_or_name_in_their_team_only(member, endpoint):
    preset = _save(member, name="Night  Shot")
    outsider = make_member(make_team("Rivals"), Role.OWNER)

    assert presets.preset_for_team(member.team, preset.pk) == preset
    assert presets.preset_for_team(member.team, "night shot") == preset
    assert presets.preset_for_team(outsider.team, preset.pk) is None
    assert presets.preset_for_team(outsider.team, "Night Shot") is None


def test_the_workers_contract_judges_a_preset_whatever_the_settings_left_out(member, team):
    make_endpoint(team, name="bare", default_model="")  # a generation here must name a model

    errors = _refused(
        presets.preset_create,
        team=team,
        user=member.user,
        name="p",
        extra_params={"123": "x"},
    )

    assert errors == {
        "extra_params": ["'123': is not a SwarmUI parameter name (ids are made of letters)"]
    }
