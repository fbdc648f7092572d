"""Warm-pool windows and the desired number of warm workers at an instant (no database, no HTTP).

Windows follow the team's wall clock (zoneinfo): a window is open whenever the clock on the team's
wall shows one of its weekdays and a time in [start, end). Across DST changes that means:
spring forward — a window that starts inside the skipped hour opens when the clock jumps past it
(and one lying wholly inside the skipped hour does not open that day); fall back — the repeated
hour is warm whenever the clock shows a time inside the window, both times round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SECONDS_PER_HOUR = 3600


class UnknownTimeZone(ValueError):
    """Not an IANA time-zone name zoneinfo knows (e.g. `Europe/Berlin`)."""


def zone_of(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; raises UnknownTimeZone with a sentence people can act on."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise UnknownTimeZone(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        ) from None


@dataclass(frozen=True)
class Window:
    """One schedule as the clock sees it."""

    weekdays: frozenset[int]
    start: time
    end: time
    workers: int
    name: str = ""
    schedule_id: int | None = None

    @classmethod
    def of(cls, schedule) -> Window:
        """From a WarmSchedule (or anything with the same attributes)."""
        return cls(
            weekdays=frozenset(int(day) for day in schedule.weekdays),
            start=schedule.start_time,
            end=schedule.end_time,
            workers=int(schedule.warm_workers),
            name=schedule.name,
            schedule_id=schedule.pk,
        )

    def contains(self, local: datetime) -> bool:
        """Whether the wall-clock reading `local` (in the team's zone) lies inside the window."""
        reading = _seconds(local.time()) + local.microsecond / 1e6
        return local.weekday() in self.weekdays and self._from <= reading < self._until

    def overlaps(self, other: Window) -> bool:
        return bool(self.weekdays & other.weekdays) and (
            self._from < other._until and other._from < self._until
        )

    @property
    def _from(self) -> int:
        return _seconds(self.start)

    @property
    def _until(self) -> int:
        return end_seconds(self.start, self.end)

    @property
    def seconds(self) -> int:
        """How long the window is on an ordinary (non-DST-change) day."""
        return self._until - self._from

    def describe(self) -> str:
        return f"{weekdays_label(self.weekdays)} {self.start:%H:%M}-{self.end:%H:%M}"


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def end_seconds(start: time, end: time) -> int:
    """Seconds after midnight at which a window ends; an end of 00:00 after a later start means
    midnight at the end of the day (so 22:00-00:00 is the last two hours)."""
    if end == time(0) and start != time(0):
        return 24 * 3600
    return _seconds(end)


def weekdays_label(weekdays: Iterable[int]) -> str:
    """`Mon-Fri`, `Sat, Sun`, `every day`: short, for tables."""
    days = sorted(set(weekdays))
    if days == list(range(7)):
        return "every day"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAY_NAMES[days[0]]}-{WEEKDAY_NAMES[days[-1]]}"
    return ", ".join(WEEKDAY_NAMES[day] for day in days)


def check_window(*, weekdays, start, end, workers, max_workers: int) -> dict[str, str]:
    """Problems with one window's own fields, as {field: message}; empty when it is fine."""
    errors: dict[str, str] = {}
    if not isinstance(weekdays, list | tuple | set | frozenset) or not weekdays:
        errors["weekdays"] = "Pick at least one weekday."
    elif any(isinstance(day, bool) or not isinstance(day, int) for day in weekdays) or any(
        not 0 <= day <= 6 for day in weekdays
    ):
        errors["weekdays"] = "Weekdays are numbers from 0 (Monday) to 6 (Sunday)."
    if not isinstance(start, time):
        errors["start_time"] = "Enter a start time such as 09:00."
    if not isinstance(end, time):
        errors["end_time"] = "Enter an end time such as 18:00."
    elif isinstance(start, time):
        if end == start:
            errors["end_time"] = "The window is empty: the end time equals the start time."
        elif end_seconds(start, end) < _seconds(start):
            errors["end_time"] = (
                "The end time is before the start time. Windows do not cross midnight: "
                "make an overnight window two schedules (22:00-00:00 and 00:00-06:00)."
            )
    if isinstance(workers, bool) or not isinstance(workers, int):
        errors["warm_workers"] = "Enter a whole number of workers."
    elif workers < 1:
        errors["warm_workers"] = "Keep at least 1 worker warm (delete the schedule to keep none)."
    elif workers > max_workers:
        errors["warm_workers"] = f"At most {max_workers} warm workers per schedule."
    return errors


