"""API: the current team's invitations (`/team/invitations`, owners and admins) and the caller's
own (`/invitations`: accept or decline)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from dashboard.accounts import invitations
from dashboard.accounts.api import MemberOut, member_out, require_manager, require_membership
from dashboard.accounts.models import Invitation, Role

router = Router(tags=["accounts"])


class InvitationCreate(Schema):
    email: str = Field(min_length=1, max_length=254, description="The invitee's account email.")
    role: Role = Role.MEMBER


class TeamInvitationOut(Schema):
    id: int
    email: str
    role: str
    invited_by: str | None
    created_at: datetime
    expires_at: datetime
    state: str = Field(description="pending or expired (answered ones are not listed).")
    emailed: bool | None = Field(None, description="On creation: whether the email went out.")


class MyInvitationOut(Schema):
    id: int
    team: str = Field(description="The team's slug.")
    team_name: str
    role: str
    invited_by: str | None
    expires_at: datetime


def _team_invitation_out(invitation: Invitation, emailed: bool | None = None) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by.get_username() if invitation.invited_by else None,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "state": invitation.state(),
        "emailed": emailed,
    }


def _managed_invitations(request: HttpRequest):
    actor = require_manager(request)
    return actor, invitations.invitations_of_team(actor.team)


@router.get(
    "/team/invitations",
    response=list[TeamInvitationOut],
    summary="The current team's open invitations (owners, admins)",
)
def list_team_invitations(request: HttpRequest):
    _, open_invitations = _managed_invitations(request)
    return [_team_invitation_out(invitation) for invitation in open_invitations]


@router.post(
    "/team/invitations",
    response={201: TeamInvitationOut},
    summary="Invite an email address to the current team (owners, admins)",
)
def create_team_invitation(request: HttpRequest, payload: InvitationCreate):
    actor = require_membership(request)
    invitation = invitations.invitation_create(
        team=actor.team, email=payload.email, role=payload.role, by=actor
    )
    emailed = invitations.invitation_send_email(invitation, request=request)
    return Status(201, _team_invitation_out(invitation, emailed))


@router.delete(
    "/team/invitations/{invitation_id}",
    response={204: None},
    summary="Withdraw an open invitation (owners, admins)",
)
def revoke_team_invitation(request: HttpRequest, invitation_id: int):
    actor, open_invitations = _managed_invitations(request)
    invitation = get_object_or_404(open_invitations, pk=invitation_id)
    invitations.invitation_revoke(invitation=invitation, by=actor)
    return Status(204, None)


@router.get("/invitations", response=list[MyInvitationOut], summary="Invitations addressed to me")
def list_my_invitations(request: HttpRequest):
    return [
        {
            "id": invitation.pk,
            "team": invitation.team.slug,
            "team_name": invitation.team.name,
            "role": invitation.role,
            "invited_by": invitation.invited_by.get_username() if invitation.invited_by else None,
            "expires_at": invitation.expires_at,
        }
        for invitation in invitations.invitations_for_user(request.user)
    ]


@router.post(
    "/invitations/{invitation_id}/accept",
    response=MemberOut,
    summary="Accept an invitation: join its team",
)
def accept_invitation(request: HttpRequest, invitation_id: int):
    membership = invitations.invitation_accept(invitation_id=invitation_id, user=request.user)
    return member_out(membership)


@router.post(
    "/invitations/{invitation_id}/decline", response={204: None}, summary="Decline an invitation"
)
def decline_invitation(request: HttpRequest, invitation_id: int):
    invitations.invitation_decline(invitation_id=invitation_id, user=request.user)
    return Status(204, None)
