"""Puts the current team, the user's teams (for the switcher) and how many invitations await
them into every template."""

from django.http import HttpRequest

from dashboard.accounts.invitations import invitations_for_user
from dashboard.accounts.selectors import current_membership, memberships_for_user


def current_team(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "membership": current_membership(request),
        "memberships": memberships_for_user(user),
        "invitation_count": invitations_for_user(user).count,  # only counted if shown
    }
