"""Team budgets: month-to-date spend (finished jobs plus an estimate for jobs in flight), the soft
limit's notices at 80% and 100%, the hard limit that refuses new generations, fair use inside the
team (each member's monthly limit, the team's or their own, and a cap on each member's queue),
and the admin's settings. (The cost estimate of a generation: estimates.py.)

The limits hold under concurrent submissions: `check_budget_for_new_generation` locks the team's
TeamBudget row inside the transaction that creates the generation, so each submission sees every
earlier one (committed, counted as in flight) before deciding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard.accounts.models import Membership
from dashboard.accounts.selectors import members_of_team
from dashboard.fleet.estimates import estimate_generation_cost
from dashboard.fleet.models import MemberBudget, RunPodEndpoint, TeamBudget
from dashboard.fleet.notifications import send_team_notice, url_host
from dashboard.fleet.usage import month_start
from dashboard.generations.models import ACTIVE_STATUSES, Generation

SOFT_THRESHOLDS = (80, 100)  # percent of the soft limit that trigger a notice
MAX_LIMIT = Decimal("1000000")
MAX_ACTIVE = 10000  # generations one member may have in flight, at most
CENT = Decimal("0.01")


# --- spend ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spend:
    finished: Decimal  # cost of this month's finished jobs
    in_flight: Decimal  # estimated cost of this month's jobs not finished yet
    in_flight_jobs: int

    @property
    def total(self) -> Decimal:
        return self.finished + self.in_flight

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.finished + other.finished,
            self.in_flight + other.in_flight,
            self.in_flight_jobs + other.in_flight_jobs,
        )


NO_SPEND = Spend(Decimal("0"), Decimal("0"), 0)


def month_spend_by_member(
    team, *, user=None, now: datetime | None = None
) -> dict[int | None, Spend]:
    """This month's spend (in the team's time zone) of each member who spent, by user id (None
    for deleted users' jobs), counting jobs in flight at their estimate; only `user`'s if given."""
    now = now or timezone.now()
    this_month = Generation.objects.filter(team=team, created_at__gte=month_start(team, now))
    if user is not None:
        this_month = this_month.filter(user=user)
    finished = {
        row["user_id"]: row["total"]
        for row in this_month.exclude(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("user_id")
        .annotate(total=Coalesce(Sum("cost"), Value(Decimal("0")), output_field=DecimalField()))
    }
    job_kind = ("endpoint_id", "model", "width", "height", "steps", "image_count")
    groups = (
        this_month.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("user_id", *job_kind)
        .annotate(jobs=Count("id"))
    )
    endpoints = {endpoint.pk: endpoint for endpoint in RunPodEndpoint.objects.filter(team=team)}
    estimates: dict[tuple, Decimal] = {}  # one estimate per kind of job, whoever runs it
    in_flight: dict[int | None, Spend] = {}
    for group in groups:
        kind = tuple(group[key] for key in job_kind)
        if kind not in estimates:
            cost = estimate_generation_cost(endpoints.get(group["endpoint_id"]), group).cost
            estimates[kind] = cost or Decimal("0")
        jobs = group["jobs"]
        spend = Spend(Decimal("0"), estimates[kind] * jobs, jobs)
        in_flight[group["user_id"]] = in_flight.get(group["user_id"], NO_SPEND) + spend
    return {
        key: Spend(Decimal(finished.get(key, 0)), Decimal("0"), 0) + in_flight.get(key, NO_SPEND)
        for key in finished.keys() | in_flight.keys()
    }


def month_to_date_spend(team, *, user=None, now: datetime | None = None) -> Spend:
    """This month's spend of the team, or of one member (`user`), jobs in flight at their
    estimate."""
    return sum(month_spend_by_member(team, user=user, now=now).values(), NO_SPEND)


@dataclass(frozen=True)
class BudgetStatus:
    spend: Spend
    soft_limit: Decimal | None
    hard_limit: Decimal | None

    @property
    def soft_percent(self) -> int | None:
        if not self.soft_limit:
            return None
        return int(self.spend.total / self.soft_limit * 100)

    @property
    def hard_reached(self) -> bool:
        return self.hard_limit is not None and self.spend.total >= self.hard_limit

    @property
    def level(self) -> str:
        """What the banner shows: "hard", "soft_100", "soft_80" or "ok"."""
        if self.hard_reached:
            return "hard"
        percent = self.soft_percent or 0
        if percent >= 100:
            return "soft_100"
        if percent >= 80:
            return "soft_80"
        return "ok"


def budget_of(team) -> TeamBudget | None:
    return TeamBudget.objects.filter(team=team).first()


def ensure_team_budget(team) -> TeamBudget:
    """The team's TeamBudget row, created empty if need be: the generation check locks that row,
    so without one a member's own limit would not be checked at all."""
    budget, _ = TeamBudget.objects.get_or_create(team=team)
    return budget


def banner_status(team, *, now: datetime | None = None) -> BudgetStatus | None:
    """The status the budget banner shows; None (and no spend query) for teams without limits."""
    budget = budget_of(team)
    if budget is None or (budget.monthly_soft_limit is None and budget.monthly_hard_limit is None):
        return None
    return BudgetStatus(
        spend=month_to_date_spend(team, now=now),
        soft_limit=budget.monthly_soft_limit,
        hard_limit=budget.monthly_hard_limit,
    )


def _money(amount: Decimal) -> str:
    return f"${amount.quantize(CENT) if amount >= CENT or amount == 0 else amount.normalize()}"


# --- each member's share --------------------------------------------------------------------------
def _member_limit(budget: TeamBudget, user) -> tuple[Decimal | None, bool]:
    """The monthly limit that applies to `user`, and whether it was set for them alone."""
    own = (
        MemberBudget.objects.filter(membership__team_id=budget.team_id, membership__user=user)
        .values_list("monthly_limit", flat=True)
        .first()
    )
    return (own, True) if own is not None else (budget.member_monthly_limit, False)


def _active_generations(team, user) -> int:
    return Generation.objects.filter(team=team, user=user, status__in=ACTIVE_STATUSES).count()


@dataclass(frozen=True)
class MemberStatus:
    """One member's spend and queue against the limits that apply to them."""

    spend: Spend
    monthly_limit: Decimal | None
    active: int  # generations queued, submitted or running
    max_active: int | None

    def would_pass_limit(self, cost: Decimal | None) -> bool:
        if self.monthly_limit is None:
            return False
        return self.spend.total + (cost or 0) > self.monthly_limit

    @property
    def queue_full(self) -> bool:
        return self.max_active is not None and self.active >= self.max_active


def member_status(membership: Membership, *, now: datetime | None = None) -> MemberStatus | None:
    """What the generate page tells a member about their own limits; None (and no spend query)
    when no member limit applies to them."""
    budget = budget_of(membership.team)
    if budget is None:
        return None
    limit, _ = _member_limit(budget, membership.user)
    if limit is None and budget.member_max_active is None:
        return None
    return MemberStatus(
        spend=month_to_date_spend(membership.team, user=membership.user, now=now)
        if limit is not None
        else NO_SPEND,
        monthly_limit=limit,
        active=_active_generations(membership.team, membership.user),
        max_active=budget.member_max_active,
    )


@dataclass(frozen=True)
class MemberBudgetRow:
    membership: Membership
    spend: Spend
    own_limit: Decimal | None  # set for this member alone; None: the team's member limit
    monthly_limit: Decimal | None  # the one that applies


def member_budgets(
    team, *, only: Membership | None = None, now: datetime | None = None
) -> list[MemberBudgetRow]:
    """Every member (or `only` that one) with this month's spend, their own limit and the limit
    that applies."""
    members = members_of_team(team)
    if only is not None:
        members = members.filter(pk=only.pk)
    spends = month_spend_by_member(team, user=only.user if only else None, now=now)
    return _member_rows(budget_of(team), members, spends)


def _member_rows(budget: TeamBudget | None, members, spends: dict) -> list[MemberBudgetRow]:
    team_limit = budget.member_monthly_limit if budget else None
    own = dict(
        MemberBudget.objects.filter(membership__in=members).values_list(
            "membership_id", "monthly_limit"
        )
    )
    return [
        MemberBudgetRow(
            membership=membership,
            spend=spends.get(membership.user_id, NO_SPEND),
            own_limit=own.get(membership.pk),
            monthly_limit=own.get(membership.pk, team_limit),
        )
        for membership in members
    ]


@dataclass(frozen=True)
class BudgetOverview:
    """What the budget page and `GET /team/budget` show."""

    settings: BudgetSettings
    status: BudgetStatus
    members: list[MemberBudgetRow]


def budget_overview(team, *, now: datetime | None = None) -> BudgetOverview:
    """The team's settings, its month-to-date status and every member's row, from one spend
    query (the team's spend is its members' added up)."""
    budget = budget_of(team)
    spends = month_spend_by_member(team, now=now)
    status = BudgetStatus(
        spend=sum(spends.values(), NO_SPEND),
        soft_limit=budget.monthly_soft_limit if budget else None,
        hard_limit=budget.monthly_hard_limit if budget else None,
    )
    members = _member_rows(budget, members_of_team(team), spends)
    return BudgetOverview(BudgetSettings.of(budget), status, members)


# --- the check at submission ----------------------------------------------------------------------
def _past(limit: Decimal | None, spend: Spend, estimate: Decimal) -> bool:
    return limit is not None and (spend.total >= limit or spend.total + estimate > limit)


def _refusal(
    limit_name: str, limit: Decimal, *, spent: str, spend: Spend, estimate: Decimal, ask: str
) -> ValidationError:
    running = (
        f" (including about {_money(spend.in_flight)} for {spend.in_flight_jobs} "
        "job(s) still running)"
        if spend.in_flight_jobs
        else ""
    )
    cost = f"; this one would cost about {_money(estimate)}" if estimate else ""
    # "budget": the generate form shows it above the fields, the API names it.
    return ValidationError(
        {
            "budget": (
                f"{limit_name} of {_money(limit)} is reached: {spent} this month{running}{cost}. "
                f"Ask a team admin to raise {ask}."
            )
        }
    )


def _refuse_past_queue_cap(team, user, cap: int) -> None:
    active = _active_generations(team, user)
    if active >= cap:
        raise ValidationError(
            {
                "budget": (
                    f"You have {active} generation(s) queued or running: the most one member "
                    f"may have at once is {cap}. Submit this one when one of them ends, or ask "
                    "a team admin to raise the cap."
                )
            }
        )


def check_budget_for_new_generation(
    team, estimated_cost: Decimal | None, *, user=None, now: datetime | None = None
) -> None:
    """Refuse a new generation that would take this month's spend past the team's hard limit or
    `user`'s monthly limit, or give `user` more generations in flight than one member may have;
    send the soft-limit notice when it crosses 80% or 100%. Call it inside the transaction that
    creates the generation: the TeamBudget row lock is held until that transaction ends, so
    concurrent submissions (of the team, or of one member) are decided one after another."""
    with transaction.atomic():
        budget = TeamBudget.objects.select_for_update().filter(team=team).first()
        if budget is None:
            return
        soft, hard = budget.monthly_soft_limit, budget.monthly_hard_limit
        member_limit, own = _member_limit(budget, user) if user is not None else (None, False)
        estimate = estimated_cost or Decimal("0")
        team_wide = soft is not None or hard is not None
        spends = (  # only `user`'s when no team-wide limit needs everyone's
            month_spend_by_member(team, user=None if team_wide else user, now=now)
            if team_wide or member_limit is not None
            else {}
        )
        spend = sum(spends.values(), NO_SPEND)
        if _past(hard, spend, estimate):
            raise _refusal(
                "Your team's monthly hard limit",
                hard,
                spent=f"{_money(spend.total)} spent",
                spend=spend,
                estimate=estimate,
                ask="the limit",
            )
        mine = spends.get(user.pk, NO_SPEND) if user is not None else NO_SPEND
        if _past(member_limit, mine, estimate):
            raise _refusal(
                "Your monthly limit" + (" (set for you)" if own else " (the team's, per member)"),
                member_limit,
                spent=f"you have spent {_money(mine.total)}",
                spend=mine,
                estimate=estimate,
                ask="your limit",
            )
        if user is not None and budget.member_max_active is not None:
            _refuse_past_queue_cap(team, user, budget.member_max_active)
        if soft:
            projected = spend.total + estimate
            before, after = spend.total * 100 / soft, projected * 100 / soft
            for threshold in SOFT_THRESHOLDS:
                if before < threshold <= after:
                    transaction.on_commit(
                        lambda t=threshold: _soft_limit_notice(team, t, projected, soft)
                    )


def _soft_limit_notice(team, threshold: int, spent: Decimal, soft: Decimal) -> None:
    subject = f"{team.name} reached {threshold}% of its monthly soft limit"
    text = (
        f"{team.name} has spent about {_money(spent)} this month, {threshold}% of its soft limit "
        f"of {_money(soft)} (jobs still running are counted at their estimate)."
    )
    payload = {
        "event": "budget.soft_limit",
        "team": team.slug,
        "threshold_percent": threshold,
        "spent": str(spent.quantize(CENT)),
        "soft_limit": str(soft),
    }
    send_team_notice(team, subject=subject, text=text, payload=payload)


# --- an admin's settings ------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetSettings:
    monthly_soft_limit: Decimal | None
    monthly_hard_limit: Decimal | None
    alert_email: str
    alert_webhook_host: str  # the URL itself may carry a token: only its host is shown
    member_monthly_limit: Decimal | None
    member_max_active: int | None

    @classmethod
    def of(cls, budget: TeamBudget | None) -> BudgetSettings:
        if budget is None:
            return cls(None, None, "", "", None, None)
        return cls(
            budget.monthly_soft_limit,
            budget.monthly_hard_limit,
            budget.alert_email,
            url_host(budget.alert_webhook_url),
            budget.member_monthly_limit,
            budget.member_max_active,
        )


def _limit(errors: dict, field: str, value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        errors[field] = "Enter an amount in US dollars, e.g. 250 or 99.50."
        return None
    if not amount.is_finite():
        errors[field] = "Enter an amount in US dollars, e.g. 250 or 99.50."
    elif amount < 0:
        errors[field] = "A limit cannot be negative."
    elif amount >= MAX_LIMIT:
        errors[field] = f"Enter less than {_money(MAX_LIMIT)}."
    elif amount != amount.quantize(CENT):
        errors[field] = "Use at most two decimal places (cents)."
    else:
        return amount
    return None


def _count(errors: dict, field: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    # True is an int to Python, not a count to anyone else.
    whole = not isinstance(value, bool) and text.removeprefix("-").isdecimal()
    number = int(text) if whole else None
    if number is None:
        errors[field] = "Enter a whole number of generations, e.g. 3."
    elif number < 1:
        errors[field] = "Allow at least 1 (leave it empty for no cap)."
    elif number > MAX_ACTIVE:
        errors[field] = f"Enter at most {MAX_ACTIVE}."
    else:
        return number
    return None


_UNSET = object()


def budget_update(
    *,
    team,
    by: Membership | None,
    monthly_soft_limit: Any = _UNSET,
    monthly_hard_limit: Any = _UNSET,
    alert_email: Any = _UNSET,
    alert_webhook_url: Any = _UNSET,
    member_monthly_limit: Any = _UNSET,
    member_max_active: Any = _UNSET,
) -> TeamBudget:
    """Set the team's limits, each member's default limits and the notice addresses (fields not
    given keep their value; empty clears). Raises PermissionDenied for non-admins,
    ValidationError naming each bad field."""
    _require_manager(team, by)
    budget = budget_of(team) or TeamBudget(team=team)
    errors: dict[str, str] = {}
    if monthly_soft_limit is not _UNSET:
        budget.monthly_soft_limit = _limit(errors, "monthly_soft_limit", monthly_soft_limit)
    if monthly_hard_limit is not _UNSET:
        budget.monthly_hard_limit = _limit(errors, "monthly_hard_limit", monthly_hard_limit)
    if member_monthly_limit is not _UNSET:
        budget.member_monthly_limit = _limit(errors, "member_monthly_limit", member_monthly_limit)
    if member_max_active is not _UNSET:
        budget.member_max_active = _count(errors, "member_max_active", member_max_active)
    if alert_email is not _UNSET:
        budget.alert_email = str(alert_email or "").strip()
        if budget.alert_email:
            try:
                EmailValidator()(budget.alert_email)
            except ValidationError:
                errors["alert_email"] = "Enter a valid email address."
    if alert_webhook_url is not _UNSET:
        budget.alert_webhook_url = str(alert_webhook_url or "").strip()
        if budget.alert_webhook_url:
            try:
                URLValidator(schemes=["http", "https"])(budget.alert_webhook_url)
            except ValidationError:
                errors["alert_webhook_url"] = "Enter a full http(s) URL."
            if len(budget.alert_webhook_url) > 200:
                errors["alert_webhook_url"] = "Use a URL of at most 200 characters."
    soft, hard = budget.monthly_soft_limit, budget.monthly_hard_limit
    if not errors and soft is not None and hard is not None and soft > hard:
        errors["monthly_soft_limit"] = "The soft limit (a warning) must not exceed the hard limit."
    if errors:
        raise ValidationError(errors)
    budget.save()
    return budget


def _require_manager(team, by: Membership | None) -> None:
    if by is not None and (by.team_id != team.id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins set its budget.")


def member_budget_update(
    *, membership: Membership, by: Membership | None, monthly_limit: Any
) -> MemberBudget | None:
    """Give one member their own monthly limit (US dollars), or (None or empty) put them back on
    the team's limit per member. Owners and admins may set anyone's, their own included."""
    _require_manager(membership.team, by)
    errors: dict[str, str] = {}
    amount = _limit(errors, "monthly_limit", monthly_limit)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ensure_team_budget(membership.team)
        if amount is None:
            MemberBudget.objects.filter(membership=membership).delete()
            return None
        own, _ = MemberBudget.objects.update_or_create(
            membership=membership, defaults={"monthly_limit": amount}
        )
    return own
