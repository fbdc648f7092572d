"""Team budgets: month-to-date spend (finished jobs plus an estimate for jobs in flight), the soft
limit's notices at 80% and 100%, the hard limit that refuses new generations, the admin's
settings, and the cost estimate of a generation from recent similar jobs.

The hard limit holds under concurrent submissions: `check_budget_for_new_generation` locks the
team's TeamBudget row inside the transaction that creates the generation, so each submission
sees every earlier one (committed, counted as in flight) before deciding.
"""

from __future__ import annotations

import statistics
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
from dashboard.fleet.models import RunPodEndpoint, TeamBudget
from dashboard.fleet.notifications import send_team_notice, url_host
from dashboard.fleet.usage import month_start
from dashboard.generations.models import ACTIVE_STATUSES, Generation, Status

SOFT_THRESHOLDS = (80, 100)  # percent of the soft limit that trigger a notice
SIMILAR_JOBS = 30  # how many recent finished jobs an estimate looks at
MAX_LIMIT = Decimal("1000000")
CENT = Decimal("0.01")


# --- cost estimate --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostEstimate:
    cost: Decimal | None  # None: nothing to estimate from yet
    execution_seconds: float | None
    based_on: int  # how many finished jobs the estimate comes from
    basis: str  # "similar" (same model and size), "endpoint" (any job, scaled), or "none"


