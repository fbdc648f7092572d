"""Team invitations: owners and admins invite an email address, its account's owner accepts.

Joining is the invitee's choice, and inviting tells the inviter nothing about who has an
account: the answer is the same whether the address belongs to someone or not. An invitation
works only while the person who sent it may still add members with that role.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from dashboard.accounts.models import Invitation, Membership, Role, Team
from dashboard.mail import send_email

# Not yet answered or withdrawn (it may have expired meanwhile).
_OPEN = {"accepted_at__isnull": True, "declined_at__isnull": True, "revoked_at__isnull": True}


def _may_invite(membership: Membership | None, role: str) -> bool:
    """Whether this member may add people with `role`: owners and admins; owners only by owners."""
    if membership is None or not membership.can_manage:
        return False
    return role != Role.OWNER or membership.role == Role.OWNER


def _require_inviter(by: Membership, team: Team, role: str) -> None:
    if by.team_id != team.id or not by.can_manage:
        raise PermissionDenied("Only the team's owners and admins invite people.")
    if not _may_invite(by, role):
        raise PermissionDenied("Only an owner can invite someone as an owner.")


def _clean_email(email: str) -> str:
    email = email.strip().lower()
    if not email:
        raise ValidationError({"email": "Give the email address of the person to invite."})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"'{email}' is not an email address."}) from None
    return email


@transaction.atomic
def invitation_create(*, team: Team, email: str, role: str, by: Membership) -> Invitation:
    """Invite `email` to `team` as `role`; an open invitation to the same address is replaced
    (a fresh expiry, the new role). Owners and admins only; only owners invite owners."""
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    _require_inviter(by, team, role)
    email = _clean_email(email)
    member = Membership.objects.filter(team=team, user__email__iexact=email).first()
    if member is not None:  # the team's own members: nothing the inviter cannot already see
        raise ValidationError(
            {"email": f"{member.user.get_username()} ({email}) is already in {team.name}."}
        )
    now = timezone.now()
    Invitation.objects.filter(team=team, email=email, **_OPEN).update(revoked_at=now)
    try:
        with transaction.atomic():
            return Invitation.objects.create(
                team=team,
                email=email,
                role=role,
                invited_by=by.user,
                created_at=now,
                expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
            )
    except IntegrityError:  # the same address invited at the same moment by someone else
        raise ValidationError({"email": f"{email} was just invited; see the list below."}) from None


def invitation_revoke(*, invitation: Invitation, by: Membership) -> Invitation:
    """Withdraw an invitation that is still open (a closed one stays as it is)."""
    if by.team_id != invitation.team_id or not by.can_manage:
        raise PermissionDenied("Only the team's owners and admins withdraw invitations.")
    if invitation.state() in ("pending", "expired"):
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitations_of_team(team: Team) -> QuerySet[Invitation]:
    """The team's open invitations (expired ones included, so they can be sent again)."""
    return Invitation.objects.filter(team=team, **_OPEN).select_related("invited_by")


def invitations_for_user(user: AbstractBaseUser) -> QuerySet[Invitation]:
    """The pending invitations addressed to the user's email (none without an email)."""
    if not user.is_authenticated or not getattr(user, "email", ""):
        return Invitation.objects.none()
    return (
        Invitation.objects.filter(email=user.email.strip().lower(), **_OPEN)
        .filter(expires_at__gt=timezone.now())
        .select_related("team", "invited_by")
    )


def _still_allowed(invitation: Invitation) -> bool:
    """The inviter may still add members with this role (not removed, not demoted)."""
    inviter = Membership.objects.filter(
        team_id=invitation.team_id, user_id=invitation.invited_by_id
    ).first()
    return _may_invite(inviter, invitation.role)


@transaction.atomic
def invitation_accept(*, invitation_id: int, user: AbstractBaseUser) -> Membership:
    """Join the team of one of the user's pending invitations with its role.

    Raises Invitation.DoesNotExist when no pending invitation with this id is addressed to the
    user, and ValidationError when it can no longer be honoured.
    """
    invitation = invitations_for_user(user).select_for_update(of=("self",)).get(pk=invitation_id)
    team = invitation.team
    if Membership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"invitation": f"You already belong to {team.name}."})
    if not _still_allowed(invitation):
        raise ValidationError(
            {
                "invitation": f"This invitation to {team.name} no longer holds: the person "
                "who sent it can no longer add members. Ask the team for a new one."
            }
        )
    membership = Membership.objects.create(team=team, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_decline(*, invitation_id: int, user: AbstractBaseUser) -> Invitation:
    """Say no to one of the user's pending invitations (Invitation.DoesNotExist otherwise)."""
    invitation = invitations_for_user(user).select_for_update(of=("self",)).get(pk=invitation_id)
    invitation.declined_at = timezone.now()
    invitation.save(update_fields=["declined_at"])
    return invitation


def invitation_send_email(invitation: Invitation, *, request: HttpRequest) -> bool:
    """Tell the invitee by email where to accept; best effort (False when it could not go).
    The email carries no secret: accepting needs the invitee signed in."""
    base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
    link = f"{base_url.rstrip('/')}{reverse('accounts:invitations')}"
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "Someone"
    text = (
        f"{inviter} invited you to join the team {invitation.team.name} on SwarmDeck as "
        f"{invitation.get_role_display().lower()}.\n\n"
        f"Sign in with the account of this address ({invitation.email}) to accept or decline:\n"
        f"{link}\n\nThe invitation is open until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
    )
    return send_email(invitation.email, f"Join {invitation.team.name}", text)
