"""Writes for accounts: teams, memberships, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from dashboard.accounts.models import ApiToken, Membership, Role, Team

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


def membership_set(
    *, team: Team, user: AbstractBaseUser, role: str, by: Membership | None
) -> Membership:
    """Add `user` to `team` with `role`, or change their role. `by` must be an owner or admin
    of the team (None: a system action such as the dev bootstrap)."""
    if by is not None and (by.team_id != team.id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins manage its members.")
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    if by is not None and role == Role.OWNER and by.role != Role.OWNER:
        raise PermissionDenied("Only an owner can make someone an owner.")
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


def membership_remove(*, membership: Membership, by: Membership) -> None:
    if by.team_id != membership.team_id or not by.can_manage:
        raise PermissionDenied("Only the team's owners and admins manage its members.")
    if membership.role == Role.OWNER and not (
        Membership.objects.filter(team=membership.team, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError({"user": "A team keeps at least one owner."})
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
