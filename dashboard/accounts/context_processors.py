"""Puts the current team, the user's teams (for the switcher) and how many invitations await
them into every template."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from dashboard.accounts.invitations import invitations_for_user
from dashboard.accounts.selectors import current_membership, memberships_for_user


def current_team(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "membership": current_membership(request),
        "memberships": memberships_for_user(user),
        # Counted once, and only when a template shows it.
        "invitation_count": SimpleLazyObject(lambda: invitations_for_user(user).count()),
    }
