"""Warm pools against the RunPod emulator (real worker, real SwarmUI emulator) over HTTP.

"Now" is passed into the services: Monday 2026-12-07 10:00 in Berlin, inside the office window.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard.fleet.models import WarmMode, WarmSchedule, WarmState, WarmupRun
from dashboard.fleet.runpod_client import RunPodClient
from dashboard.fleet.warm_services import (
    APPLY_ONE_TASK,
    WarmupStatus,
    cool_down,
    keep_warm,
    schedule_create,
    schedule_update,
    warm_pool_apply,
    warm_pool_status,
    warmup_refresh,
    warmup_start,
)
from tests.dashboard import factories
from tests.dashboard.stack import start_stack
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

COLD_START = 3  # seconds a new emulated worker spends initializing
FULL_KEY, READ_ONLY_KEY = "local-dev-key", "read-only-key"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday, 10:00 in Berlin
CLOSED = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # Monday, 18:00 in Berlin
OFFICE = {"weekdays": [0, 1, 2, 3, 4], "start_time": "09:00", "end_time": "18:00"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("warm-cloud"),
        runpod_flags=(
            *("--readonly-api-key", READ_ONLY_KEY),
            *("--cold-start", str(COLD_START)),
            *("--idle-timeout", "1", "--workers-max", "3"),
        ),
    )
    yield stack
    stack.stop()


class Cloud:
    """The emulated endpoint as its owner (full key) and as a test reading its log sees it."""

    def __init__(self, stack):
        self.stack = stack
        self.admin = RunPodClient(
            endpoint_id="local",
            api_key=FULL_KEY,
            api_base=stack.api_base,
            rest_base=stack.api_base,
            retries=0,
        )

    def workers_min(self) -> int:
        return self.admin.get_endpoint()["workers"]["min"]

    def set_min(self, value: int) -> None:
        self.admin.update_endpoint({"workers": {"min": value}})

    def state(self) -> dict:
        url = f"{self.stack.runpod.base_url}/emulator/state"
        return requests.get(url, timeout=5).json()

    def job(self, job_id: str) -> dict:
        return next(job for job in self.state()["jobs"] if job["id"] == job_id)

    def log(self) -> str:
        """The emulator's log up to now: a marker request is sent and waited for, so every
        earlier request's line has been written."""
        marker = f"marker-{uuid.uuid4().hex}"
        requests.get(
            f"{self.stack.api_base}/local/status/{marker}",
            headers={"Authorization": f"Bearer {FULL_KEY}"},
            timeout=5,
        )
        text = wait_until(
            lambda: (text := self.stack.runpod.log()) and marker in text and text,
            timeout=10,
            what="the emulator's log to catch up",
        )
        return text[: text.index(marker)]

    def successful_patches(self) -> int:
        return len(re.findall(r'"PATCH /v2/serverless/local HTTP/1.1" 200', self.log()))

    def api_calls(self) -> int:
        """Calls on the job or management API so far (markers and workers' own polls excluded)."""
        calls = re.findall(r'"(?:GET|POST|PATCH) /v2/\S+', self.log())
        return sum(1 for call in calls if "marker-" not in call)

    def workers_started(self) -> int:
        return len(re.findall(r"worker \w+ started \(pid", self.log()))

    def idle_worker(self) -> str:
        def idle():
            workers = [w for w in self.state()["workers"] if w["status"] == "IDLE"]
            return workers[0]["id"] if workers else None

        return wait_until(idle, timeout=60, interval=0.1, what="an idle worker")

    def reset(self) -> None:
        self.stack.reset()
        for job in self.state()["jobs"]:
            if job["status"] in ("IN_QUEUE", "IN_PROGRESS"):
                self.admin.cancel(job["id"])
        self.set_min(0)
        for worker in self.state()["workers"]:  # faster than their idle timeout and SIGTERM
            requests.post(
                f"{self.stack.runpod.base_url}/emulator/workers/{worker['id']}/kill", timeout=15
            )
        wait_until(
            lambda: not self.state()["workers"], timeout=60, interval=0.1, what="no workers left"
        )