def overlapping(window: Window, others: Iterable[Window]) -> list[Window]:
    """The windows among `others` that share a weekday and some time with `window`."""
    return [other for other in others if window.overlaps(other)]


# --- what should be warm now ---------------------------------------------------------------------


@dataclass(frozen=True)
class Desired:
    """How many workers should be warm at an instant, and why (in words for the page)."""

    workers: int
    reason: str
    windows: tuple[Window, ...] = ()
    cooled_down: bool = False
    kept_warm: bool = False

    @property
    def warm(self) -> bool:
        return self.workers > 0


def open_windows(
    windows: Iterable[Window], zone: ZoneInfo, now: datetime, *, lead: timedelta = timedelta(0)
) -> list[Window]:
    """Windows open at `now`, or opening within `lead` (workers need that long to boot, so the
    first job of the window finds them warm)."""
    here = now.astimezone(zone)
    soon = (now + lead).astimezone(zone)
    return [w for w in windows if w.contains(here) or (lead and w.contains(soon))]


def desired_workers(
    windows: Iterable[Window],
    zone: ZoneInfo,
    now: datetime,
    *,
    lead: timedelta = timedelta(0),
    override_until: datetime | None = None,
    override_workers: int = 0,
) -> Desired:
    """Desired warm workers at `now`: the open window's count, unless an override runs.

    The override is "keep N warm until T" (at least N, on top of any window) or, with N = 0,
    "cooled down until T" (nothing warm, whatever the windows say).
    """
    open_now = tuple(open_windows(windows, zone, now, lead=lead))
    scheduled = max((w.workers for w in open_now), default=0)
    if override_until is not None and override_until > now:
        until = _clock(override_until, zone)
        if override_workers <= 0:
            return Desired(0, f"cooled down until {until}", open_now, cooled_down=True)
        if override_workers >= scheduled:
            return Desired(
                override_workers,
                f"kept warm by hand until {until}",
                open_now,
                kept_warm=True,
            )
    if not open_now:
        return Desired(0, "no window is open")
    names = ", ".join(w.name or w.describe() for w in open_now)
    return Desired(scheduled, f"window {names}", open_now)


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %H:%M}"


# --- instants of window edges ----------------------------------------------------------------


def wall_instant(zone: ZoneInfo, day: date, clock: time, *, last: bool = False) -> datetime:
    """The UTC instant at which the wall clock in `zone` first shows `clock` on `day` (with
    `last`: the last time it shows it, for the repeated hour of a fall-back). A reading the clock
    skips (spring forward) maps to the moment the clock jumps past it."""
    reading = datetime.combine(day, clock)
    for _ in range(24 * 60):
        local = reading.replace(tzinfo=zone, fold=1 if last else 0)
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == reading:
            return instant
        # Skipped by the clock: try the next whole minute, until the clock shows one.
        reading = (reading + timedelta(minutes=1)).replace(second=0, microsecond=0)
    raise ValueError(f"{clock} on {day} never shows on the wall clock of {zone}")


def window_closes_at(
    window: Window, zone: ZoneInfo, now: datetime, *, lead: timedelta = timedelta(0)
) -> datetime:
    """When the window open at `now` (or opening within `lead`) closes, after any repeated hour."""
    here = now.astimezone(zone)
    day = here.date() if window.contains(here) else (now + lead).astimezone(zone).date()
    if end_seconds(window.start, window.end) == 24 * 3600:
        return wall_instant(zone, day + timedelta(days=1), time(0))
    return wall_instant(zone, day, window.end, last=True)


