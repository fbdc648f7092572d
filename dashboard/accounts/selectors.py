"""Reads for accounts: whose teams, which team a request acts for."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, QuerySet, Value, When
from django.http import HttpRequest

from dashboard.accounts.models import ApiToken, Membership, Role, UserPreferences

SESSION_TEAM_KEY = "current_team_id"


def memberships_for_user(user: AbstractBaseUser) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("team").order_by("team__name")


def api_tokens_for_user(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def membership_for_team(user: AbstractBaseUser, team_slug: str) -> Membership | None:
    return memberships_for_user(user).filter(team__slug=team_slug).first()


def current_membership(request: HttpRequest, user: AbstractBaseUser | None = None):
    """The membership the request acts as: the `X-Team` header (team slug) when given, else the
    team picked in the session, else the user's first team. None if the user has no team."""
    cached = getattr(request, "_swarmdeck_membership", False)
    if cached is not False:
        return cached
    user = user or request.user
    membership = None
    if user is not None and user.is_authenticated:
        slug = request.headers.get("X-Team")
        memberships = memberships_for_user(user)
        if slug:
            membership = memberships.filter(team__slug=slug).first()
        else:
            team_id = request.session.get(SESSION_TEAM_KEY) if hasattr(request, "session") else None
            if team_id is not None:
                membership = memberships.filter(team_id=team_id).first()
            membership = membership or memberships.first()
    request._swarmdeck_membership = membership
    return membership


def members_of_team(team) -> QuerySet[Membership]:
    """The team's memberships with their users: owners first, then admins, members, viewers."""
    rank = Case(
        *(When(role=role, then=Value(index)) for index, role in enumerate(Role.values)),
        default=Value(len(Role.values)),
    )
    return (
        Membership.objects.filter(team=team)
        .select_related("user", "team")
        .order_by(rank, "user__username")
    )


def preferences_for(user: AbstractBaseUser) -> UserPreferences:
    """The user's saved preferences, or the defaults (unsaved) when they never chose any."""
    return UserPreferences.objects.filter(user=user).first() or UserPreferences(user=user)