@pytest.fixture
def emulator(cloud):
    helper = Cloud(cloud)
    helper.reset()
    return helper


@pytest.fixture
def berlin(team):
    team.time_zone = "Europe/Berlin"
    team.save()
    return team


def make_endpoint(team, emulator, api_key=FULL_KEY):
    return factories.make_endpoint(
        team,
        api_key=api_key,
        api_base_url=emulator.stack.api_base,
        gpu_price_per_second="0.00031",
    )


def finished_warmup(run: WarmupRun) -> WarmupRun:
    return wait_until(
        lambda: (r := warmup_refresh(run_id=run.pk)).status not in WarmupStatus.ACTIVE and r,
        timeout=60,
        interval=0.2,
        what="the warm-up to finish",
    )


# --- windows open and close ---------------------------------------------------------------------


def test_window_opening_sets_min_workers_and_the_next_job_starts_warm(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)
    schedule_create(endpoint=endpoint, by=owner, name="office", warm_workers=1, **OFFICE)
    started_before = emulator.workers_started()

    outcome = warm_pool_apply(endpoint=endpoint, now=NOW)

    assert (outcome.mode, outcome.desired, outcome.patched_to, outcome.error) == (
        WarmMode.MIN_WORKERS,
        1,
        1,
        "",
    )
    assert emulator.workers_min() == 1
    state = WarmState.objects.get(endpoint=endpoint)
    assert (state.applied_min, state.baseline_min, state.desired_workers) == (1, 0, 1)
    assert outcome.warmup is not None
    assert outcome.warmup.trigger == "window"
    assert finished_warmup(outcome.warmup).status == WarmupStatus.SUCCEEDED

    warm_worker = emulator.idle_worker()
    job = emulator.admin.runsync({"action": "health"}, wait_ms=60_000)
    assert job["status"] == "COMPLETED"
    assert job["workerId"] == warm_worker
    assert job["delayTime"] < COLD_START * 1000
    assert emulator.workers_started() == started_before + 1

    warm_pool_apply(endpoint=endpoint, now=NOW)
    status = warm_pool_status(endpoint=endpoint, now=NOW)
    assert status.phase == "warm"
    assert status.headline == "Warm: 1 of 1 ready"


def test_window_closing_restores_the_value_from_before(owner, berlin, emulator):
    emulator.set_min(1)
    endpoint = make_endpoint(berlin, emulator)
    schedule_create(endpoint=endpoint, by=owner, warm_workers=2, **OFFICE)

    assert warm_pool_apply(endpoint=endpoint, now=NOW).patched_to == 2
    assert emulator.workers_min() == 2

    closing = warm_pool_apply(endpoint=endpoint, now=CLOSED)
    assert (closing.desired, closing.patched_to) == (0, 1)
    assert emulator.workers_min() == 1
    state = WarmState.objects.get(endpoint=endpoint)
    assert (state.applied_min, state.baseline_min, state.notice) == (None, None, "")
    assert warm_pool_status(endpoint=endpoint, now=CLOSED).phase == "cold"


def test_running_twice_or_after_a_restart_never_applies_twice(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)
    schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    patches = emulator.successful_patches()

    warm_pool_apply(endpoint=endpoint, now=NOW)
    warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(minutes=1))
    # A restarted beat: nothing in memory, only the database.
    fresh = type(endpoint).objects.select_related("team").get(pk=endpoint.pk)
    assert warm_pool_apply(endpoint=fresh, now=NOW + timedelta(minutes=2)).patched_to is None
    assert emulator.successful_patches() == patches + 1
    assert WarmupRun.objects.filter(endpoint=endpoint).count() == 1

    # A PATCH that never landed (the process died before sending it): sent again, and the
    # baseline stays the value from before the window, not the one we wanted.
    emulator.set_min(0)
    assert warm_pool_apply(endpoint=fresh, now=NOW + timedelta(minutes=3)).patched_to == 1
    state = WarmState.objects.get(endpoint=endpoint)
    assert (state.applied_min, state.baseline_min) == (1, 0)

    assert warm_pool_apply(endpoint=fresh, now=CLOSED).patched_to == 0
    assert warm_pool_apply(endpoint=fresh, now=CLOSED).patched_to is None
    assert emulator.workers_min() == 0