def next_opening(
    windows: Iterable[Window], zone: ZoneInfo, now: datetime
) -> tuple[Window, datetime] | None:
    """The next window to open after `now` within a week, with its opening instant."""
    today = now.astimezone(zone).date()
    found: tuple[Window, datetime] | None = None
    for window in windows:
        for offset in range(8):
            day = today + timedelta(days=offset)
            if day.weekday() not in window.weekdays:
                continue
            opens = wall_instant(zone, day, window.start)
            if opens > now:
                if found is None or opens < found[1]:
                    found = (window, opens)
                break
    return found


def cost_per_hour(workers: int, price_per_second: Decimal) -> Decimal:
    """What `workers` warm workers cost per hour at a per-second price."""
    return (Decimal(workers) * Decimal(price_per_second) * SECONDS_PER_HOUR).quantize(
        Decimal("0.0001")
    )


# --- plans: what to change at RunPod, given what it reports --------------------------------------


@dataclass(frozen=True)
class MinWorkersPlan:
    """What to do about `workers.min`: PATCH it to `patch_to` (None: no call) and what the warm
    state remembers afterwards. `write_ahead`: record `applied`/`baseline` before the PATCH, so a
    crash right after it still knows the value to restore."""

    patch_to: int | None
    applied: int | None
    baseline: int | None
    notice: str = ""
    write_ahead: bool = False


def plan_min_workers(
    *, applied: int | None, baseline: int | None, actual_min: int, actual_max: int, desired: int
) -> MinWorkersPlan:
    """Compare what we set (`applied`, over `baseline`) with what RunPod reports, and decide.

    Idempotent: a second run over the result plans no call. Never lowers a value someone else
    raised, never restores over a value someone else set meanwhile — and says so in `notice`.
    """
    if applied is None:
        if desired <= 0:
            return MinWorkersPlan(None, None, None)
        target = min(max(desired, actual_min), actual_max)
        notice = _capped(desired, actual_max)
        if target == actual_min:
            return MinWorkersPlan(None, actual_min, actual_min, notice)
        return MinWorkersPlan(target, target, actual_min, notice, write_ahead=True)

    base = actual_min if baseline is None else baseline
    if desired <= 0:  # restore
        if actual_min == applied:
            return MinWorkersPlan(None if applied == base else base, None, None)
        if actual_min == base:
            return MinWorkersPlan(None, None, None)
        return MinWorkersPlan(
            None,
            None,
            None,
            f"workers.min is {actual_min}: it was changed outside SwarmDeck while the pool was "
            f"warm, so SwarmDeck left it as is instead of restoring {base}.",
        )

    target = min(max(desired, base), actual_max)
    notice = _capped(desired, actual_max)
    if actual_min == applied:
        if target == applied:
            return MinWorkersPlan(None, applied, base, notice)
        return MinWorkersPlan(target, target, base, notice, write_ahead=True)
    if actual_min == base:  # our raise did not land (or was undone): apply it again
        if target == actual_min:
            return MinWorkersPlan(None, target, base, notice)
        return MinWorkersPlan(target, target, base, notice, write_ahead=True)
    if actual_min >= target:
        return MinWorkersPlan(
            None,
            applied,
            base,
            f"workers.min was set to {actual_min} outside SwarmDeck; SwarmDeck leaves it (at "
            f"least {target} warm) and will not restore {base} over it.",
        )
    return MinWorkersPlan(
        target,
        target,
        base,
        f"workers.min was lowered to {actual_min} outside SwarmDeck during a warm window; "
        f"SwarmDeck raised it to {target} again.",
        write_ahead=True,
    )


def _capped(desired: int, actual_max: int) -> str:
    if desired <= actual_max:
        return ""
    return (
        f"workers.max is {actual_max}, so only {actual_max} of {desired} workers can be kept "
        "warm. Raise max workers on RunPod."
    )


