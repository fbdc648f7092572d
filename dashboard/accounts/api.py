"""API: tokens for scripts (`POST /auth/token`), who am I (`/me`), my tokens (`/tokens`), and the
current team's members (`/team/members`; people join by invitation: invitation_api.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from dashboard.accounts import selectors, services
from dashboard.accounts.models import Membership, Role

router = Router(tags=["accounts"])


def require_membership(request: HttpRequest) -> Membership:
    """The team the request acts for (header `X-Team: <slug>`, else the current/first team)."""
    membership = selectors.current_membership(request)
    if membership is None:
        if request.headers.get("X-Team"):
            raise HttpError(404, f"You are not a member of team '{request.headers['X-Team']}'.")
        raise HttpError(403, "You are not a member of any team yet.")
    return membership


def require_manager(request: HttpRequest) -> Membership:
    """The acting membership, which must be one of its team's owners or admins (else 403)."""
    membership = require_membership(request)
    if not membership.can_manage:
        raise HttpError(403, "Only the team's owners and admins can do that.")
    return membership


class TokenRequest(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field("API token", min_length=1, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret itself: shown this once, never again.")


class TeamOut(Schema):
    slug: str
    name: str
    role: str
    max_images_per_generation: int


class MeOut(Schema):
    id: int
    username: str
    email: str
    teams: list[TeamOut]
    current_team: str | None


def _expiry(days: int | None) -> datetime | None:
    return timezone.now() + timedelta(days=days) if days else None


def _new_token_out(token, plain: str) -> dict:
    return {**TokenOut.from_orm(token).dict(), "token": plain}


@router.post(
    "/auth/token", auth=None, response={201: NewTokenOut}, summary="Trade a password for a token"
)
def create_token_with_password(request: HttpRequest, payload: TokenRequest):
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise HttpError(401, "Wrong username or password.")
    token, plain = services.api_token_create(
        user=user, name=payload.name, expires_at=_expiry(payload.expires_in_days)
    )
    return Status(201, _new_token_out(token, plain))


@router.get("/me", response=MeOut)
def me(request: HttpRequest):
    user = request.user
    memberships = selectors.memberships_for_user(user)
    current = selectors.current_membership(request)
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "teams": [
            {
                "slug": m.team.slug,
                "name": m.team.name,
                "role": m.role,
                "max_images_per_generation": m.team.max_images_per_generation,
            }
            for m in memberships
        ],
        "current_team": current.team.slug if current else None,
    }


class TeamCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    slug: str = Field(
        "", max_length=60, description="Short name for the X-Team header; empty: from the name."
    )


@router.post("/teams", response={201: TeamOut}, summary="Create a team; you become its owner")
def create_team(request: HttpRequest, payload: TeamCreate):
    team = services.team_create(name=payload.name, slug=payload.slug, owner=request.user)
    return Status(
        201,
        {
            "slug": team.slug,
            "name": team.name,
            "role": Role.OWNER,
            "max_images_per_generation": team.max_images_per_generation,
        },
    )


@router.post("/team/leave", response={204: None}, summary="Leave the current team")
def leave_team(request: HttpRequest):
    """The last owner must make another member an owner first (422)."""
    services.membership_leave(membership=require_membership(request))
    return Status(204, None)


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest):
    return selectors.api_tokens_for_user(request.user)


@router.post("/tokens", response={201: NewTokenOut})
def create_token(request: HttpRequest, payload: TokenCreate):
    token, plain = services.api_token_create(
        user=request.user, name=payload.name, expires_at=_expiry(payload.expires_in_days)
    )
    return Status(201, _new_token_out(token, plain))


@router.delete("/tokens/{token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: int):
    token = get_object_or_404(selectors.api_tokens_for_user(request.user), pk=token_id)
    services.api_token_revoke(token=token)
    return Status(204, None)


# --- the current team's members (X-Team or the current team) ----------------------------------
class MemberOut(Schema):
    id: int = Field(description="The membership's id (used in the member routes).")
    user_id: int
    username: str
    email: str
    role: str
    joined_at: datetime


class MemberPatch(Schema):
    role: Role


def member_out(membership: Membership) -> dict:
    return {
        "id": membership.pk,
        "user_id": membership.user_id,
        "username": membership.user.get_username(),
        "email": membership.user.email,
        "role": membership.role,
        "joined_at": membership.created_at,
    }


def _team_member(request: HttpRequest, membership_id: int) -> tuple[Membership, Membership]:
    actor = require_membership(request)
    return actor, get_object_or_404(selectors.members_of_team(actor.team), pk=membership_id)


@router.get("/team/members", response=list[MemberOut], summary="The current team's members")
def list_members(request: HttpRequest):
    team = require_membership(request).team
    return [member_out(m) for m in selectors.members_of_team(team)]


@router.patch("/team/members/{membership_id}", response=MemberOut, summary="Change a role")
def change_member_role(request: HttpRequest, membership_id: int, payload: MemberPatch):
    actor, target = _team_member(request, membership_id)
    return member_out(
        services.membership_change_role(membership=target, role=payload.role, by=actor)
    )


@router.delete("/team/members/{membership_id}", response={204: None}, summary="Remove a member")
def remove_member(request: HttpRequest, membership_id: int):
    actor, target = _team_member(request, membership_id)
    services.membership_remove(membership=target, by=actor)
    return Status(204, None)