def test_a_min_changed_outside_swarmdeck_is_left_alone_and_said(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)
    schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    warm_pool_apply(endpoint=endpoint, now=NOW)
    emulator.set_min(2)  # someone raised it in RunPod's console
    patches = emulator.successful_patches()

    assert warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(hours=1)).patched_to is None
    closing = warm_pool_apply(endpoint=endpoint, now=CLOSED)

    assert closing.patched_to is None
    assert emulator.successful_patches() == patches
    assert emulator.workers_min() == 2
    notice = WarmState.objects.get(endpoint=endpoint).notice
    assert "changed outside SwarmDeck" in notice
    assert "restoring 0" in notice
    assert warm_pool_status(endpoint=endpoint, now=CLOSED).notice == notice


# --- keep-alive mode ----------------------------------------------------------------------------


def test_read_only_key_falls_back_to_keep_alive_jobs_that_keep_one_worker_warm(
    owner, berlin, emulator, settings
):
    settings.WARM_POOL_INTERVAL_SECONDS = 4
    settings.WARM_KEEP_ALIVE_MARGIN_SECONDS = 2  # keep_alive jobs of 6 s
    endpoint = make_endpoint(berlin, emulator, api_key=READ_ONLY_KEY)
    schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    started_before = emulator.workers_started()

    outcome = warm_pool_apply(endpoint=endpoint, now=NOW)

    assert outcome.mode == WarmMode.KEEP_ALIVE
    assert outcome.warmup is not None
    assert outcome.keep_alive_submitted == 1
    state = WarmState.objects.get(endpoint=endpoint)
    assert state.management_forbidden_at == NOW
    [first] = state.keep_alive_jobs
    assert first["duration"] == 6
    status = warm_pool_status(endpoint=endpoint, now=NOW)
    assert status.phase == "keep_alive"
    assert "403" in status.explanation

    # The warm-up boots a worker; the keep-alive job (low priority) follows it on that worker.
    running = wait_until(
        lambda: (job := emulator.job(first["id"]))["status"] == "IN_PROGRESS" and job,
        timeout=60,
        interval=0.1,
        what="the keep-alive job to run",
    )
    worker = running["workerId"]
    assert emulator.job(outcome.warmup.runpod_job_id)["workerId"] == worker
    assert emulator.job(first["id"])["input"]["action"] == "keep_alive"

    # The next tick comes when the job has 3 s left: a successor waits for the same worker.
    ends = NOW + timedelta(milliseconds=running["delayTime"], seconds=6)
    tick = warm_pool_apply(endpoint=endpoint, now=ends - timedelta(seconds=3))
    assert (tick.keep_alive_submitted, tick.keep_alive_cancelled) == (1, 0)
    second = WarmState.objects.get(endpoint=endpoint).keep_alive_jobs[-1]
    assert second["low"] is True
    successor = wait_until(
        lambda: (job := emulator.job(second["id"]))["status"] == "IN_PROGRESS" and job,
        timeout=30,
        interval=0.1,
        what="the successor to run",
    )
    assert successor["workerId"] == worker
    assert emulator.job(first["id"])["status"] == "COMPLETED"
    assert emulator.workers_started() == started_before + 1
    assert emulator.workers_min() == 0  # the read-only key changed nothing

    cooled = cool_down(endpoint=endpoint, by=owner, now=ends)
    assert cooled.keep_alive_cancelled == 1
    assert WarmState.objects.get(endpoint=endpoint).keep_alive_jobs == []
    wait_until(
        lambda: emulator.job(second["id"])["status"] == "CANCELLED",
        timeout=10,
        what="the keep-alive job to be cancelled",
    )