def _param(params: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if params.get(name) not in (None, ""):
            return params[name]
    return default


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def estimate_generation_cost(endpoint: RunPodEndpoint | None, params: dict) -> CostEstimate:
    """What a generation with `params` (model, width, height, steps, images or image_count) will
    likely cost on `endpoint`: the median execution time per step and image of recent finished
    jobs of the same model and size, scaled to the request, times the endpoint's price. Without such
    jobs, any recent job of the endpoint, scaled by pixels too."""
    if endpoint is None:
        return CostEstimate(None, None, 0, "none")
    model = str(_param(params, "model", default="") or endpoint.default_model)
    width = _positive_int(_param(params, "width"), 1024)
    height = _positive_int(_param(params, "height"), 1024)
    steps = _positive_int(_param(params, "steps"), 20)
    images = _positive_int(_param(params, "image_count", "images"), 1)
    finished = Generation.objects.filter(
        endpoint=endpoint, status=Status.SUCCEEDED, execution_ms__isnull=False
    ).order_by("-id")
    columns = ("execution_ms", "steps", "image_count", "width", "height")
    similar = list(
        finished.filter(model=model, width=width, height=height).values_list(*columns)[
            :SIMILAR_JOBS
        ]
    )
    if similar:
        per_unit = [ms / (max(s, 1) * max(n, 1)) for ms, s, n, _, _ in similar]
        execution_ms = statistics.median(per_unit) * steps * images
        basis, rows = "similar", similar
    else:
        rows = list(finished.values_list(*columns)[:SIMILAR_JOBS])
        if not rows:
            return CostEstimate(None, None, 0, "none")
        per_unit = [ms / (max(s, 1) * max(n, 1) * w * h) for ms, s, n, w, h in rows]
        execution_ms = statistics.median(per_unit) * steps * images * width * height
        basis = "endpoint"
    return CostEstimate(
        cost=endpoint.cost_of(round(execution_ms)),
        execution_seconds=round(execution_ms / 1000, 1),
        based_on=len(rows),
        basis=basis,
    )


# --- spend ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spend:
    finished: Decimal  # cost of this month's finished jobs
    in_flight: Decimal  # estimated cost of this month's jobs not finished yet
    in_flight_jobs: int

    @property
    def total(self) -> Decimal:
        return self.finished + self.in_flight


def month_to_date_spend(team, *, now: datetime | None = None) -> Spend:
    """This month's spend (in the team's time zone), counting jobs in flight at their estimate."""
    now = now or timezone.now()
    this_month = Generation.objects.filter(team=team, created_at__gte=month_start(team, now))
    finished = this_month.exclude(status__in=ACTIVE_STATUSES).aggregate(
        total=Coalesce(Sum("cost"), Value(Decimal("0")), output_field=DecimalField())
    )["total"]
    groups = (
        this_month.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("endpoint_id", "model", "width", "height", "steps", "image_count")
        .annotate(jobs=Count("id"))
    )
    endpoints = {endpoint.pk: endpoint for endpoint in RunPodEndpoint.objects.filter(team=team)}
    in_flight, jobs = Decimal("0"), 0
    for group in groups:
        estimate = estimate_generation_cost(endpoints.get(group["endpoint_id"]), group)
        in_flight += (estimate.cost or Decimal("0")) * group["jobs"]
        jobs += group["jobs"]
    return Spend(finished=Decimal(finished), in_flight=in_flight, in_flight_jobs=jobs)


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


def budget_status(team, *, now: datetime | None = None) -> BudgetStatus:
    budget = budget_of(team)
    return BudgetStatus(
        spend=month_to_date_spend(team, now=now),
        soft_limit=budget.monthly_soft_limit if budget else None,
        hard_limit=budget.monthly_hard_limit if budget else None,
    )


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


def check_budget_for_new_generation(
    team, estimated_cost: Decimal | None, *, now: datetime | None = None
) -> None:
    """Refuse a new generation that would take this month's spend past the hard limit; send the
    soft-limit notice when it crosses 80% or 100%. Call it inside the transaction that creates
    the generation: the TeamBudget row lock is held until that transaction ends."""
    with transaction.atomic():
        budget = TeamBudget.objects.select_for_update().filter(team=team).first()
        if budget is None or (
            budget.monthly_soft_limit is None and budget.monthly_hard_limit is None
        ):
            return
        spend = month_to_date_spend(team, now=now)
        estimate = estimated_cost or Decimal("0")
        projected = spend.total + estimate
        hard = budget.monthly_hard_limit
        if hard is not None and (spend.total >= hard or projected > hard):
            running = (
                f" (including about {_money(spend.in_flight)} for {spend.in_flight_jobs} "
                "job(s) still running)"
                if spend.in_flight_jobs
                else ""
            )
            cost = f"; this one would cost about {_money(estimate)}" if estimate else ""
            raise ValidationError(
                {
                    "budget": (
                        f"Your team's monthly hard limit of {_money(hard)} is reached: "
                        f"{_money(spend.total)} spent this month{running}{cost}. "
                        "Ask a team admin to raise the limit."
                    )
                }
            )
        soft = budget.monthly_soft_limit
        if soft:
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

    @classmethod
    def of(cls, budget: TeamBudget | None) -> BudgetSettings:
        if budget is None:
            return cls(None, None, "", "")
        return cls(
            budget.monthly_soft_limit,
            budget.monthly_hard_limit,
            budget.alert_email,
            url_host(budget.alert_webhook_url),
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


_UNSET = object()


def budget_update(
    *,
    team,
    by: Membership | None,
    monthly_soft_limit: Any = _UNSET,
    monthly_hard_limit: Any = _UNSET,
    alert_email: Any = _UNSET,
    alert_webhook_url: Any = _UNSET,
) -> TeamBudget:
    """Set the team's limits and notice addresses (fields not given keep their value; empty
    clears). Raises PermissionDenied for non-admins, ValidationError naming each bad field."""
    if by is not None and (by.team_id != team.id or not by.can_manage):
        raise PermissionDenied("Only the team's owners and admins set its budget.")
    budget = budget_of(team) or TeamBudget(team=team)
    errors: dict[str, str] = {}
    if monthly_soft_limit is not _UNSET:
        budget.monthly_soft_limit = _limit(errors, "monthly_soft_limit", monthly_soft_limit)
    if monthly_hard_limit is not _UNSET:
        budget.monthly_hard_limit = _limit(errors, "monthly_hard_limit", monthly_hard_limit)
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
