"""Puts the current team and the user's teams (for the switcher) into every template."""

from django.http import HttpRequest

from dashboard.accounts.selectors import current_membership, memberships_for_user


def current_team(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "membership": current_membership(request),
        "memberships": memberships_for_user(user),
    }