# --- keep warm, cool down, warm up ---------------------------------------------------------------


def test_keep_warm_for_n_minutes_then_restore(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)

    outcome = keep_warm(endpoint=endpoint, by=owner, minutes=30, workers=1, now=NOW)

    assert (outcome.desired, outcome.patched_to) == (1, 1)
    assert outcome.warmup is not None
    assert outcome.warmup.trigger == "keep_warm"
    assert emulator.workers_min() == 1
    assert warm_pool_status(endpoint=endpoint, now=NOW).keep_warm_until == NOW + timedelta(
        minutes=30
    )
    after = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(minutes=30))
    assert (after.desired, after.patched_to) == (0, 0)
    assert emulator.workers_min() == 0


def test_cool_down_stays_cold_until_the_window_closes(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)
    schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    warm_pool_apply(endpoint=endpoint, now=NOW)
    assert emulator.workers_min() == 1

    cooled = cool_down(endpoint=endpoint, by=owner, now=NOW)

    assert (cooled.desired, cooled.patched_to) == (0, 0)
    assert emulator.workers_min() == 0
    assert WarmState.objects.get(endpoint=endpoint).keep_warm_until == CLOSED
    assert warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(hours=2)).patched_to is None
    assert warm_pool_status(endpoint=endpoint, now=NOW).phase == "cooled_down"
    tomorrow = warm_pool_apply(endpoint=endpoint, now=NOW + timedelta(days=1))
    assert tomorrow.patched_to == 1


def test_warm_up_records_how_long_the_model_took_to_load(owner, berlin, emulator):
    endpoint = make_endpoint(berlin, emulator)

    run = warmup_start(endpoint=endpoint, by=owner)
    again = warmup_start(endpoint=endpoint, by=owner)

    assert again.pk == run.pk  # one at a time
    assert emulator.job(run.runpod_job_id)["input"] == {
        "action": "warmup",
        "model": endpoint.default_model,
        "width": 256,
        "height": 256,
        "steps": 1,
    }
    done = finished_warmup(run)
    assert done.status == WarmupStatus.SUCCEEDED, done.error
    assert done.load_seconds is not None
    assert done.load_seconds >= 0
    assert done.delay_ms is not None
    assert "sd_xl_base_1.0" in done.model
    assert done.finished_at is not None


# --- bad input: clear errors, nothing sent to RunPod ---------------------------------------------


@pytest.fixture
def quiet(emulator, sent_tasks):
    """Asserts, after the test, that RunPod got no call and no apply was queued."""
    minimum = emulator.workers_min()
    calls = emulator.api_calls()
    sent_tasks.drain()
    yield
    assert emulator.api_calls() == calls
    assert emulator.workers_min() == minimum
    assert APPLY_ONE_TASK not in sent_tasks.names()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"start_time": "18:00", "end_time": "09:00"}, "end_time", "two schedules"),
        ({"start_time": "09:00", "end_time": "09:00"}, "end_time", "empty"),
        ({"weekdays": []}, "weekdays", "at least one weekday"),
        ({"warm_workers": -1}, "warm_workers", "at least 1"),
        ({"warm_workers": 500}, "warm_workers", "At most 10"),
        ({"start_time": "nine"}, "start_time", "start time"),
    ],
)
def test_bad_windows_are_refused_with_field_errors(
    owner, berlin, emulator, quiet, fields, field, words
):
    endpoint = make_endpoint(berlin, emulator)
    with pytest.raises(ValidationError) as refused:
        schedule_create(endpoint=endpoint, by=owner, **{**OFFICE, **fields})
    assert words in " ".join(refused.value.message_dict[field])
    assert not WarmSchedule.objects.exists()


