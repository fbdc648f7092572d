"""Writes for accounts: teams, memberships, API tokens (invitations: invitations.py)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from dashboard.accounts.models import (
    ApiToken,
    GalleryDensity,
    Membership,
    Role,
    Team,
    UserPreferences,
)

TOKEN_PREFIX = "sdk_"  # noqa: S105 - a label, not a secret
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


@transaction.atomic
def team_create(*, name: str, owner: AbstractBaseUser, slug: str = "") -> Team:
    """A new team with `owner` as its first member (role owner)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"slug": "Use letters or digits in the team's short name."})
    if Team.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A team called '{slug}' already exists."})
    team = Team.objects.create(name=name, slug=slug)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def _require_manager(by: Membership, team: Team) -> None:
    if by.team_id != team.id or not by.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage its members.")


def _require_another_owner(membership: Membership, message: str) -> None:
    """Refuse when `membership` is its team's only owner. Locks all the team's owner rows in one
    order, so that two owners demoting or removing each other at once are serialised (the second
    sees the first's change) instead of leaving the team without an owner, or deadlocking."""
    owners = (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not any(pk != membership.pk for pk in owners):
        raise ValidationError({"user": message})


@transaction.atomic
def membership_set(
    *, team: Team, user: AbstractBaseUser, role: str, by: Membership | None
) -> Membership:
    """Add `user` to `team` with `role`, or change their role. `by` must be an owner or admin
    of the team (None: a system action such as the dev bootstrap). Only owners make or unmake
    owners, and the last owner keeps the role."""
    if by is not None:
        _require_manager(by, team)
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    if by is not None and role == Role.OWNER and by.role != Role.OWNER:
        raise PermissionDenied("Only an owner can make someone an owner.")
    current = Membership.objects.filter(team=team, user=user).first()
    if current is not None and current.role == Role.OWNER and role != Role.OWNER:
        if by is not None and by.role != Role.OWNER:
            raise PermissionDenied("Only an owner can change an owner's role.")
        _require_another_owner(current, "A team keeps at least one owner; make another first.")
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


def membership_change_role(*, membership: Membership, role: str, by: Membership) -> Membership:
    """Give an existing member another role (the rules of membership_set apply)."""
    return membership_set(team=membership.team, user=membership.user, role=role, by=by)


@transaction.atomic
def membership_remove(*, membership: Membership, by: Membership) -> None:
    """Take a member out of the team; only owners remove owners, and never the last one."""
    _require_manager(by, membership.team)
    if membership.role == Role.OWNER:
        if by.role != Role.OWNER:
            raise PermissionDenied("Only an owner can remove an owner.")
        _require_another_owner(membership, "A team keeps at least one owner.")
    membership.delete()


@transaction.atomic
def membership_leave(*, membership: Membership) -> None:
    """The member leaves the team themselves; the last owner must hand over first."""
    if membership.role == Role.OWNER:
        _require_another_owner(
            membership,
            "You are the team's only owner: make another member an owner before you leave.",
        )
    membership.delete()


def api_token_create(
    *, user: AbstractBaseUser, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token and its plain value, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token so you can recognise it later."})
    if len(name) > 100:
        raise ValidationError({"name": "Use at most 100 characters."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    return token, plain


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(plain: str) -> AbstractBaseUser | None:
    """The active user behind a plain token, or None; records when the token was last used."""
    if not plain:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(plain)).first()
    now = timezone.now()
    if token is None or not token.is_active(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def set_gallery_density(*, user: AbstractBaseUser, density: str) -> UserPreferences:
    """Remember how the user likes the gallery (every device they sign in on)."""
    if density not in GalleryDensity.values:
        raise ValidationError({"density": f"Choose one of: {', '.join(GalleryDensity.values)}."})
    preferences, _ = UserPreferences.objects.update_or_create(
        user=user, defaults={"gallery_density": density}
    )
    return preferences
