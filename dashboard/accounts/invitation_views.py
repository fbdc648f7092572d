"""Invitation pages: the invitee's list with accept/decline, and withdrawing one (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts import invitations, selectors
from dashboard.accounts.models import Invitation


@login_required
@require_GET
def invitation_list(request: HttpRequest) -> HttpResponse:
    """The invitations addressed to the signed-in user's email."""
    return render(
        request,
        "accounts/invitations.html",
        {"invitations": invitations.invitations_for_user(request.user)},
    )


@login_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        membership = invitations.invitation_accept(invitation_id=invitation_id, user=request.user)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation for you.") from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:invitations")
    request.session[selectors.SESSION_TEAM_KEY] = membership.team_id
    messages.success(
        request,
        f"Welcome to {membership.team.name}: you joined as "
        f"{membership.get_role_display().lower()}.",
    )
    return redirect("generations:generate")


@login_required
@require_POST
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation = invitations.invitation_decline(invitation_id=invitation_id, user=request.user)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation for you.") from None
    messages.success(request, f"You declined the invitation to {invitation.team.name}.")
    return redirect("accounts:invitations")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Withdraw one of the current team's open invitations."""
    actor = selectors.current_membership(request)
    if actor is None:
        raise Http404("You are not a member of any team yet.")
    invitation = get_object_or_404(invitations.invitations_of_team(actor.team), pk=invitation_id)
    invitations.invitation_revoke(invitation=invitation, by=actor)
    messages.success(request, f"The invitation to {invitation.email} is withdrawn.")
    return redirect("accounts:members")
