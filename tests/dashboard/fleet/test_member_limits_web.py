"""Limits per member on the budget page and through the budget API: members read everyone's
month-to-date spend and limit, owners and admins set the team's limits per member and each
member's own limit; the generate form's estimate tells members where they stand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.fleet.models import MemberBudget, TeamBudget
from dashboard.generations.models import Status
from tests.dashboard.factories import PASSWORD, make_generation, make_member, make_team
from tests.dashboard.fleet.health_support import finished_generation

BUDGET_API = "/api/v1/team/budget"
BUDGET_PAGE = "/endpoints/budget/"


def signed_in(membership) -> Client:
    client = Client()
    client.login(username=membership.user.username, password=PASSWORD)
    return client


def errors_of(response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def spent(membership, endpoint, cost: str) -> None:
    finished_generation(membership, endpoint, at=timezone.now(), cost=cost)


@pytest.fixture
def limited(owner, member, endpoint):
    """$20 a month per member, the member given $5 of their own and $1.25 spent, 2 in flight."""
    TeamBudget.objects.create(
        team=owner.team, member_monthly_limit=Decimal("20"), member_max_active=2
    )
    MemberBudget.objects.create(membership=member, monthly_limit=Decimal("5"))
    spent(member, endpoint, "1.25")
    return member


# --- API ------------------------------------------------------------------------------------------
def test_members_read_each_members_spend_and_limit(limited, owner, api_client):
    body = api_client(limited).get(BUDGET_API).json()

    assert (body["member_monthly_limit"], body["member_max_active"]) == ("20.00", 2)
    rows = {row["membership_id"]: row for row in body["members"]}
    assert Decimal(rows[limited.pk]["spent_total"]) == Decimal("1.25")
    assert (rows[limited.pk]["monthly_limit"], rows[limited.pk]["effective_monthly_limit"]) == (
        "5.00",
        "5.00",
    )
    assert (rows[owner.pk]["monthly_limit"], rows[owner.pk]["effective_monthly_limit"]) == (
        None,
        "20.00",
    )
    assert rows[owner.pk]["username"] == owner.user.username


def test_admins_patch_the_limits_per_member(owner, api_client):
    response = api_client(owner).patch(
        BUDGET_API,
        {"member_monthly_limit": "12.5", "member_max_active": 3},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert (response.json()["member_monthly_limit"], response.json()["member_max_active"]) == (
        "12.50",
        3,
    )


def test_bad_limits_per_member_are_422_on_the_field_and_change_nothing(owner, api_client):
    TeamBudget.objects.create(team=owner.team, member_max_active=4)
    response = api_client(owner).patch(
        BUDGET_API,
        {"member_monthly_limit": "-3", "member_max_active": 0},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert errors_of(response) == {
        "member_monthly_limit": "A limit cannot be negative.",
        "member_max_active": "Allow at least 1 (leave it empty for no cap).",
    }
    assert TeamBudget.objects.get().member_max_active == 4


def test_admins_set_and_clear_a_members_own_limit(owner, member, endpoint, api_client):
    spent(member, endpoint, "0.40")
    url = f"{BUDGET_API}/members/{member.pk}"

    response = api_client(owner).patch(url, {"monthly_limit": 7.5}, content_type="application/json")

    assert response.status_code == 200
    row = response.json()
    assert Decimal(row.pop("spent_total")) == Decimal("0.40")
    assert row == {
        "membership_id": member.pk,
        "username": member.user.username,
        "role": "member",
        "spent_in_flight": "0",
        "jobs_in_flight": 0,
        "monthly_limit": "7.50",
        "effective_monthly_limit": "7.50",
    }
    cleared = api_client(owner).patch(url, {"monthly_limit": None}, content_type="application/json")
    assert cleared.json()["monthly_limit"] is None
    assert not MemberBudget.objects.exists()


def test_own_limits_refuse_bad_amounts_members_and_other_teams(owner, member, api_client):
    url = f"{BUDGET_API}/members/{member.pk}"
    bad = api_client(owner).patch(url, {"monthly_limit": "1.005"}, content_type="application/json")
    assert bad.status_code == 422
    assert errors_of(bad) == {"monthly_limit": "Use at most two decimal places (cents)."}
    missing = api_client(owner).patch(url, {}, content_type="application/json")
    assert (missing.status_code, list(errors_of(missing))) == (422, ["monthly_limit"])

    denied = api_client(member).patch(
        f"{BUDGET_API}/members/{member.pk}", {"monthly_limit": 99}, content_type="application/json"
    )
    assert denied.status_code == 403
    outsider = make_member(make_team(), Role.ADMIN)
    hidden = api_client(outsider).patch(url, {"monthly_limit": 1}, content_type="application/json")
    assert hidden.status_code == 404
    assert not MemberBudget.objects.exists()


# --- the budget page ------------------------------------------------------------------------------
def test_the_budget_page_lists_members_with_spend_and_limits(limited, owner):
    html = signed_in(owner).get(BUDGET_PAGE).content.decode()

    assert f'id="member-budget-{limited.pk}"' in html
    assert "$1.25" in html
    assert "$5.00 <small>(their own)</small>" in html
    assert "$20.00 <small>(the team's)</small>" in html
    assert f'action="/endpoints/budget/members/{limited.pk}/"' in html
    assert "at most 2 generations of one member queued or running at once" in html


def test_members_see_the_table_without_the_inputs(limited):
    html = signed_in(limited).get(BUDGET_PAGE).content.decode()
    assert f'id="member-budget-{limited.pk}"' in html
    assert "/endpoints/budget/members/" not in html


def test_admins_set_the_limits_per_member_on_the_page(owner):
    form = {"member_monthly_limit": "15", "member_max_active": "4"}
    assert signed_in(owner).post(BUDGET_PAGE, form).status_code == 302
    budget = TeamBudget.objects.get()
    assert (budget.member_monthly_limit, budget.member_max_active) == (Decimal("15"), 4)


def test_a_cap_of_zero_is_a_field_error_on_the_page(owner):
    response = signed_in(owner).post(BUDGET_PAGE, {"member_max_active": "0"})
    assert 'id="id_member_max_active-errors"' in response.content.decode()
    assert not TeamBudget.objects.exists()


def test_admins_set_and_clear_an_own_limit_on_the_page(owner, member):
    client = signed_in(owner)
    url = f"/endpoints/budget/members/{member.pk}/"

    assert client.post(url, {"monthly_limit": "9.99"}).status_code == 302
    assert MemberBudget.objects.get(membership=member).monthly_limit == Decimal("9.99")
    assert client.post(url, {"monthly_limit": ""}).status_code == 302
    assert not MemberBudget.objects.exists()


def test_a_bad_own_limit_shows_next_to_its_row_and_changes_nothing(owner, member):
    MemberBudget.objects.create(membership=member, monthly_limit=Decimal("3"))

    response = signed_in(owner).post(
        f"/endpoints/budget/members/{member.pk}/", {"monthly_limit": "-4"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="member-limit-{member.pk}-errors"' in html
    assert "A limit cannot be negative." in html
    assert 'value="-4"' in html
    assert MemberBudget.objects.get().monthly_limit == Decimal("3")


def test_members_cannot_set_own_limits_on_the_page(member):
    url = f"/endpoints/budget/members/{member.pk}/"
    assert signed_in(member).post(url, {"monthly_limit": "100"}).status_code == 403
    assert not MemberBudget.objects.exists()


# --- the generate form's estimate -----------------------------------------------------------------
def test_the_estimate_tells_a_member_their_spend_limit_and_queue(limited, endpoint):
    endpoint.gpu_price_per_second = Decimal("1")
    endpoint.save()
    finished_generation(
        limited, endpoint, at=timezone.now() - timedelta(days=40), cost=None, execution_ms=3000
    )
    make_generation(limited, endpoint, status=Status.QUEUED)  # $3 in flight: $4.25 of $5
    query = f"endpoint={endpoint.pk}&model={endpoint.default_model}&width=512&height=512&steps=4"
    client = signed_in(limited)

    html = client.get(f"/endpoints/cost-estimate/?{query}").content.decode()

    assert "You have spent $4.25 of your $5.00 this month." in html
    assert "1 of the 2 generations you may have at once is queued or running." in html
    assert "This would pass your monthly limit." in html

    make_generation(limited, endpoint, status=Status.RUNNING)
    MemberBudget.objects.update(monthly_limit=Decimal("100"))
    html = client.get(f"/endpoints/cost-estimate/?{query}").content.decode()
    assert "Your queue is full" in html


def test_the_estimate_says_nothing_of_member_limits_when_there_are_none(member, endpoint):
    html = signed_in(member).get("/endpoints/cost-estimate/").content.decode()
    assert "member-limits" not in html


def test_a_generation_request_past_the_members_queue_cap_is_422_on_budget(
    member, endpoint, api_client
):
    TeamBudget.objects.create(team=member.team, member_max_active=1)
    make_generation(member, endpoint, status=Status.RUNNING)
    response = api_client(member).post(
        "/api/v1/generations", {"prompt": "one more"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "budget" in errors_of(response)
    assert member.user.generations.count() == 1
    # Someone else in the team is not held back by this member's queue.
    other = make_member(member.team)
    accepted = api_client(other).post(
        "/api/v1/generations", {"prompt": "mine"}, content_type="application/json"
    )
    assert accepted.status_code == 201
