"""Usage and cost: the period a report covers (in the team's time zone), rollups of generations
per member, model, endpoint and day, and the per-job rows of the CSV export.

A job's cost is its execution time times the endpoint's price per second, stored on the generation
when it finishes (RunPodEndpoint.cost_of); failed jobs cost what they ran.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from dashboard.generations.models import Generation

PERIODS = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "last_month": "Last month",
    "custom": "Custom dates",
}
MAX_CUSTOM_DAYS = 366
ZERO = Decimal("0")


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: datetime  # inclusive
    end: datetime  # exclusive


@dataclass(frozen=True)
class UsageRow:
    key: str
    label: str
    jobs: int
    images: int
    gpu_seconds: float
    cost: Decimal


def team_zone(team) -> ZoneInfo:
    try:
        return ZoneInfo(team.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def month_start(team, now: datetime) -> datetime:
    """Midnight on the 1st of `now`'s month, in the team's time zone."""
    local = now.astimezone(team_zone(team))
    return _midnight(local.date().replace(day=1), local.tzinfo)


def _parse_day(value, field: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[field] = "Enter a date as YYYY-MM-DD."
        return None


def resolve_period(
    team, key: str = "month", *, now: datetime | None = None, start=None, end=None
) -> Period:
    """The period named `key` ending now; "custom" spans the days `start`..`end` (inclusive).
    Raises ValidationError naming the field for anything else."""
    now = now or timezone.now()
    zone = team_zone(team)
    key = key or "month"
    if key not in PERIODS:
        raise ValidationError({"period": f"Choose one of: {', '.join(PERIODS)}."})
    today = now.astimezone(zone).date()
    if key == "today":
        begin, finish = _midnight(today, zone), now
    elif key in ("7d", "30d"):
        begin, finish = now - timedelta(days=int(key[:-1])), now
    elif key == "month":
        begin, finish = month_start(team, now), now
    elif key == "last_month":
        finish = month_start(team, now)
        begin = month_start(team, finish - timedelta(days=1))
    else:
        errors: dict[str, str] = {}
        first = _parse_day(start, "start", errors)
        last = _parse_day(end, "end", errors)
        if first and last and last < first:
            errors["end"] = "The end date must not be before the start date."
        elif first and last and (last - first).days >= MAX_CUSTOM_DAYS:
            errors["end"] = f"Choose at most {MAX_CUSTOM_DAYS} days."
        if errors:
            raise ValidationError(errors)
        begin, finish = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
    return Period(key=key, label=PERIODS[key], start=begin, end=finish)


def generations_in(team, period: Period) -> QuerySet[Generation]:
    return Generation.objects.filter(
        team=team, created_at__gte=period.start, created_at__lt=period.end
    )


def _totals() -> dict:
    return {
        "jobs": Count("id"),
        "images": Coalesce(Sum("image_count"), 0),
        "execution_ms": Coalesce(Sum("execution_ms"), 0),
        "cost_sum": Coalesce(Sum("cost"), Value(ZERO), output_field=DecimalField()),
    }


def _row(key, label, values: dict) -> UsageRow:
    return UsageRow(
        key=str(key),
        label=label,
        jobs=values["jobs"],
        images=values["images"],
        gpu_seconds=round(values["execution_ms"] / 1000, 1),
        cost=Decimal(values["cost_sum"]).quantize(Decimal("0.000001")),
    )


def _grouped(generations: QuerySet, field: str) -> list[UsageRow]:
    rows = generations.order_by().values(field).annotate(**_totals())
    # None: a deleted member or endpoint (the generations stay, SET_NULL).
    result = [_row(row[field], "—" if row[field] is None else str(row[field]), row) for row in rows]
    return sorted(result, key=lambda row: (-row.cost, -row.jobs, row.label))


@dataclass(frozen=True)
class UsageReport:
    period: Period
    total: UsageRow
    by_member: list[UsageRow]
    by_model: list[UsageRow]
    by_endpoint: list[UsageRow]
    by_day: list[UsageRow]


def usage_report(team, period: Period) -> UsageReport:
    """Jobs, images, GPU seconds and cost in `period`, in total and per member, model,
    endpoint and day (days in the team's time zone)."""
    generations = generations_in(team, period)
    total = _row("total", "Total", generations.aggregate(**_totals()))
    by_day_rows = (
        generations.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=team_zone(team)))
        .values("day")
        .annotate(**_totals())
        .order_by("day")
    )
    return UsageReport(
        period=period,
        total=total,
        by_member=_grouped(generations, "user__username"),
        by_model=_grouped(generations, "model"),
        by_endpoint=_grouped(generations, "endpoint__name"),
        by_day=[_row(row["day"], row["day"].isoformat(), row) for row in by_day_rows],
    )


# --- CSV export -----------------------------------------------------------------------------------
CSV_HEADER = [
    "generation_id",
    "created_at",
    "member",
    "endpoint",
    "model",
    "width",
    "height",
    "steps",
    "images",
    "status",
    "delay_ms",
    "execution_ms",
    "cost_usd",
    "worker_id",
]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names are user-chosen)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def usage_csv_rows(team, period: Period) -> Iterator[list[str]]:
    """The header, then one row per generation in `period`, oldest first."""
    yield CSV_HEADER
    zone = team_zone(team)
    rows = (
        generations_in(team, period)
        .order_by("created_at", "id")
        .values_list(
            "id",
            "created_at",
            "user__username",
            "endpoint__name",
            "model",
            "width",
            "height",
            "steps",
            "image_count",
            "status",
            "delay_ms",
            "execution_ms",
            "cost",
            "worker_id",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        pk, created, *rest = row
        yield [str(pk), created.astimezone(zone).isoformat(), *(_cell(value) for value in rest)]


class _Echo:
    """A file whose write() hands the line back, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def usage_csv_lines(team, period: Period) -> Iterator[str]:
    """The CSV export as text lines, for a streaming response."""
    writer = csv.writer(_Echo())
    for row in usage_csv_rows(team, period):
        yield writer.writerow(row)


def csv_filename(team, period: Period) -> str:
    last_day = period.end - timedelta(microseconds=1)
    return f"usage-{team.slug}-{period.start:%Y%m%d}-{last_day:%Y%m%d}.csv"
