"""Team presets: generation settings saved under a name, applied to the generate form or to a
generation request in one step.

A preset's settings are checked with the generation rules (validation.py, then the worker's
contract), with the same messages; a setting left empty is no error: it leaves the form's value.
Members and up save presets; their creator or the team's owners and admins change or delete them;
viewers use them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from dashboard.accounts.models import Membership
from dashboard.fleet.selectors import default_endpoint, endpoint_for_team
from dashboard.generations import validation
from dashboard.generations.jobs import ContractError, generate_input
from dashboard.generations.models import PRESET_SETTINGS, PROMPT_SLOT, Generation, Preset

MAX_NAME = 80
MAX_DESCRIPTION = 300
# What validation.clean_parameters checks a left-out setting with: valid values, dropped after,
# so that only the settings a preset gives are judged (and each with generation_create's words).
STAND_INS: dict[str, Any] = {
    "prompt": "-",
    "negative_prompt": "",
    "model": "",
    "width": 1024,
    "height": 1024,
    "steps": 20,
    "cfg_scale": 7.0,
    "seed": -1,
    "images": 1,
    "extra_params": None,
}
SETTINGS = tuple(PRESET_SETTINGS)
EMPTY = {"prompt": "", "negative_prompt": "", "model": "", "extra_params": {}}
VIEWERS_REFUSED = (
    "Viewers can use presets but not save or change them; ask a team admin for the member role."
)


# --- reads ---------------------------------------------------------------------------------------
def presets_for_team(team) -> QuerySet[Preset]:
    return Preset.objects.filter(team=team).select_related("created_by", "endpoint")


def preset_for_team(team, reference: int | str) -> Preset | None:
    """The team's preset by id (a number) or by name (any case); None otherwise, other teams'
    presets included."""
    presets = presets_for_team(team)
    if isinstance(reference, int):
        return presets.filter(pk=reference).first()
    return presets.filter(name__iexact=" ".join(str(reference).split())).first()


def may_change(preset: Preset, membership: Membership | None) -> bool:
    """Whether this member may edit or delete the preset: its creator or an owner/admin."""
    if membership is None or membership.team_id != preset.team_id:
        return False
    if not membership.can_generate:
        return False
    return membership.can_manage or preset.created_by_id == membership.user_id


# --- apply ---------------------------------------------------------------------------------------
def fill_template(template: str, prompt: Any) -> str:
    """The template with `prompt` in place of {prompt}. Separators left at an end by an empty
    prompt (`{prompt}, masterpiece` → `masterpiece`) are dropped."""
    text = prompt.strip() if isinstance(prompt, str) else ""
    return template.replace(PROMPT_SLOT, text).strip().strip(",").strip()


def preset_apply(*, preset: Preset, values: dict | None = None) -> dict:
    """Initial values of the generate form: the preset's settings over `values` (the form's own).
    A prompt template takes the form's prompt in place of {prompt}; another prompt replaces it."""
    values = dict(values or {})
    applied = {**values, **preset.settings()}
    if preset.is_template:
        applied["prompt"] = fill_template(preset.prompt, values.get("prompt"))
    return applied


def generation_parameters(*, preset: Preset, given: dict) -> dict:
    """generation_create's arguments for a request naming a preset: the request's own fields win
    over the preset's (extra_params key by key); a prompt template takes the request's prompt in
    place of {prompt}."""
    parameters = {**preset.settings(), **given}
    if isinstance(given.get("extra_params"), dict):
        parameters["extra_params"] = {**preset.extra_params, **given["extra_params"]}
    if preset.is_template:
        parameters["prompt"] = fill_template(preset.prompt, given.get("prompt"))
    return parameters


# --- write ---------------------------------------------------------------------------------------
def _membership(team, user) -> Membership:
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this team.")
    if not membership.can_generate:
        raise PermissionDenied(VIEWERS_REFUSED)
    return membership


def _left_out(value: Any) -> bool:
    return value is None or value == {} or (isinstance(value, str) and not value.strip())


def _name(errors: dict, preset: Preset, value: Any) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors["name"] = "Enter text."
        return ""
    name = " ".join(value.split())
    if not name:
        errors["name"] = "Name the preset."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters (this has {len(name)})."
    elif taken := (
        Preset.objects.filter(team=preset.team, name__iexact=name).exclude(pk=preset.pk).first()
    ):
        errors["name"] = f"Your team already has a preset named “{taken.name}”."
    return name


