"""`POST /api/v1/teams` creates a team (its creator owns it) and `POST /api/v1/team/leave`."""

import pytest

from dashboard.accounts.models import Membership, Role, Team
from tests.dashboard.factories import make_member, make_team


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_anyone_creates_a_team_and_owns_it(member, api_client):
    client = api_client(member)
    response = client.post(
        "/api/v1/teams", {"name": "Night Shift"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json() == {
        "slug": "night-shift",
        "name": "Night Shift",
        "role": "owner",
        "max_images_per_generation": Team.objects.get(slug="night-shift").max_images_per_generation,
    }
    assert Membership.objects.get(team__slug="night-shift", user=member.user).role == Role.OWNER
    # The new team answers through the X-Team header at once.
    listed = client.get("/api/v1/team/members", HTTP_X_TEAM="night-shift").json()
    assert [m["username"] for m in listed] == [member.user.username]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "   "}, "name", "A team needs a name."),
        ({"name": "Fox", "slug": "TAKEN"}, "slug", "already exists"),
        ({"name": "Dots", "slug": "..."}, "slug", "Use letters or digits"),
        ({}, "name", "This field is required."),
    ],
)
def test_bad_teams_are_422_naming_the_field(team, member, api_client, payload, field, message):
    if payload.get("slug") == "TAKEN":
        payload = {**payload, "slug": team.slug}
    before = Team.objects.count()
    response = api_client(member).post("/api/v1/teams", payload, content_type="application/json")
    assert response.status_code == 422
    assert message in _fields(response)[field]
    assert Team.objects.count() == before


def test_a_member_leaves_the_current_team(team, owner, member, api_client):
    response = api_client(member).post("/api/v1/team/leave")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_the_x_team_header_picks_which_team_to_leave(team, member, api_client):
    other = make_team("Other")
    make_member(other, Role.OWNER)
    mine = make_member(other, Role.VIEWER, user=member.user)
    assert api_client(member).post("/api/v1/team/leave", HTTP_X_TEAM=other.slug).status_code == 204
    assert not Membership.objects.filter(pk=mine.pk).exists()
    assert Membership.objects.filter(pk=member.pk).exists()


def test_the_last_owner_cannot_leave(team, owner, api_client):
    response = api_client(owner).post("/api/v1/team/leave")
    assert response.status_code == 422
    assert "only owner" in _fields(response)["user"]
    assert Membership.objects.filter(pk=owner.pk).exists()
