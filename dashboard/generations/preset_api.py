"""API for team presets: list, create, get, change, delete. POST /generations takes `preset` too
(api.py): the preset's settings first, the request's own fields over them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import StrictFloat, StrictInt

from dashboard.accounts.api import require_membership
from dashboard.generations import presets
from dashboard.generations.models import Preset

router = Router(tags=["presets"])

Number = StrictInt | StrictFloat
SETTINGS_NOTE = "Left out, null or empty: the preset leaves the form's (or request's) value."


class PresetIn(Schema):
    name: str = Field(description="Unique in the team, ignoring case (1-80 characters).")
    description: str = ""
    prompt: str = Field("", description="With {prompt} in it, a template the prompt goes into.")
    negative_prompt: str = ""
    model: str = ""
    width: StrictInt | None = None
    height: StrictInt | None = None
    steps: StrictInt | None = None
    cfg_scale: Number | None = None
    seed: StrictInt | None = None
    images: StrictInt | None = Field(None, description="How many images.")
    endpoint: StrictInt | str | None = Field(None, description="The team's endpoint, id or name.")
    extra_params: dict[str, Any] = Field(
        default_factory=dict, description="More SwarmUI parameters."
    )


class PresetPatch(Schema):
    """Only the fields sent change; a setting sent as null or empty is left out from then on."""

    name: str | None = None
    description: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    width: StrictInt | None = None
    height: StrictInt | None = None
    steps: StrictInt | None = None
    cfg_scale: Number | None = None
    seed: StrictInt | None = None
    images: StrictInt | None = None
    endpoint: StrictInt | str | None = None
    extra_params: dict[str, Any] | None = None


class PresetOut(Schema):
    id: int
    name: str
    description: str
    prompt: str
    negative_prompt: str
    model: str
    width: int | None
    height: int | None
    steps: int | None
    cfg_scale: float | None
    seed: int | None
    images: int | None = Field(None, alias="image_count")
    endpoint: int | None = Field(None, alias="endpoint_id")
    extra_params: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_created_by(preset: Preset) -> str | None:
        return preset.created_by.get_username() if preset.created_by else None


def team_preset(request: HttpRequest, reference: int | str) -> Preset:
    """The acting team's preset by id (a number) or name (any case); 404 otherwise."""
    team = require_membership(request).team
    preset = presets.preset_for_team(team, reference)
    if preset is None:
        raise HttpError(404, f"Your team has no preset {reference!r}.")
    return preset


@router.get("/presets", response=list[PresetOut], description=SETTINGS_NOTE)
def list_presets(request: HttpRequest):
    """The team's presets, by name."""
    return presets.presets_for_team(require_membership(request).team)


@router.post("/presets", response={201: PresetOut}, description=SETTINGS_NOTE)
def create_preset(request: HttpRequest, payload: PresetIn):
    """Members and up; 422 naming each bad field (a name the team already has, too)."""
    membership = require_membership(request)
    preset = presets.preset_create(team=membership.team, user=request.user, **payload.dict())
    return Status(201, preset)


@router.get("/presets/{preset_id}", response=PresetOut)
def get_preset(request: HttpRequest, preset_id: int):
    return team_preset(request, preset_id)


@router.patch("/presets/{preset_id}", response=PresetOut, description=SETTINGS_NOTE)
def update_preset(request: HttpRequest, preset_id: int, payload: PresetPatch):
    """Its creator or the team's owners and admins (else 403)."""
    changes = payload.dict(exclude_unset=True)
    return presets.preset_update(
        preset=team_preset(request, preset_id), user=request.user, **changes
    )


@router.delete("/presets/{preset_id}", response={204: None})
def delete_preset(request: HttpRequest, preset_id: int):
    """Its creator or the team's owners and admins (else 403)."""
    presets.preset_delete(preset=team_preset(request, preset_id), user=request.user)
    return Status(204, None)