def test_overlapping_windows_are_refused(owner, berlin, emulator, quiet):
    endpoint = make_endpoint(berlin, emulator)
    WarmSchedule.objects.create(
        endpoint=endpoint, name="office", weekdays=[0, 1], start_time="09:00", end_time="18:00"
    )
    with pytest.raises(ValidationError) as refused:
        schedule_create(
            endpoint=endpoint, by=owner, weekdays=[1], start_time="17:00", end_time="20:00"
        )
    assert "overlaps the schedule 'office'" in refused.value.message_dict["start_time"][0]
    # A disabled window may overlap; enabling it is refused.
    evening = WarmSchedule.objects.create(
        endpoint=endpoint, weekdays=[0], start_time="17:30", end_time="19:00", enabled=False
    )
    with pytest.raises(ValidationError):
        schedule_update(schedule=evening, by=owner, enabled=True)
    assert WarmSchedule.objects.filter(enabled=True).count() == 1


def test_unknown_team_time_zone_is_refused_and_pauses_the_pool(owner, team, emulator, quiet):
    team.time_zone = "Mars/Olympus_Mons"
    team.save()
    endpoint = make_endpoint(team, emulator)
    with pytest.raises(ValidationError) as refused:
        schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    assert "Unknown time zone 'Mars/Olympus_Mons'" in refused.value.message_dict["time_zone"][0]
    outcome = warm_pool_apply(endpoint=endpoint, now=NOW)
    assert "Unknown time zone" in outcome.error
    assert warm_pool_status(endpoint=endpoint, now=NOW).phase == "paused"


def test_members_cannot_edit_schedules_or_press_the_buttons(member, berlin, emulator, quiet):
    endpoint = make_endpoint(berlin, emulator)
    schedule = WarmSchedule.objects.create(
        endpoint=endpoint, weekdays=[0], start_time="09:00", end_time="10:00"
    )
    with pytest.raises(PermissionDenied):
        schedule_create(endpoint=endpoint, by=member, **OFFICE)
    with pytest.raises(PermissionDenied):
        schedule_update(schedule=schedule, by=member, warm_workers=3)
    with pytest.raises(PermissionDenied):
        keep_warm(endpoint=endpoint, by=member, minutes=30, now=NOW)
    with pytest.raises(PermissionDenied):
        cool_down(endpoint=endpoint, by=member, now=NOW)
    with pytest.raises(PermissionDenied):
        warmup_start(endpoint=endpoint, by=member)
    schedule.refresh_from_db()
    assert schedule.warm_workers == 1
    assert not WarmupRun.objects.exists()


@pytest.mark.parametrize(
    ("minutes", "workers", "field"),
    [(0, 1, "minutes"), (-5, 1, "minutes"), (100_000, 1, "minutes"), (30, 0, "workers")],
)
def test_bad_keep_warm_is_refused(owner, berlin, emulator, quiet, minutes, workers, field):
    endpoint = make_endpoint(berlin, emulator)
    with pytest.raises(ValidationError) as refused:
        keep_warm(endpoint=endpoint, by=owner, minutes=minutes, workers=workers, now=NOW)
    assert field in refused.value.message_dict
    assert not WarmState.objects.filter(keep_warm_until__isnull=False).exists()


def test_a_valid_schedule_change_wakes_the_apply_task(
    owner, berlin, emulator, sent_tasks, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(berlin, emulator)
    sent_tasks.drain()
    with django_capture_on_commit_callbacks(execute=True):
        schedule = schedule_create(endpoint=endpoint, by=owner, **OFFICE)
    assert [task.args for task in sent_tasks.drain() if task.name == APPLY_ONE_TASK] == [
        (endpoint.pk,)
    ]
    assert (schedule.weekdays, f"{schedule.start_time:%H:%M}") == ([0, 1, 2, 3, 4], "09:00")
