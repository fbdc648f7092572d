"""Team members: the role rules in the services, and the members, team and leave pages."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from dashboard.accounts.invitations import invitation_create
from dashboard.accounts.models import Membership, Role, Team
from dashboard.accounts.services import (
    membership_change_role,
    membership_leave,
    membership_remove,
)
from tests.dashboard.factories import PASSWORD, make_member, make_team


def _signed_in(membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.username, password=PASSWORD)
    return client


def _roles(team) -> dict[str, str]:
    return {m.user.username: m.role for m in Membership.objects.filter(team=team)}


# --- services ----------------------------------------------------------------------------------
def test_managing_another_team_is_refused(team, owner):
    other = make_team("Other")
    with pytest.raises(PermissionDenied):
        invitation_create(team=other, email="x@example.com", role=Role.MEMBER, by=owner)
    with pytest.raises(PermissionDenied):
        membership_remove(membership=make_member(other), by=owner)


def test_admins_cannot_demote_or_remove_owners(team, owner):
    make_member(team, Role.OWNER)
    admin = make_member(team, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        membership_change_role(membership=owner, role=Role.MEMBER, by=admin)
    with pytest.raises(PermissionDenied):
        membership_remove(membership=owner, by=admin)
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_the_last_owner_keeps_the_role(team, owner):
    with pytest.raises(ValidationError, match="at least one owner"):
        membership_change_role(membership=owner, role=Role.ADMIN, by=owner)
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_owner_steps_down_once_there_is_another(team, owner):
    successor = make_member(team, Role.ADMIN)
    membership_change_role(membership=successor, role=Role.OWNER, by=owner)
    successor.refresh_from_db()
    membership_change_role(membership=owner, role=Role.ADMIN, by=successor)
    assert _roles(team) == {owner.user.username: Role.ADMIN, successor.user.username: Role.OWNER}


def test_anyone_leaves_except_the_last_owner(team, owner, viewer):
    membership_leave(membership=viewer)
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    with pytest.raises(ValidationError, match="only owner"):
        membership_leave(membership=owner)
    assert Membership.objects.filter(pk=owner.pk).exists()


# --- the members page ----------------------------------------------------------------------------
def test_everyone_sees_the_member_list(team, owner, member, viewer):
    html = _signed_in(viewer).get("/accounts/members/").content.decode()
    for m in (owner, member, viewer):
        assert f'id="member-{m.pk}"' in html
        assert m.user.email in html
    rows = [html.index(f'id="member-{m.pk}"') for m in (owner, member, viewer)]
    assert rows == sorted(rows)  # owners first, then members, then viewers
    assert 'id="invite-member"' not in html
    assert "<select" not in html.split('id="members"')[1]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_post_changes(team, owner, role):
    actor = make_member(team, role)
    client = _signed_in(actor)
    invite = {"email": "hopeful@example.com", "role": "member"}
    assert client.post("/accounts/members/", invite).status_code == 403
    assert client.post("/accounts/members/", {"email": ""}).status_code == 403
    assert client.post(f"/accounts/members/{owner.pk}/role/", {"role": "viewer"}).status_code == 403
    assert client.post(f"/accounts/members/{owner.pk}/role/", {"role": "x"}).status_code == 403
    assert client.get(f"/accounts/members/{owner.pk}/remove/").status_code == 403
    assert client.post(f"/accounts/members/{owner.pk}/remove/").status_code == 403
    assert _roles(team) == {owner.user.username: Role.OWNER, actor.user.username: role}
    assert not team.invitations.exists()


def test_role_change_over_htmx_answers_with_the_row(team, owner, member):
    response = _signed_in(owner).post(
        f"/accounts/members/{member.pk}/role/", {"role": Role.ADMIN}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="member-{member.pk}" data-role="admin"')
    assert "Saved" in html
    member.refresh_from_db()
    assert member.role == Role.ADMIN


def test_role_change_without_javascript_returns_to_the_list(team, owner, member):
    client = _signed_in(owner)
    response = client.post(f"/accounts/members/{member.pk}/role/", {"role": Role.VIEWER})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == Role.VIEWER
    assert "is now viewer" in client.get("/accounts/members/").content.decode()


def test_bad_role_over_htmx_is_explained_in_the_row(team, owner, member):
    response = _signed_in(owner).post(
        f"/accounts/members/{member.pk}/role/", {"role": "emperor"}, HTTP_HX_REQUEST="true"
    )
    assert "Choose one of" in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.MEMBER


def test_another_teams_membership_is_not_found(team, owner):
    stranger = make_member(make_team("Other"), Role.MEMBER)
    client = _signed_in(owner)
    assert (
        client.post(f"/accounts/members/{stranger.pk}/role/", {"role": "viewer"}).status_code == 404
    )
    assert client.get(f"/accounts/members/{stranger.pk}/remove/").status_code == 404
    assert client.post(f"/accounts/members/{stranger.pk}/remove/").status_code == 404
    stranger.refresh_from_db()
    assert stranger.role == Role.MEMBER


def test_removing_asks_first_then_removes(team, owner, member):
    client = _signed_in(owner)
    confirm = client.get(f"/accounts/members/{member.pk}/remove/")
    assert f"Remove {member.user.username} from Fox Studio?" in confirm.content.decode()
    assert Membership.objects.filter(pk=member.pk).exists()
    assert client.post(f"/accounts/members/{member.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_leaving_asks_first_and_the_last_owner_is_told_why_not(team, owner, member):
    client = _signed_in(member)
    assert "Leave Fox Studio?" in client.get("/accounts/team/leave/").content.decode()
    client.post("/accounts/team/leave/")
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert "No team yet" in client.get("/accounts/members/").content.decode()

    client = _signed_in(owner)
    client.post("/accounts/team/leave/")
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert "only owner" in client.get("/accounts/members/").content.decode()


def test_new_team_makes_you_its_owner_and_the_current_team(team, member):
    client = _signed_in(member)
    response = client.post("/accounts/team/new/", {"name": "Night Shift", "slug": ""})
    assert response.status_code == 302
    new = Team.objects.get(slug="night-shift")
    assert Membership.objects.get(team=new, user=member.user).role == Role.OWNER
    assert "Members of Night Shift" in client.get("/accounts/members/").content.decode()


def test_new_team_form_explains_a_taken_short_name(team, member):
    html = (
        _signed_in(member)
        .post("/accounts/team/new/", {"name": "Fox", "slug": team.slug})
        .content.decode()
    )
    assert "already exists" in html.split('id="id_slug-errors"')[1]
    assert Team.objects.count() == 1
