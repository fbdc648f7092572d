"""`/api/v1/team/members`: list for every member, change/remove for owners and admins (people
join by invitation: test_invitations_api.py)."""

import pytest
from django.test import Client

from dashboard.accounts.models import Membership, Role
from tests.dashboard.factories import make_member, make_team

URL = "/api/v1/team/members"


@pytest.fixture
def admin(team, owner):
    return make_member(team, Role.ADMIN)


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_every_member_lists_the_team(owner, member, viewer, api_client):
    response = api_client(viewer).get(URL)
    assert response.status_code == 200
    listed = response.json()
    assert [m["id"] for m in listed] == [owner.pk, member.pk, viewer.pk]
    assert listed[0] == {
        "id": owner.pk,
        "user_id": owner.user_id,
        "username": owner.user.username,
        "email": owner.user.email,
        "role": "owner",
        "joined_at": listed[0]["joined_at"],
    }
    assert listed[0]["joined_at"].startswith(f"{owner.created_at:%Y-%m-%dT}")


def test_the_x_team_header_picks_whose_members(member, api_client):
    other = make_team("Other")
    make_member(other, Role.VIEWER, user=member.user)
    stranger = make_member(other, Role.OWNER)
    listed = api_client(member).get(URL, HTTP_X_TEAM=other.slug).json()
    assert {m["id"] for m in listed} == {stranger.pk, member.user.memberships.get(team=other).pk}


def test_adding_a_user_directly_is_gone(admin, api_client):
    # Nobody joins a team unasked: POST /team/invitations instead.
    response = api_client(admin).post(URL, {"user": "robin"}, content_type="application/json")
    assert response.status_code == 405


def test_no_token_is_401():
    response = Client().get(URL)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_change_anything(team, owner, role, api_client):
    actor = make_member(team, role)
    client = api_client(actor)
    changed = client.patch(f"{URL}/{owner.pk}", {"role": "viewer"}, content_type="application/json")
    removed = client.delete(f"{URL}/{owner.pk}")
    assert [changed.status_code, removed.status_code] == [403, 403]
    assert removed.json() == {
        "detail": "Only the team's owners and admins manage its members.",
        "errors": [],
    }
    assert Membership.objects.filter(team=team).count() == 2


def test_admin_changes_a_role(member, admin, api_client):
    response = api_client(admin).patch(
        f"{URL}/{member.pk}", {"role": "admin"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    member.refresh_from_db()
    assert member.role == Role.ADMIN


def test_only_owners_make_owners(member, admin, api_client):
    response = api_client(admin).patch(
        f"{URL}/{member.pk}", {"role": "owner"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only an owner can make someone an owner."
    member.refresh_from_db()
    assert member.role == Role.MEMBER


def test_the_last_owner_cannot_be_demoted_or_removed(owner, api_client):
    client = api_client(owner)
    demoted = client.patch(f"{URL}/{owner.pk}", {"role": "admin"}, content_type="application/json")
    removed = client.delete(f"{URL}/{owner.pk}")
    assert [demoted.status_code, removed.status_code] == [422, 422]
    assert "at least one owner" in _fields(demoted)["user"]
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_admin_removes_a_member(member, admin, api_client):
    response = api_client(admin).delete(f"{URL}/{member.pk}")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_another_teams_membership_is_404(owner, api_client):
    stranger = make_member(make_team("Other"), Role.MEMBER)
    client = api_client(owner)
    changed = client.patch(
        f"{URL}/{stranger.pk}", {"role": "admin"}, content_type="application/json"
    )
    removed = client.delete(f"{URL}/{stranger.pk}")
    assert [changed.status_code, removed.status_code] == [404, 404]
    assert removed.json() == {"detail": "Not found.", "errors": []}
    stranger.refresh_from_db()
    assert stranger.role == Role.MEMBER
