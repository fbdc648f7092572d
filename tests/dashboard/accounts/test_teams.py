import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from dashboard.accounts.models import Membership, Role
from dashboard.accounts.services import membership_remove, membership_set, team_create
from tests.dashboard.factories import PASSWORD, make_member, make_team, make_user


def test_new_team_makes_its_creator_the_owner(db):
    user = make_user()
    team = team_create(name="Night Shift", owner=user)
    assert team.slug == "night-shift"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER


def test_team_slug_must_be_unique(db):
    team_create(name="Night Shift", owner=make_user())
    with pytest.raises(ValidationError) as error:
        team_create(name="Night shift", owner=make_user())
    assert "slug" in error.value.message_dict


@pytest.mark.parametrize(
    ("role", "generate", "manage"),
    [
        (Role.OWNER, True, True),
        (Role.ADMIN, True, True),
        (Role.MEMBER, True, False),
        (Role.VIEWER, False, False),
    ],
)
def test_roles_grant_generating_and_managing(team, role, generate, manage):
    membership = make_member(team, role)
    assert membership.can_generate is generate
    assert membership.can_manage is manage


def test_admin_adds_a_member(team, owner):
    admin = make_member(team, Role.ADMIN)
    newcomer = make_user()
    membership = membership_set(team=team, user=newcomer, role=Role.VIEWER, by=admin)
    assert membership.role == Role.VIEWER


def test_member_cannot_manage_members(team, member):
    with pytest.raises(PermissionDenied):
        membership_set(team=team, user=make_user(), role=Role.MEMBER, by=member)


def test_only_an_owner_makes_owners(team, owner):
    admin = make_member(team, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        membership_set(team=team, user=make_user(), role=Role.OWNER, by=admin)


def test_last_owner_cannot_be_removed(team, owner):
    with pytest.raises(ValidationError):
        membership_remove(membership=owner, by=owner)


def test_x_team_header_picks_the_team(member, api_client):
    other = make_team("Other")
    make_member(other, Role.VIEWER, user=member.user)
    client = api_client(member)
    assert client.get("/api/v1/me", HTTP_X_TEAM=other.slug).json()["current_team"] == other.slug
    assert client.get("/api/v1/me").json()["current_team"] in (other.slug, member.team.slug)


def test_unknown_x_team_is_404_on_team_routes(member, api_client):
    response = api_client(member).get("/api/v1/generations", HTTP_X_TEAM="nope")
    assert response.status_code == 404


def test_team_switcher_keeps_the_choice_in_the_session(member):
    other = make_team("Other")
    make_member(other, Role.MEMBER, user=member.user)
    client = Client()
    assert client.login(username=member.user.username, password=PASSWORD)
    response = client.post("/accounts/team/", {"team": other.slug, "next": "/history/"})
    assert response.status_code == 302
    assert response["Location"] == "/history/"
    assert client.get("/api/v1/me").json()["current_team"] == other.slug


def test_team_switcher_refuses_a_team_you_are_not_in(member):
    other = make_team("Other")
    client = Client()
    client.login(username=member.user.username, password=PASSWORD)
    assert client.post("/accounts/team/", {"team": other.slug}).status_code == 404
