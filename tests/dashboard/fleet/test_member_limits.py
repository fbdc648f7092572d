"""Fair use inside a team: each member's monthly spend limit (the team's per member, or their own)
and the cap on each member's queue, checked with the team's hard limit under the TeamBudget
lock; the admin's settings for both."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.fleet import budgets
from dashboard.fleet.models import MemberBudget, TeamBudget
from dashboard.generations.models import Generation, Status
from dashboard.generations.services import generation_create
from tests.dashboard.factories import make_endpoint, make_generation, make_member, make_team
from tests.dashboard.fleet.health_support import finished_generation, submit_at_once

JOB = {"width": 512, "height": 512, "steps": 4, "image_count": 1}


@pytest.fixture
def priced(member):
    """An endpoint at $0.10 per GPU second whose past jobs put the next one at $0.30."""
    endpoint = make_endpoint(member.team, name="priced", gpu_price_per_second=Decimal("0.1"))
    last_month = timezone.now() - timedelta(days=40)  # teaches the estimate, is not spend now
    for _ in range(2):
        finished_generation(member, endpoint, at=last_month, cost=None, execution_ms=3000, **JOB)
    return endpoint


def submit(membership, endpoint) -> Generation:
    """A generation request through the real generation_create (the budget check under the
    TeamBudget lock, then the save)."""
    return generation_create(
        team=membership.team,
        user=membership.user,
        prompt="a fox",
        endpoint=endpoint.pk,
        width=JOB["width"],
        height=JOB["height"],
        steps=JOB["steps"],
        images=JOB["image_count"],
    )


def refusal(membership, endpoint) -> str:
    with pytest.raises(ValidationError) as refused:
        submit(membership, endpoint)
    return refused.value.message_dict["budget"][0]


def spent(membership, endpoint, cost: str) -> None:
    finished_generation(membership, endpoint, at=timezone.now(), cost=cost, width=1024)


# --- spend of one member --------------------------------------------------------------------------
def test_a_members_spend_counts_their_finished_jobs_and_their_jobs_in_flight(member, priced):
    other = make_member(member.team)
    spent(member, priced, "0.50")
    spent(other, priced, "2.00")
    make_generation(member, priced, status=Status.RUNNING, **JOB)  # estimated at $0.30

    mine = budgets.month_to_date_spend(member.team, user=member.user)
    team = budgets.month_to_date_spend(member.team)

    assert (mine.finished, mine.in_flight, mine.in_flight_jobs) == (
        Decimal("0.50"),
        Decimal("0.30"),
        1,
    )
    assert team.total == Decimal("2.80")
    by_member = budgets.month_spend_by_member(member.team)
    assert by_member[other.user_id].total == Decimal("2.00")


# --- the monthly limit per member -----------------------------------------------------------------
def test_a_member_past_the_limit_per_member_is_refused_while_others_go_on(member, priced):
    TeamBudget.objects.create(team=member.team, member_monthly_limit=Decimal("1.00"))
    other = make_member(member.team)
    spent(member, priced, "0.80")

    message = refusal(member, priced)

    assert "Your monthly limit (the team's, per member) of $1.00 is reached" in message
    assert "you have spent $0.80 this month; this one would cost about $0.30" in message
    assert "Ask a team admin to raise your limit." in message
    assert submit(other, priced).status == Status.QUEUED
    assert not Generation.objects.filter(user=member.user, status=Status.QUEUED).exists()


def test_jobs_in_flight_count_at_their_estimate_toward_the_member_limit(member, priced):
    TeamBudget.objects.create(team=member.team, member_monthly_limit=Decimal("0.70"))
    submit(member, priced)
    submit(member, priced)  # $0.60 in flight

    message = refusal(member, priced)

    assert "including about $0.60 for 2 job(s) still running" in message


def test_an_own_limit_replaces_the_teams_limit_per_member(owner, member, priced):
    TeamBudget.objects.create(team=member.team, member_monthly_limit=Decimal("1.00"))
    spent(member, priced, "0.80")
    budgets.member_budget_update(membership=member, by=owner, monthly_limit="5")

    assert submit(member, priced).status == Status.QUEUED

    budgets.member_budget_update(membership=member, by=owner, monthly_limit="0.50")
    assert "Your monthly limit (set for you) of $0.50 is reached" in refusal(member, priced)


def test_an_own_limit_holds_when_the_team_has_no_limit_per_member(owner, member, priced):
    budgets.member_budget_update(membership=member, by=owner, monthly_limit="0.20")
    assert "(set for you) of $0.20" in refusal(member, priced)
    assert submit(owner, priced).status == Status.QUEUED


def test_owners_and_admins_are_not_exempt(owner, priced):
    admin = make_member(owner.team, Role.ADMIN)
    TeamBudget.objects.create(team=owner.team, member_monthly_limit=Decimal("0.10"))

    for manager in (owner, admin):
        assert "of $0.10 is reached" in refusal(manager, priced)

    budgets.member_budget_update(membership=admin, by=admin, monthly_limit="10")  # their own
    assert submit(admin, priced).status == Status.QUEUED


def test_the_team_hard_limit_is_named_before_the_member_limit(member, priced):
    TeamBudget.objects.create(
        team=member.team, monthly_hard_limit=Decimal("1"), member_monthly_limit=Decimal("1")
    )
    spent(member, priced, "1.00")
    assert "Your team's monthly hard limit of $1.00" in refusal(member, priced)


# --- the queue cap --------------------------------------------------------------------------------
def test_the_queue_cap_refuses_the_next_generation_until_one_ends(member, priced):
    TeamBudget.objects.create(team=member.team, member_max_active=2)
    first = submit(member, priced)
    submit(member, priced)

    message = refusal(member, priced)
    assert "You have 2 generation(s) queued or running" in message
    assert "the most one member may have at once is 2" in message
    assert "ask a team admin to raise the cap" in message
    assert submit(make_member(member.team), priced).status == Status.QUEUED  # others go on

    Generation.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    assert submit(member, priced).status == Status.QUEUED


# --- concurrent submissions of one member ---------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_member_never_pass_their_limit(member, priced):
    TeamBudget.objects.create(team=member.team, member_monthly_limit=Decimal("1.00"))

    assert submit_at_once(lambda: submit(member, priced)) == ["created"] * 3 + ["refused"] * 5
    assert budgets.month_to_date_spend(member.team, user=member.user).total == Decimal("0.90")


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_member_never_pass_the_queue_cap(member, priced):
    TeamBudget.objects.create(team=member.team, member_max_active=2)

    assert submit_at_once(lambda: submit(member, priced)) == ["created"] * 2 + ["refused"] * 6
    assert Generation.objects.filter(user=member.user, status=Status.QUEUED).count() == 2


# --- what the pages show --------------------------------------------------------------------------
def test_member_rows_show_spend_own_limit_and_the_limit_that_applies(owner, member, priced):
    TeamBudget.objects.create(team=owner.team, member_monthly_limit=Decimal("20"))
    budgets.member_budget_update(membership=member, by=owner, monthly_limit="5")
    spent(member, priced, "1.25")

    rows = {row.membership.pk: row for row in budgets.member_budgets(owner.team)}

    assert (rows[member.pk].spend.total, rows[member.pk].own_limit) == (Decimal("1.25"), 5)
    assert rows[member.pk].monthly_limit == Decimal("5")
    assert (rows[owner.pk].own_limit, rows[owner.pk].monthly_limit) == (None, Decimal("20"))
    assert rows[owner.pk].spend.total == Decimal("0")


def test_member_status_is_none_without_member_limits_and_tells_where_they_stand(member, priced):
    TeamBudget.objects.create(team=member.team, monthly_hard_limit=Decimal("100"))
    assert budgets.member_status(member) is None

    TeamBudget.objects.update(member_monthly_limit=Decimal("1.00"), member_max_active=1)
    spent(member, priced, "0.80")
    make_generation(member, priced, status=Status.RUNNING, **JOB)

    status = budgets.member_status(member)
    assert (status.spend.total, status.monthly_limit) == (Decimal("1.10"), Decimal("1.00"))
    assert status.queue_full
    assert status.would_pass_limit(Decimal("0"))


# --- settings -------------------------------------------------------------------------------------
def test_admins_set_the_limits_per_member(owner):
    budget = budgets.budget_update(
        team=owner.team, by=owner, member_monthly_limit="25.50", member_max_active="3"
    )
    assert (budget.member_monthly_limit, budget.member_max_active) == (Decimal("25.50"), 3)

    budget = budgets.budget_update(
        team=owner.team, by=owner, member_monthly_limit="", member_max_active=None
    )
    assert (budget.member_monthly_limit, budget.member_max_active) == (None, None)


@pytest.mark.parametrize(
    ("limit", "active", "limit_error", "active_error"),
    [
        ("-1", "0", "A limit cannot be negative.", "Allow at least 1"),
        (None, "-2", None, "Allow at least 1"),
        (None, True, None, "Enter a whole number"),
        ("1.234", "1.5", "Use at most two decimal places", "Enter a whole number"),
        ("lots", "many", "Enter an amount in US dollars", "Enter a whole number"),
        ("5", "100000", None, "Enter at most 10000."),
    ],
)
def test_bad_limits_per_member_are_field_errors_and_change_nothing(
    owner, limit, active, limit_error, active_error
):
    TeamBudget.objects.create(team=owner.team, member_max_active=4)
    with pytest.raises(ValidationError) as invalid:
        budgets.budget_update(
            team=owner.team, by=owner, member_monthly_limit=limit, member_max_active=active
        )
    errors = invalid.value.message_dict
    assert active_error in errors["member_max_active"][0]
    if limit_error:
        assert limit_error in errors["member_monthly_limit"][0]
    budget = TeamBudget.objects.get()
    assert (budget.member_monthly_limit, budget.member_max_active) == (None, 4)


def test_an_own_limit_is_set_cleared_and_makes_the_budget_row_it_needs(owner, member):
    own = budgets.member_budget_update(membership=member, by=owner, monthly_limit="7.50")

    assert own.monthly_limit == Decimal("7.50")
    assert TeamBudget.objects.filter(team=owner.team).exists()  # the row the check locks
    assert budgets.member_budget_update(membership=member, by=owner, monthly_limit=None) is None
    assert not MemberBudget.objects.exists()


def test_bad_own_limits_are_field_errors_and_change_nothing(owner, member):
    budgets.member_budget_update(membership=member, by=owner, monthly_limit="3")
    for value, message in (("-2", "cannot be negative"), ("0.001", "two decimal places")):
        with pytest.raises(ValidationError) as invalid:
            budgets.member_budget_update(membership=member, by=owner, monthly_limit=value)
        assert message in invalid.value.message_dict["monthly_limit"][0]
    assert MemberBudget.objects.get().monthly_limit == Decimal("3")


def test_only_the_teams_owners_and_admins_set_own_limits(owner, member):
    outsider = make_member(make_team(), Role.ADMIN)
    for actor in (member, outsider):
        with pytest.raises(PermissionDenied):
            budgets.member_budget_update(membership=owner, by=actor, monthly_limit="1000")
    assert not MemberBudget.objects.exists()
