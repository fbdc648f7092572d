"""Budgets: cost estimates from recent similar jobs, month-to-date spend with jobs in flight,
the hard limit under concurrent submissions, soft-limit notices, and the admin's settings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dashboard.fleet import budgets, estimates
from dashboard.fleet.models import TeamBudget
from dashboard.generations.models import Generation, Status
from dashboard.generations.services import generation_create
from tests.dashboard.factories import make_endpoint, make_generation
from tests.dashboard.fleet.health_support import (
    WebhookReceiver,
    finished_generation,
    submit_at_once,
)

MODEL = "OfficialStableDiffusion/sd_xl_base_1.0"
REQUEST = {"prompt": "a fox", "model": MODEL, "width": 512, "height": 512, "steps": 4, "images": 1}


@pytest.fixture
def priced(team):
    """An endpoint at $0.10 per GPU second."""
    return make_endpoint(team, name="priced", gpu_price_per_second=Decimal("0.1"))


def history(member, endpoint, *execution_ms: int, days_ago: int = 40, **fields):
    """Finished jobs of an earlier month: they teach estimates but are not this month's spend."""
    at = timezone.now() - timedelta(days=days_ago)
    for ms in execution_ms:
        finished_generation(
            member, endpoint, at=at, cost=None, execution_ms=ms, **{"steps": 4, **fields}
        )


# --- estimates ------------------------------------------------------------------------------------
def test_estimate_is_the_median_of_similar_jobs_scaled_to_steps_and_images(member, priced):
    history(member, priced, 2000, 3000, 9000)  # 512x512, 4 steps, 1 image: median 3 s

    estimate = estimates.estimate_generation_cost(priced, {**REQUEST, "steps": 8, "images": 2})

    assert estimate.basis == "similar"
    assert estimate.based_on == 3
    assert estimate.execution_seconds == 12.0  # 3 s x (8/4 steps) x 2 images
    assert estimate.cost == Decimal("1.200000")


def test_without_similar_jobs_any_job_of_the_endpoint_is_scaled_by_pixels(member, priced):
    history(member, priced, 4000, width=1024, height=1024, model="other")

    estimate = estimates.estimate_generation_cost(priced, REQUEST)

    assert estimate.basis == "endpoint"
    assert estimate.execution_seconds == 1.0  # a quarter of the pixels
    assert estimate.cost == Decimal("0.100000")


def test_no_finished_job_means_no_estimate(priced):
    estimate = estimates.estimate_generation_cost(priced, REQUEST)
    assert (estimate.cost, estimate.basis) == (None, "none")


# --- spend and the hard limit ---------------------------------------------------------------------
def test_month_to_date_spend_counts_jobs_in_flight_at_their_estimate(member, priced):
    history(member, priced, 3000)  # last month: not counted
    other_size = {"width": 1024, "height": 1024}
    finished_generation(member, priced, at=timezone.now(), cost="0.50", **other_size)
    make_generation(member, priced, status=Status.RUNNING)  # estimated at 3 s = $0.30

    spend = budgets.month_to_date_spend(member.team)

    assert spend.finished == Decimal("0.50")
    assert spend.in_flight == Decimal("0.30")
    assert spend.in_flight_jobs == 1
    assert spend.total == Decimal("0.80")


