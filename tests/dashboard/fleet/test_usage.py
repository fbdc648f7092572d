"""Usage and cost: periods in the team's time zone, rollups per member, model, endpoint and day,
the CSV export, and bad period input."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from dashboard.accounts.models import Role
from dashboard.fleet import usage
from dashboard.generations.models import Status
from dashboard.generations.services import apply_job_status
from tests.dashboard.factories import make_endpoint, make_generation, make_member, make_team
from tests.dashboard.fleet.health_support import finished_generation

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def berlin(db):
    return make_team("Berlin Studio", time_zone="Europe/Berlin")


def test_a_finished_job_costs_its_execution_time_at_the_endpoint_price(member):
    endpoint = make_endpoint(member.team, gpu_price_per_second=Decimal("0.00031"))
    generation = make_generation(member, endpoint, status=Status.RUNNING, runpod_job_id="j1")

    apply_job_status(
        generation_id=generation.pk,
        job={"id": "j1", "status": "FAILED", "executionTime": 8312, "error": "boom"},
    )

    generation.refresh_from_db()
    assert generation.cost == Decimal("0.002577")  # 8.312 s x $0.00031


def test_rollups_per_member_model_endpoint_and_day(berlin):
    ana, ben = make_member(berlin, Role.OWNER), make_member(berlin, Role.MEMBER)
    fast, big = make_endpoint(berlin, name="fast"), make_endpoint(berlin, name="big")
    march_9 = datetime(2026, 3, 9, 10, tzinfo=UTC)
    late_on_the_10th = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # the 11th in Berlin
    finished_generation(ana, fast, at=march_9, cost="0.10", model="sdxl", execution_ms=1000)
    finished_generation(ana, big, at=march_9, cost="0.30", model="flux", execution_ms=3000)
    finished_generation(ben, fast, at=late_on_the_10th, cost="0.05", model="sdxl", image_count=3)
    finished_generation(ben, fast, at=datetime(2026, 2, 27, tzinfo=UTC), cost="9.99")  # February

    report = usage.usage_report(berlin, usage.resolve_period(berlin, "month", now=NOW))

    assert (report.total.jobs, report.total.images, report.total.cost) == (3, 5, Decimal("0.45"))
    assert report.total.gpu_seconds == 4.0
    assert [(r.label, r.cost) for r in report.by_member] == [
        (ana.user.username, Decimal("0.4")),
        (ben.user.username, Decimal("0.05")),
    ]
    assert [(r.label, r.jobs) for r in report.by_model] == [("flux", 1), ("sdxl", 2)]
    assert [(r.label, r.cost) for r in report.by_endpoint] == [
        ("big", Decimal("0.3")),
        ("fast", Decimal("0.15")),
    ]
    assert [(r.label, r.jobs) for r in report.by_day] == [("2026-03-09", 2), ("2026-03-11", 1)]


def test_periods_follow_the_team_time_zone(berlin):
    month = usage.resolve_period(berlin, "month", now=NOW)
    assert month.start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # March 1st, Berlin
    last = usage.resolve_period(berlin, "last_month", now=NOW)
    assert (last.start, last.end) == (datetime(2026, 1, 31, 23, tzinfo=UTC), month.start)
    custom = usage.resolve_period(berlin, "custom", start="2026-03-01", end="2026-03-31", now=NOW)
    assert custom.end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # April 1st, summer time


@pytest.mark.parametrize(
    ("key", "start", "end", "field"),
    [
        ("year", None, None, "period"),
        ("custom", "2026-13-01", "2026-03-02", "start"),
        ("custom", "2026-03-05", "2026-03-01", "end"),
        ("custom", "2024-01-01", "2026-01-01", "end"),
    ],
)
def test_bad_periods_name_the_field(team, key, start, end, field):
    with pytest.raises(ValidationError) as invalid:
        usage.resolve_period(team, key, start=start, end=end, now=NOW)
    assert list(invalid.value.message_dict) == [field]


def test_csv_has_one_row_per_generation_and_neutralises_formulas(member, endpoint):
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    finished_generation(member, endpoint, at=at, cost="0.25", model="=HYPERLINK(1)", delay_ms=900)
    period = usage.resolve_period(member.team, "month", now=NOW)

    rows = list(csv.reader(io.StringIO("".join(usage.usage_csv_lines(member.team, period)))))

    assert rows[0] == usage.CSV_HEADER
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["model"] == "'=HYPERLINK(1)"
    assert row["cost_usd"] == "0.250000"
    assert row["delay_ms"] == "900"
    assert row["member"] == member.user.username
    assert row["created_at"].startswith("2026-03-02T09:00")


def test_other_teams_generations_are_not_counted(member, endpoint):
    other = make_team()
    stranger = make_member(other)
    finished_generation(stranger, make_endpoint(other), at=NOW, cost="5.00")

    period = usage.resolve_period(member.team, "month", now=NOW)
    assert usage.usage_report(member.team, period).total.jobs == 0
