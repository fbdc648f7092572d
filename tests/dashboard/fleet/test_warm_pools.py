"""Warm-pool windows on the team's wall clock, and the plans that compare desired with RunPod."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dashboard.fleet.warm_pools import (
    KeepAliveJob,
    UnknownTimeZone,
    Window,
    check_window,
    cost_per_hour,
    desired_workers,
    next_opening,
    overlapping,
    plan_keep_alive,
    plan_min_workers,
    wall_instant,
    weekdays_label,
    window_closes_at,
    zone_of,
)

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = frozenset(range(5))
SUNDAY = frozenset({6})


def window(start: str, end: str, days=WEEKDAYS, workers: int = 1, name: str = "") -> Window:
    return Window(days, time.fromisoformat(start), time.fromisoformat(end), workers, name)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def is_open(win: Window, instant: datetime, zone=BERLIN, lead=timedelta(0)) -> bool:
    return desired_workers([win], zone, instant, lead=lead).workers > 0


# --- weekdays and time zones ------------------------------------------------------------------


def test_office_hours_are_open_on_weekdays_between_start_and_end():
    office = window("09:00", "18:00")
    # Monday 2026-12-07; Berlin is UTC+1 in winter.
    assert not is_open(office, utc("2026-12-07T07:59:59"))
    assert is_open(office, utc("2026-12-07T08:00:00"))  # 09:00 Berlin
    assert is_open(office, utc("2026-12-07T16:59:59"))
    assert not is_open(office, utc("2026-12-07T17:00:00"))  # 18:00: the end is not inside
    assert not is_open(office, utc("2026-12-12T10:00:00"))  # Saturday


def test_the_team_time_zone_decides_which_weekday_and_hour_it_is():
    late_monday = window("23:00", "00:00", days=frozenset({0}))
    # 22:30 UTC on Monday is 23:30 in Berlin (open) but already Tuesday 07:30 in Tokyo.
    instant = utc("2026-12-07T22:30:00")
    assert is_open(late_monday, instant, BERLIN)
    assert not is_open(late_monday, instant, ZoneInfo("Asia/Tokyo"))
    assert not is_open(late_monday, instant, ZoneInfo("UTC"))


def test_an_end_of_midnight_means_the_end_of_the_day():
    evening = window("22:00", "00:00", days=frozenset({0}))
    assert is_open(evening, utc("2026-12-07T22:59:59"))  # 23:59:59 Berlin, Monday
    assert not is_open(evening, utc("2026-12-07T23:00:00"))  # 00:00 Tuesday
    assert evening.seconds == 2 * 3600


def test_workers_boot_during_the_lead_before_a_window_opens():
    office = window("09:00", "18:00")
    lead = timedelta(minutes=2)
    assert is_open(office, utc("2026-12-07T07:58:30"), lead=lead)  # 08:58:30 Berlin
    assert not is_open(office, utc("2026-12-07T07:57:00"), lead=lead)
    assert not is_open(office, utc("2026-12-07T17:00:00"), lead=lead)  # no lead at the end


def test_unknown_time_zones_are_refused_with_an_example():
    for name in ("Mars/Olympus_Mons", "", "../../etc/passwd", " Europe/Berlin"):
        with pytest.raises(UnknownTimeZone, match="Europe/Berlin"):
            zone_of(name)
    assert zone_of("Europe/Berlin") == BERLIN


# --- DST ----------------------------------------------------------------------------------------
# Berlin springs forward on Sunday 2026-03-29 at 01:00 UTC (02:00 CET → 03:00 CEST) and falls
# back on Sunday 2026-10-25 at 01:00 UTC (03:00 CEST → 02:00 CET).


def test_spring_forward_opens_a_window_that_starts_in_the_skipped_hour_when_the_clock_jumps():
    early = window("02:30", "03:30", days=SUNDAY)
    assert not is_open(early, utc("2026-03-29T00:59:59"))  # 01:59:59 CET
    assert is_open(early, utc("2026-03-29T01:00:00"))  # 03:00 CEST
    assert not is_open(early, utc("2026-03-29T01:30:00"))  # 03:30 CEST
    assert wall_instant(BERLIN, datetime(2026, 3, 29).date(), time(2, 30)) == utc(
        "2026-03-29T01:00:00"
    )


def test_spring_forward_skips_a_window_lying_wholly_in_the_skipped_hour():
    skipped = window("02:00", "02:45", days=SUNDAY)
    minute = utc("2026-03-28T23:00:00")
    while minute < utc("2026-03-29T04:00:00"):
        assert not is_open(skipped, minute), minute
        minute += timedelta(minutes=1)


def test_spring_forward_office_hours_follow_the_new_offset():
    office = window("09:00", "18:00", days=SUNDAY)
    assert not is_open(office, utc("2026-03-29T06:59:00"))
    assert is_open(office, utc("2026-03-29T07:00:00"))  # 09:00 CEST
    assert not is_open(office, utc("2026-03-29T16:00:00"))  # 18:00 CEST


def test_fall_back_keeps_the_repeated_hour_warm_both_times_round():
    night = window("02:00", "02:30", days=SUNDAY)
    assert is_open(night, utc("2026-10-25T00:10:00"))  # 02:10 CEST
    assert not is_open(night, utc("2026-10-25T00:45:00"))  # 02:45 CEST
    assert is_open(night, utc("2026-10-25T01:10:00"))  # 02:10 CET, the clock shows it again
    assert not is_open(night, utc("2026-10-25T01:30:00"))  # 02:30 CET
    # The window closes for good after the repeated reading.
    assert window_closes_at(night, BERLIN, utc("2026-10-25T00:10:00")) == utc("2026-10-25T01:30:00")
    day = datetime(2026, 10, 25).date()
    assert wall_instant(BERLIN, day, time(2, 15)) == utc("2026-10-25T00:15:00")
    assert wall_instant(BERLIN, day, time(2, 15), last=True) == utc("2026-10-25T01:15:00")


def test_fall_back_office_hours_follow_the_new_offset():
    office = window("09:00", "18:00", days=SUNDAY)
    assert not is_open(office, utc("2026-10-25T07:59:00"))
    assert is_open(office, utc("2026-10-25T08:00:00"))  # 09:00 CET


def test_next_opening_is_found_across_the_weekend_and_a_dst_change():
    office = window("09:00", "18:00", name="office")
    found = next_opening([office], BERLIN, utc("2026-03-27T17:30:00"))  # Friday evening
    assert found is not None
    assert found[0] is office
    assert found[1] == utc("2026-03-30T07:00:00")  # Monday 09:00 CEST
    assert next_opening([], BERLIN, utc("2026-03-27T17:30:00")) is None


# --- validation -----------------------------------------------------------------------------------


def check(**changes):
    fields = {
        "weekdays": [0, 1, 2, 3, 4],
        "start": time(9),
        "end": time(18),
        "workers": 1,
        "max_workers": 10,
    }
    return check_window(**{**fields, **changes})


def test_a_good_window_has_no_problems():
    assert check() == {}
    assert check(start=time(22), end=time(0)) == {}


def test_end_before_start_says_to_make_two_schedules():
    errors = check(start=time(22), end=time(6))
    assert "two schedules" in errors["end_time"]


def test_empty_window_is_refused():
    assert "empty" in check(start=time(9), end=time(9))["end_time"]


@pytest.mark.parametrize(
    ("workers", "message"),
    [(0, "at least 1"), (-3, "at least 1"), (11, "At most 10"), (True, "whole number")],
)
def test_worker_counts_must_be_sane(workers, message):
    assert message in check(workers=workers)["warm_workers"]


@pytest.mark.parametrize("weekdays", [[], [7], [-1], ["mon"], [True], "0,1"])
def test_weekdays_must_be_numbers_from_0_to_6(weekdays):
    assert "weekdays" in check(weekdays=weekdays)


def test_missing_times_are_named():
    errors = check(start=None, end="later")
    assert set(errors) == {"start_time", "end_time"}


def test_overlapping_windows_share_a_weekday_and_some_time():
    morning = window("09:00", "12:00", days=frozenset({0}))
    assert overlapping(morning, [window("11:00", "13:00", days=frozenset({0, 3}))])
    assert not overlapping(morning, [window("11:00", "13:00", days=frozenset({1}))])
    assert not overlapping(morning, [window("12:00", "13:00", days=frozenset({0}))])  # adjacent
    late = window("22:00", "00:00", days=frozenset({0}))
    assert overlapping(late, [window("23:00", "23:30", days=frozenset({0}))])


def test_weekday_labels_are_short():
    assert weekdays_label(range(5)) == "Mon-Fri"
    assert weekdays_label([5, 6]) == "Sat, Sun"
    assert weekdays_label(range(7)) == "every day"


# --- overrides and cost -----------------------------------------------------------------------


def test_keep_warm_adds_workers_on_top_of_windows_until_it_ends():
    office = window("09:00", "18:00", workers=1)
    monday_ten = utc("2026-12-07T09:00:00")
    until = monday_ten + timedelta(minutes=30)
    kept = desired_workers([office], BERLIN, monday_ten, override_until=until, override_workers=3)
    assert (kept.workers, kept.kept_warm) == (3, True)
    smaller = desired_workers(
        [office], BERLIN, monday_ten, override_until=until, override_workers=1
    )
    assert smaller.workers == 1
    later = desired_workers([office], BERLIN, until, override_until=until, override_workers=3)
    assert (later.workers, later.kept_warm) == (1, False)
    night = utc("2026-12-07T22:00:00")
    assert desired_workers([office], BERLIN, night).workers == 0


def test_cool_down_wins_over_an_open_window_until_it_ends():
    office = window("09:00", "18:00", workers=2)
    monday_ten = utc("2026-12-07T09:00:00")
    closes = window_closes_at(office, BERLIN, monday_ten)
    assert closes == utc("2026-12-07T17:00:00")
    cooled = desired_workers(
        [office], BERLIN, monday_ten, override_until=closes, override_workers=0
    )
    assert (cooled.workers, cooled.cooled_down) == (0, True)
    assert "cooled down until" in cooled.reason
    tomorrow = monday_ten + timedelta(days=1)
    again = desired_workers([office], BERLIN, tomorrow, override_until=closes, override_workers=0)
    assert again.workers == 2


def test_warm_pool_cost_per_hour_is_workers_times_price_times_3600():
    assert cost_per_hour(2, Decimal("0.00031")) == Decimal("2.2320")
    assert cost_per_hour(0, Decimal("0.00031")) == Decimal("0")


# --- plan: workers.min ------------------------------------------------------------------------


def plan(applied=None, baseline=None, actual_min=0, actual_max=3, desired=1):
    return plan_min_workers(
        applied=applied,
        baseline=baseline,
        actual_min=actual_min,
        actual_max=actual_max,
        desired=desired,
    )


def test_opening_raises_min_and_records_the_baseline_before_the_patch():
    first = plan(actual_min=0, desired=1)
    assert (first.patch_to, first.applied, first.baseline, first.write_ahead) == (1, 1, 0, True)


def test_a_second_run_over_the_result_plans_no_call():
    again = plan(applied=1, baseline=0, actual_min=1, desired=1)
    assert again.patch_to is None
    assert (again.applied, again.baseline) == (1, 0)


def test_a_patch_that_never_landed_is_sent_again_without_touching_the_baseline():
    retry = plan(applied=1, baseline=0, actual_min=0, desired=1)
    assert (retry.patch_to, retry.baseline, retry.notice) == (1, 0, "")


def test_closing_restores_the_baseline_and_forgets_it():
    restore = plan(applied=2, baseline=1, actual_min=2, desired=0)
    assert (restore.patch_to, restore.applied, restore.baseline) == (1, None, None)
    already = plan(applied=2, baseline=1, actual_min=1, desired=0)
    assert already.patch_to is None


def test_a_value_changed_outside_is_never_restored_over_and_that_is_said():
    changed = plan(applied=1, baseline=0, actual_min=3, desired=0)
    assert changed.patch_to is None
    assert "outside SwarmDeck" in changed.notice
    assert changed.applied is None


def test_a_higher_value_set_outside_during_the_window_is_kept():
    higher = plan(applied=1, baseline=0, actual_min=4, desired=1)
    assert higher.patch_to is None
    assert "outside SwarmDeck" in higher.notice


def test_a_value_lowered_outside_during_the_window_is_raised_again_and_said():
    lowered = plan(applied=2, baseline=0, actual_min=1, desired=2)
    assert lowered.patch_to == 2
    assert "lowered" in lowered.notice


def test_an_existing_higher_min_is_not_lowered_by_a_window():
    kept = plan(actual_min=2, desired=1)
    assert kept.patch_to is None
    assert (kept.applied, kept.baseline) == (2, 2)
    assert plan(applied=2, baseline=2, actual_min=2, desired=0).patch_to is None


def test_min_is_capped_at_max_workers_and_that_is_said():
    capped = plan(actual_min=0, actual_max=1, desired=3)
    assert capped.patch_to == 1
    assert "workers.max is 1" in capped.notice
    scaled_down = plan(actual_min=0, actual_max=0, desired=1)
    assert scaled_down.patch_to is None
    assert "workers.max is 0" in scaled_down.notice


# --- plan: keep-alive jobs --------------------------------------------------------------------

NOW = utc("2026-12-07T09:00:00")
INTERVAL = timedelta(seconds=60)


def running(job_id, ends_in, low=False):
    return KeepAliveJob(job_id, "IN_PROGRESS", low, NOW + timedelta(seconds=ends_in))


def queued(job_id, low=False):
    return KeepAliveJob(job_id, "IN_QUEUE", low, None)


def keep_alive(jobs, desired=1, other_busy=0):
    return plan_keep_alive(jobs, desired=desired, now=NOW, interval=INTERVAL, other_busy=other_busy)


def test_keep_alive_starts_one_job_per_desired_worker():
    started = keep_alive([], desired=2)
    assert (started.submit_normal, started.submit_low, started.cancel) == (2, 0, ())


def test_a_job_running_past_the_next_tick_needs_nothing():
    assert keep_alive([running("a", ends_in=80)]) == keep_alive([running("a", ends_in=61)])
    assert keep_alive([running("a", ends_in=80)]).submit_normal == 0
    assert keep_alive([running("a", ends_in=80)]).submit_low == 0


def test_a_job_ending_before_the_next_tick_gets_a_low_priority_successor():
    follow = keep_alive([running("a", ends_in=20)])
    assert (follow.submit_normal, follow.submit_low) == (0, 1)
    waiting = keep_alive([running("a", ends_in=20), queued("b", low=True)])
    assert (waiting.submit_normal, waiting.submit_low, waiting.cancel) == (0, 0, ())


def test_a_successor_with_no_busy_worker_to_follow_is_replaced():
    orphan = keep_alive([queued("b", low=True)])
    assert orphan.cancel == ("b",)
    assert (orphan.submit_normal, orphan.submit_low) == (1, 0)


def test_a_warm_up_on_its_way_is_followed_by_a_low_priority_job():
    after_warmup = keep_alive([], other_busy=1)
    assert (after_warmup.submit_normal, after_warmup.submit_low) == (0, 1)


def test_never_more_running_than_desired_and_extra_waiting_jobs_are_dropped():
    full = keep_alive([running("a", 80), running("b", 80)], desired=2)
    assert (full.submit_normal, full.submit_low) == (0, 0)
    fewer = keep_alive([running("a", 80), queued("b")], desired=1)
    assert fewer.cancel == ("b",)
    assert fewer.submit_normal == fewer.submit_low == 0


def test_nothing_wanted_cancels_every_keep_alive_job():
    stop = keep_alive([running("a", 20), queued("b", low=True)], desired=0)
    assert set(stop.cancel) == {"a", "b"}
    assert stop.submit_normal == stop.submit_low == 0