def test_the_hard_limit_refuses_new_generations_with_a_clear_message(member, priced):
    TeamBudget.objects.create(team=member.team, monthly_hard_limit=Decimal("1.00"))
    history(member, priced, 3000)
    finished_generation(member, priced, at=timezone.now(), cost="0.80", width=1024, height=1024)

    with pytest.raises(ValidationError) as refused:
        generation_create(team=member.team, user=member.user, **REQUEST)

    message = refused.value.message_dict["budget"][0]
    assert "hard limit of $1.00" in message
    assert "$0.80 spent this month" in message
    assert "raise the limit" in message
    assert Generation.objects.filter(status=Status.QUEUED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_never_pass_the_hard_limit(member, priced):
    TeamBudget.objects.create(team=member.team, monthly_hard_limit=Decimal("1.00"))
    history(member, priced, 3000, 3000)  # each new job is estimated at $0.30
    outcomes = submit_at_once(
        lambda: generation_create(team=member.team, user=member.user, **REQUEST)
    )
    assert outcomes == ["created"] * 3 + ["refused"] * 5
    spend = budgets.month_to_date_spend(member.team)
    assert spend.in_flight_jobs == 3
    assert spend.total == Decimal("0.90")


def test_without_a_budget_nothing_is_refused(member, priced):
    generation_create(team=member.team, user=member.user, **REQUEST)
    assert Generation.objects.count() == 1


# --- soft limit notices ---------------------------------------------------------------------------
def test_crossing_80_and_100_percent_of_the_soft_limit_sends_one_notice_each(
    member, priced, mailoutbox, django_capture_on_commit_callbacks
):
    history(member, priced, 3000)  # $0.30 a job
    with WebhookReceiver() as receiver:
        TeamBudget.objects.create(
            team=member.team,
            monthly_soft_limit=Decimal("1.00"),
            alert_email="lead@example.com",
            alert_webhook_url=receiver.url,
        )
        for _ in range(4):  # 0.30, 0.60, 0.90 (crosses 80%), 1.20 (crosses 100%)
            with django_capture_on_commit_callbacks(execute=True):
                generation_create(team=member.team, user=member.user, **REQUEST)

    assert [body["threshold_percent"] for body in receiver.bodies] == [80, 100]
    assert receiver.bodies[0]["event"] == "budget.soft_limit"
    assert ["80%" in m.subject for m in mailoutbox] == [True, False]
    assert "100%" in mailoutbox[1].subject
    assert Generation.objects.filter(status=Status.QUEUED).count() == 4  # warned, not refused


def test_banner_levels_follow_the_spend(member, priced):
    TeamBudget.objects.create(
        team=member.team, monthly_soft_limit=Decimal("10"), monthly_hard_limit=Decimal("20")
    )
    assert budgets.banner_status(member.team).level == "ok"
    finished_generation(member, priced, at=timezone.now(), cost="8.50")
    assert budgets.banner_status(member.team).level == "soft_80"
    finished_generation(member, priced, at=timezone.now(), cost="2.00")
    assert budgets.banner_status(member.team).level == "soft_100"
    finished_generation(member, priced, at=timezone.now(), cost="9.50")
    assert budgets.banner_status(member.team).level == "hard"


def test_teams_without_limits_have_no_banner(team):
    assert budgets.banner_status(team) is None


# --- settings -------------------------------------------------------------------------------------
def test_admins_set_limits_and_addresses(owner):
    budget = budgets.budget_update(
        team=owner.team,
        by=owner,
        monthly_soft_limit="80",
        monthly_hard_limit="100.50",
        alert_email="ops@example.com",
        alert_webhook_url="https://hooks.example.com/T000/secret",
    )
    assert budget.monthly_hard_limit == Decimal("100.50")
    assert budgets.BudgetSettings.of(budget).alert_webhook_host == "hooks.example.com"


def test_negative_limits_and_bad_addresses_are_field_errors_and_change_nothing(owner):
    with pytest.raises(ValidationError) as invalid:
        budgets.budget_update(
            team=owner.team,
            by=owner,
            monthly_soft_limit="-1",
            monthly_hard_limit="abc",
            alert_email="not an email",
            alert_webhook_url="ftp://example.com",
        )
    errors = invalid.value.message_dict
    assert errors["monthly_soft_limit"] == ["A limit cannot be negative."]
    assert "US dollars" in errors["monthly_hard_limit"][0]
    assert set(errors) == {
        "monthly_soft_limit",
        "monthly_hard_limit",
        "alert_email",
        "alert_webhook_url",
    }
    assert not TeamBudget.objects.exists()


def test_a_soft_limit_above_the_hard_limit_is_refused(owner):
    with pytest.raises(ValidationError) as invalid:
        budgets.budget_update(
            team=owner.team, by=owner, monthly_soft_limit=50, monthly_hard_limit=10
        )
    assert "must not exceed the hard limit" in invalid.value.message_dict["monthly_soft_limit"][0]


def test_members_cannot_change_the_budget(member):
    with pytest.raises(PermissionDenied):
        budgets.budget_update(team=member.team, by=member, monthly_hard_limit="1000")
    assert not TeamBudget.objects.exists()