@dataclass(frozen=True)
class KeepAliveJob:
    """A keep_alive job we submitted and what RunPod last said about it."""

    id: str
    status: str  # IN_QUEUE or IN_PROGRESS (finished jobs are dropped before planning)
    low_priority: bool
    ends_at: datetime | None  # known once it runs: start + duration


@dataclass(frozen=True)
class KeepAlivePlan:
    cancel: tuple[str, ...] = ()
    submit_normal: int = 0  # jobs that may start a worker of their own
    submit_low: int = 0  # successors that wait for a worker finishing its job (no scale-up)


def plan_keep_alive(
    jobs: Iterable[KeepAliveJob],
    *,
    desired: int,
    now: datetime,
    interval: timedelta,
    other_busy: int = 0,
) -> KeepAlivePlan:
    """Keep `desired` workers busy-warm with bounded keep_alive jobs until the next tick.

    A running job that ends before the next tick gets a successor now, sent as low priority
    (runpod.md §1.3: it never starts a worker) so that the same worker picks it up the moment it
    is free — no gap for the idle timeout, no extra worker. So at most `desired` jobs run and at
    most `desired` successors wait. `other_busy` counts our other jobs that keep a worker busy
    and can be chained onto the same way: a warm-up, or a generation that took the worker of a
    keep_alive job cancelled for it (keep_alive_jobs_to_yield). Such a worker counts as warm, like
    a busy worker under workers.min, so its replacement waits for it at low priority instead of
    starting a cold worker while the generation runs.
    """
    jobs = list(jobs)
    if desired <= 0:
        return KeepAlivePlan(cancel=tuple(job.id for job in jobs))
    running = [job for job in jobs if job.status == "IN_PROGRESS"]
    queued = [job for job in jobs if job.status != "IN_PROGRESS"]
    next_tick = now + interval
    ending = sum(1 for job in running if job.ends_at is not None and job.ends_at <= next_tick)
    followable = ending + other_busy  # busy workers that will be free before the next tick

    cancel: list[str] = []
    waiting_low = [job for job in queued if job.low_priority]
    # Low-priority successors with no busy worker to follow would never start: replace them.
    cancel.extend(job.id for job in waiting_low[followable:])
    waiting_low = waiting_low[:followable]
    waiting_normal = [job for job in queued if not job.low_priority]
    covering = (len(running) - ending) + len(waiting_low) + len(waiting_normal)
    # More cover than wanted (the count went down): drop waiting jobs.
    surplus = [*waiting_normal, *waiting_low][: max(0, covering - desired)]
    cancel.extend(job.id for job in surplus)
    covering -= len(surplus)
    waiting_low = [job for job in waiting_low if job not in surplus]
    need = max(0, desired - covering)
    low = min(need, max(0, followable - len(waiting_low)))
    return KeepAlivePlan(cancel=tuple(cancel), submit_normal=need - low, submit_low=low)


def keep_alive_jobs_to_yield(
    jobs: Iterable[KeepAliveJob], *, idle_workers: int, generation_status: str
) -> list[KeepAliveJob]:
    """The running keep_alive jobs whose worker a just-submitted generation may take, best first:
    the one that would run longest (one about to end frees its worker soon anyway). Empty while
    the generation can start without: `idle_workers` (from /health, read first) is above 0, or
    `generation_status` (read after it) is no longer IN_QUEUE.

    Each condition alone would cancel for nothing: an idle worker takes a new job a moment after
    /run, so the generation may still read IN_QUEUE; and once it has taken it, /health counts
    that worker as running, so `idle_workers` reads 0.
    """
    if idle_workers > 0 or generation_status != "IN_QUEUE":
        return []
    running = [job for job in jobs if job.status == "IN_PROGRESS"]
    far = datetime.max.replace(tzinfo=UTC)  # end unknown: counts as running longest
    return sorted(running, key=lambda job: job.ends_at or far, reverse=True)
