"""Invitations: nobody joins a team unasked. The rules in the service, and the members and
invitations pages."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from dashboard.accounts.invitations import (
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_revoke,
    invitations_for_user,
)
from dashboard.accounts.models import Invitation, Membership, Role
from tests.dashboard.factories import PASSWORD, make_member, make_team, make_user
from tests.support.processes import free_port


def _signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def admin(team, owner):
    return make_member(team, Role.ADMIN)


@pytest.fixture
def robin(db):
    return make_user("robin")  # robin@example.com


# --- the service ---------------------------------------------------------------------------------
def test_the_invitee_accepts_and_joins_with_the_role(team, admin, robin, settings):
    settings.INVITATION_TTL_DAYS = 3
    invitation = invitation_create(team=team, email=" Robin@Example.COM ", role="viewer", by=admin)
    assert invitation.email == "robin@example.com"
    assert invitation.expires_at - invitation.created_at == timedelta(days=3)
    assert not Membership.objects.filter(team=team, user=robin).exists()  # not before accepting

    assert list(invitations_for_user(robin)) == [invitation]
    membership = invitation_accept(invitation_id=invitation.pk, user=robin)
    assert (membership.team, membership.role) == (team, Role.VIEWER)
    invitation.refresh_from_db()
    assert (invitation.state(), invitation.accepted_by) == ("accepted", robin)
    with pytest.raises(Invitation.DoesNotExist):  # used once
        invitation_accept(invitation_id=invitation.pk, user=robin)


def test_only_the_account_with_that_email_can_answer(team, admin, robin):
    invitation = invitation_create(team=team, email="robin@example.com", role="admin", by=admin)
    intruder = make_user("intruder")
    assert not invitations_for_user(intruder).exists()
    with pytest.raises(Invitation.DoesNotExist):
        invitation_accept(invitation_id=invitation.pk, user=intruder)
    with pytest.raises(Invitation.DoesNotExist):
        invitation_decline(invitation_id=invitation.pk, user=intruder)
    assert not Membership.objects.filter(user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.state() == "pending"


@pytest.mark.parametrize(
    ("email", "role", "field", "message"),
    [
        ("", Role.MEMBER, "email", "Give the email address"),
        ("not-an-address", Role.MEMBER, "email", "'not-an-address' is not an email address."),
        ("robin@example.com", "emperor", "role", "Choose one of: owner, admin, member, viewer."),
        ("OWNER-ADDRESS", Role.MEMBER, "email", "is already in Fox Studio"),
    ],
)
def test_bad_invitations_name_the_field_and_change_nothing(
    team, owner, admin, email, role, field, message
):
    email = owner.user.email.upper() if email == "OWNER-ADDRESS" else email
    with pytest.raises(ValidationError) as error:
        invitation_create(team=team, email=email, role=role, by=admin)
    assert message in error.value.message_dict[field][0]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_invite(team, role):
    actor = make_member(team, role)
    with pytest.raises(PermissionDenied):
        invitation_create(team=team, email="robin@example.com", role=Role.MEMBER, by=actor)
    assert not Invitation.objects.exists()


def test_only_owners_invite_owners(team, owner, admin, robin):
    with pytest.raises(PermissionDenied, match="Only an owner"):
        invitation_create(team=team, email=robin.email, role=Role.OWNER, by=admin)
    invitation = invitation_create(team=team, email=robin.email, role=Role.OWNER, by=owner)
    assert invitation_accept(invitation_id=invitation.pk, user=robin).role == Role.OWNER


def test_inviting_again_replaces_the_open_invitation(team, admin, robin):
    first = invitation_create(team=team, email=robin.email, role=Role.VIEWER, by=admin)
    second = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=admin)
    first.refresh_from_db()
    assert (first.state(), second.state()) == ("revoked", "pending")
    assert list(invitations_for_user(robin)) == [second]


def test_the_database_holds_one_open_invitation_per_address(team, admin):
    invitation = invitation_create(team=team, email="robin@example.com", role="member", by=admin)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            team=team, email=invitation.email, expires_at=invitation.expires_at
        )


def test_expired_revoked_and_declined_invitations_open_nothing(team, admin, robin):
    expired = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=admin)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    other = make_team("Other")
    revoked = invitation_create(
        team=other, email=robin.email, role=Role.MEMBER, by=make_member(other, Role.OWNER)
    )
    invitation_revoke(invitation=revoked, by=other.memberships.get())
    third = make_team("Third")
    declined = invitation_create(
        team=third, email=robin.email, role=Role.MEMBER, by=make_member(third, Role.OWNER)
    )
    invitation_decline(invitation_id=declined.pk, user=robin)

    assert not invitations_for_user(robin).exists()
    for invitation in (expired, revoked, declined):
        with pytest.raises(Invitation.DoesNotExist):
            invitation_accept(invitation_id=invitation.pk, user=robin)
    assert not Membership.objects.filter(user=robin).exists()


@pytest.mark.parametrize("change", ["removed", "demoted"])
def test_an_invitation_lapses_when_its_sender_may_no_longer_add_members(
    team, owner, admin, robin, change
):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=admin)
    if change == "removed":
        admin.delete()
    else:
        Membership.objects.filter(pk=admin.pk).update(role=Role.MEMBER)
    with pytest.raises(ValidationError, match="no longer holds"):
        invitation_accept(invitation_id=invitation.pk, user=robin)
    assert not Membership.objects.filter(team=team, user=robin).exists()


def test_accepting_when_already_a_member_is_explained(team, admin, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.ADMIN, by=admin)
    make_member(team, Role.VIEWER, user=robin)  # added meanwhile (e.g. by a site admin)
    with pytest.raises(ValidationError, match="already belong to Fox Studio"):
        invitation_accept(invitation_id=invitation.pk, user=robin)
    assert Membership.objects.get(team=team, user=robin).role == Role.VIEWER


def test_withdrawing_is_for_the_teams_managers(team, owner, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    with pytest.raises(PermissionDenied):
        invitation_revoke(invitation=invitation, by=make_member(team, Role.MEMBER))
    with pytest.raises(PermissionDenied):
        invitation_revoke(invitation=invitation, by=make_member(make_team("Other"), Role.OWNER))
    invitation.refresh_from_db()
    assert invitation.state() == "pending"


# --- the members page: inviting ------------------------------------------------------------------
def test_owner_invites_from_the_page_and_the_email_says_where_to_accept(
    team, owner, robin, mailoutbox
):
    client = _signed_in(owner.user)
    response = client.post("/accounts/members/", {"email": "robin@example.com", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.team, invitation.role, invitation.invited_by) == (team, "viewer", owner.user)
    page = client.get("/accounts/members/").content.decode()
    assert "Invited robin@example.com as viewer by email." in page
    assert f'id="open-invitation-{invitation.pk}"' in page
    [mail] = mailoutbox
    assert mail.to == ["robin@example.com"]
    assert mail.subject == "[SwarmDeck] Join Fox Studio"
    assert "http://testserver/accounts/invitations/" in mail.body
    assert f"{owner.user.username} invited you to join the team Fox Studio" in mail.body


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(team, owner, robin):
    client = _signed_in(owner.user)
    answers = []
    for email in ("robin@example.com", "nobody@example.com"):
        client.post("/accounts/members/", {"email": email, "role": "member"})
        page = client.get("/accounts/members/").content.decode()
        answers.append(page.split('class="messages"')[1].split("</ul>")[0].replace(email, "…"))
    assert answers[0] == answers[1]


def test_a_mail_failure_keeps_the_invitation_and_says_so(team, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    client = _signed_in(owner.user)
    client.post("/accounts/members/", {"email": "robin@example.com", "role": "member"})
    assert "the email could not be sent" in client.get("/accounts/members/").content.decode()
    assert Invitation.objects.get().state() == "pending"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "nope", "role": Role.MEMBER}, "email", "is not an email address"),
        ({"email": "taken@example.com", "role": Role.MEMBER}, "email", "is already in"),
        ({"email": "free@example.com", "role": "emperor"}, "role", "Choose one of: owner"),
        ({"email": "", "role": Role.MEMBER}, "email", "This field is required."),
    ],
)
def test_invite_form_shows_the_problem_next_to_the_field(team, owner, data, field, message):
    make_member(team, Role.MEMBER, user=make_user("taken"))
    response = _signed_in(owner.user).post("/accounts/members/", data)
    assert response.status_code == 200
    errors = response.content.decode().split(f'id="id_{field}-errors"')[1].split("</ul>")[0]
    assert message in errors
    assert not Invitation.objects.exists()


def test_admins_are_not_offered_the_owner_role_and_cannot_post_it(team, admin):
    client = _signed_in(admin.user)
    form = client.get("/accounts/members/").content.decode().split('id="invite-member"')[1]
    assert 'value="owner"' not in form.split("</form>")[0]
    response = client.post("/accounts/members/", {"email": "a@example.com", "role": Role.OWNER})
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_open_invitations_are_shown_to_managers_only(team, owner, member):
    invitation_create(team=team, email="secret-hire@example.com", role=Role.MEMBER, by=owner)
    assert (
        "secret-hire@example.com"
        in _signed_in(owner.user).get("/accounts/members/").content.decode()
    )
    assert "secret-hire@example.com" not in (
        _signed_in(member.user).get("/accounts/members/").content.decode()
    )


def test_withdraw_from_the_page(team, owner, member, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    url = f"/accounts/members/invitations/{invitation.pk}/revoke/"
    assert _signed_in(member.user).post(url).status_code == 403
    stranger = make_member(make_team("Other"), Role.OWNER)
    assert _signed_in(stranger.user).post(url).status_code == 404
    invitation.refresh_from_db()
    assert invitation.state() == "pending"
    assert _signed_in(owner.user).post(url).status_code == 302
    invitation.refresh_from_db()
    assert invitation.state() == "revoked"


# --- the invitee's page --------------------------------------------------------------------------
def test_the_invitee_sees_the_badge_accepts_and_lands_in_the_team(team, owner, robin):
    home = make_team("Home")
    make_member(home, Role.OWNER, user=robin)
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    client = _signed_in(robin)
    nav = client.get("/accounts/tokens/").content.decode()
    assert 'id="nav-invitations"' in nav
    assert '<span class="badge">1</span>' in nav
    page = client.get("/accounts/invitations/").content.decode()
    assert f'id="invitation-{invitation.pk}"' in page
    assert "Fox Studio" in page

    response = client.post(f"/accounts/invitations/{invitation.pk}/accept/")
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=robin).role == Role.MEMBER
    members = client.get("/accounts/members/").content.decode()
    assert "Members of Fox Studio" in members  # the new team is the current one
    assert "Welcome to Fox Studio: you joined as member." in members
    assert 'id="nav-invitations"' not in members


def test_the_invitee_declines(team, owner, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    client = _signed_in(robin)
    assert client.post(f"/accounts/invitations/{invitation.pk}/decline/").status_code == 302
    assert "You declined the invitation to Fox Studio." in (
        client.get("/accounts/invitations/").content.decode()
    )
    assert not Membership.objects.filter(user=robin).exists()


def test_someone_elses_invitation_is_not_found(team, owner, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    client = _signed_in(make_user("intruder"))
    assert client.post(f"/accounts/invitations/{invitation.pk}/accept/").status_code == 404
    assert client.post(f"/accounts/invitations/{invitation.pk}/decline/").status_code == 404
    assert "Fox Studio" not in client.get("/accounts/invitations/").content.decode()
    invitation.refresh_from_db()
    assert invitation.state() == "pending"


def test_a_lapsed_invitation_is_explained_on_the_page(team, owner, admin, robin):
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=admin)
    admin.delete()
    client = _signed_in(robin)
    response = client.post(f"/accounts/invitations/{invitation.pk}/accept/")
    assert response.status_code == 302
    assert "no longer holds" in client.get("/accounts/invitations/").content.decode()
    assert not Membership.objects.filter(user=robin).exists()