def _description(errors: dict, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors["description"] = "Enter text."
        return ""
    description = value.strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = (
            f"Use at most {MAX_DESCRIPTION} characters (this has {len(description)})."
        )
    return description


def _endpoint(errors: dict, team, value: Any):
    reference = isinstance(value, int | str) and not isinstance(value, bool)
    endpoint = endpoint_for_team(team, value) if reference else None
    if endpoint is None:
        errors["endpoint"] = "Unknown endpoint."
    return endpoint


def _settings(errors: dict, team, raw: dict) -> dict:
    """The model fields of the settings in `raw`: each one given is checked as generation_create
    checks it (messages included); each one left out stays empty."""
    given = {name for name in SETTINGS if not _left_out(raw.get(name))}
    endpoint = None
    if "endpoint" in given:
        endpoint = checked_on = _endpoint(errors, team, raw["endpoint"])
    else:  # a model is checked where a generation naming no endpoint would run
        checked_on = default_endpoint(team)
    found: dict[str, str] = {}
    parameters = {name: raw[name] if name in given else STAND_INS[name] for name in STAND_INS}
    cleaned = validation.clean_parameters(found, team=team, endpoint=checked_on, **parameters)
    found = {name: message for name, message in found.items() if name in given}
    if not found:
        try:  # the worker's own contract has the last word, as for a generation
            generate_input(Generation(**cleaned))
        except ContractError as exc:
            found = validation.contract_errors(str(exc))
    errors.update({name: message for name, message in found.items() if name in given})
    settings = {
        field: cleaned[field] if name in given else EMPTY.get(field)
        for name, field in PRESET_SETTINGS.items()
        if name != "endpoint"
    }
    return {**settings, "endpoint": endpoint}


def _current(preset: Preset) -> dict:
    return {
        "name": preset.name,
        "description": preset.description,
        **{name: getattr(preset, field) for name, field in PRESET_SETTINGS.items()},
    }


def _save(preset: Preset, values: dict) -> Preset:
    errors: dict[str, str] = {}
    name = _name(errors, preset, values["name"])
    description = _description(errors, values["description"])
    settings = _settings(errors, preset.team, values)
    if errors:
        raise ValidationError(errors)
    preset.name, preset.description = name, description
    for field, value in settings.items():
        setattr(preset, field, value)
    try:
        with transaction.atomic():
            preset.save()
    except IntegrityError:  # saved by someone else between our check and this save
        if preset.pk:
            preset.refresh_from_db()
        raise ValidationError({"name": f"Your team already has a preset named “{name}”."}) from None
    return preset


def _check_known(fields: dict, caller: str) -> None:
    unknown = sorted(set(fields) - {"name", "description", *SETTINGS})
    if unknown:
        raise TypeError(f"{caller}() got unexpected fields: {', '.join(unknown)}")


def preset_create(*, team, user, name: Any, description: Any = "", **settings: Any) -> Preset:
    """Save the settings (any of SETTINGS) under a name unique in the team (ignoring case);
    empty ones are left out.

    Raises ValidationError naming every bad field (nothing saved), PermissionDenied for viewers
    and non-members.
    """
    _check_known(settings, "preset_create")
    _membership(team, user)
    values = {"name": name, "description": description, **settings}
    return _save(Preset(team=team, created_by=user), values)


def preset_update(*, preset: Preset, user, **changes: Any) -> Preset:
    """Change the given fields (name, description or settings; an empty setting is left out from
    then on), checked like preset_create. Its creator or the team's owners and admins only."""
    _check_known(changes, "preset_update")
    if not may_change(preset, _membership(preset.team, user)):
        raise PermissionDenied("Only the preset's creator or a team admin can change it.")
    return _save(preset, {**_current(preset), **changes})


def preset_delete(*, preset: Preset, user) -> None:
    """Delete the preset. Its creator or the team's owners and admins only."""
    if not may_change(preset, _membership(preset.team, user)):
        raise PermissionDenied("Only the preset's creator or a team admin can delete it.")
    preset.delete()
