"""`/api/v1/team/invitations` (owners and admins) and `/api/v1/invitations` (the invitee)."""

import pytest

from dashboard.accounts.invitations import invitation_create
from dashboard.accounts.models import Invitation, Membership, Role
from tests.dashboard.factories import make_member, make_team, make_user

TEAM_URL = "/api/v1/team/invitations"
MY_URL = "/api/v1/invitations"


@pytest.fixture
def admin(team, owner):
    return make_member(team, Role.ADMIN)


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_admin_invites_lists_and_withdraws(team, admin, api_client, mailoutbox):
    client = api_client(admin)
    created = client.post(
        TEAM_URL, {"email": "Robin@example.com", "role": "viewer"}, content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("email", "role", "invited_by", "state", "emailed")} == {
        "email": "robin@example.com",
        "role": "viewer",
        "invited_by": admin.user.username,
        "state": "pending",
        "emailed": True,
    }
    assert len(mailoutbox) == 1
    assert [i["id"] for i in client.get(TEAM_URL).json()] == [body["id"]]
    assert client.delete(f"{TEAM_URL}/{body['id']}").status_code == 204
    assert client.get(TEAM_URL).json() == []
    assert Invitation.objects.get().state() == "revoked"


def test_role_defaults_to_member(admin, api_client):
    response = api_client(admin).post(
        TEAM_URL, {"email": "robin@example.com"}, content_type="application/json"
    )
    assert response.json()["role"] == "member"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"email": "nope"}, "email", "'nope' is not an email address."),
        ({"email": "a@example.com", "role": "emperor"}, "role", "'owner', 'admin', 'member'"),
        ({"role": "member"}, "email", "This field is required."),
        ({"email": ""}, "email", "at least 1 character"),
        ({"email": "taken@example.com"}, "email", "is already in"),
    ],
)
def test_bad_invitations_are_422_naming_the_field(team, admin, api_client, payload, field, message):
    make_member(team, Role.VIEWER, user=make_user("taken"))
    response = api_client(admin).post(TEAM_URL, payload, content_type="application/json")
    assert response.status_code == 422
    assert message in _fields(response)[field]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_neither_see_nor_send_invitations(team, owner, role, api_client):
    invitation = invitation_create(team=team, email="a@example.com", role=Role.MEMBER, by=owner)
    client = api_client(make_member(team, role))
    listed = client.get(TEAM_URL)
    sent = client.post(TEAM_URL, {"email": "b@example.com"}, content_type="application/json")
    withdrawn = client.delete(f"{TEAM_URL}/{invitation.pk}")
    assert [listed.status_code, sent.status_code, withdrawn.status_code] == [403, 403, 403]
    assert "a@example.com" not in listed.content.decode()
    assert list(Invitation.objects.values_list("email", flat=True)) == ["a@example.com"]


def test_another_teams_invitation_is_404(owner, api_client):
    other = make_team("Other")
    theirs = invitation_create(
        team=other, email="a@example.com", role=Role.MEMBER, by=make_member(other, Role.OWNER)
    )
    response = api_client(owner).delete(f"{TEAM_URL}/{theirs.pk}")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state() == "pending"


def test_the_invitee_lists_and_accepts(team, owner, api_client):
    robin = make_user("robin")
    invitation = invitation_create(team=team, email=robin.email, role=Role.ADMIN, by=owner)
    client = api_client(make_member(make_team("Home"), Role.OWNER, user=robin))
    assert client.get(MY_URL).json() == [
        {
            "id": invitation.pk,
            "team": team.slug,
            "team_name": "Fox Studio",
            "role": "admin",
            "invited_by": owner.user.username,
            "expires_at": client.get(MY_URL).json()[0]["expires_at"],
        }
    ]
    accepted = client.post(f"{MY_URL}/{invitation.pk}/accept")
    assert accepted.status_code == 200
    assert (accepted.json()["username"], accepted.json()["role"]) == ("robin", "admin")
    assert Membership.objects.get(team=team, user=robin).role == Role.ADMIN
    assert client.get(MY_URL).json() == []
    # The team header works for the new team at once.
    assert client.get("/api/v1/team/members", HTTP_X_TEAM=team.slug).status_code == 200


def test_the_invitee_declines_and_others_get_404(team, owner, api_client):
    robin = make_user("robin")
    invitation = invitation_create(team=team, email=robin.email, role=Role.MEMBER, by=owner)
    intruder = api_client(make_member(make_team("Else"), Role.OWNER))
    assert intruder.post(f"{MY_URL}/{invitation.pk}/accept").status_code == 404
    assert intruder.post(f"{MY_URL}/{invitation.pk}/decline").status_code == 404
    robin_client = api_client(make_member(make_team("Home"), Role.OWNER, user=robin))
    assert robin_client.post(f"{MY_URL}/{invitation.pk}/decline").status_code == 204
    assert robin_client.post(f"{MY_URL}/{invitation.pk}/accept").status_code == 404
    assert not Membership.objects.filter(team=team, user=robin).exists()
