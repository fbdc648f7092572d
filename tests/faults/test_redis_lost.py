"""Flush Redis and restart it empty while 50 generations are in flight.

Redis carries only wake-ups: the submit messages still queued, the polls the worker holds for
later and their unacked copies all vanish. The beat's reconciler finds every generation nothing
has looked at lately in the database and drives it again. "Within two reconcile intervals" is
counted in reconciler runs, from the worker's log: the first two runs after Redis is back do all
the re-driving, every later run finds nothing left to do.
"""

from __future__ import annotations

import ast
import re
import time

import pytest

from dashboard.generations.models import Generation, Status
from tests.faults.conftest import api_for
from tests.faults.ledger import take_ledger, wait_all_final
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

GENERATIONS = 50
RECONCILE_SECONDS = 3
RECOVERY = {
    "RECONCILE_INTERVAL_SECONDS": str(RECONCILE_SECONDS),
    # Longer than the longest gap between two polls of one job (the schedule's last value), so a
    # generation that is being followed is never stale.
    "GENERATION_STALE_SECONDS": "2",
    "GENERATION_SUBMIT_CLAIM_SECONDS": "3",
    "GENERATION_POLL_SCHEDULE": "0.25,0.5,1",
}
RECONCILE_DONE = re.compile(
    r"Task generations\.reconcile\[[^\]]+\] succeeded in [\d.e-]+s: (\{.*\})"
)


def reconcile_runs(log: str) -> list[dict[str, int]]:
    """What each finished reconciler run re-drove, in order, from a Celery worker's log."""
    return [ast.literal_eval(match) for match in RECONCILE_DONE.findall(log)]


def test_flushed_and_restarted_redis_is_recovered_within_two_reconcile_runs(
    cloud, start_dashboard, team_on_cloud, report
):
    # Polling only: without webhooks, losing Redis loses every wake-up of every generation.
    dashboard = start_dashboard(webhooks=False, beat=True, settings=RECOVERY)
    api = api_for(dashboard, team_on_cloud)
    team = team_on_cloud["team"]
    generations = Generation.objects.filter(team=team)
    started = time.monotonic()
    api.burst(GENERATIONS, label="redis-lost")
    wait_until(
        lambda: generations.exclude(runpod_job_id="").count() >= 10,
        timeout=60,
        interval=0.02,
        what="the first part of the burst to reach RunPod",
    )
    at_loss = {
        "final": generations.filter(status=Status.SUCCEEDED).count(),
        "at_runpod": generations.exclude(runpod_job_id="").exclude(status=Status.SUCCEEDED).count(),
        "not_yet_submitted": generations.filter(runpod_job_id="").count(),
    }
    log_before = len(dashboard.worker.log())
    dashboard.flush_redis()
    dashboard.restart_redis()
    back = time.monotonic()
    seconds = wait_all_final(team, since=back, timeout=120)
    # One more run after the last generation finished: it must find nothing to do either.
    wait_until(
        lambda: len(reconcile_runs(dashboard.worker.log()[log_before:])) >= 3,
        timeout=8 * RECONCILE_SECONDS,
        interval=0.2,
        what="three reconciler runs after Redis came back",
    )
    runs = reconcile_runs(dashboard.worker.log()[log_before:])

    ledger = take_ledger(team, dashboard.media_root, cloud)
    report(
        **ledger.figures(),
        at_loss=at_loss,
        reconcile_interval_s=RECONCILE_SECONDS,
        reconcile_runs_after_restart=runs,
        time_from_restart_to_all_final_s=seconds,
        time_from_burst_to_all_final_s=round(time.monotonic() - started, 2),
    )
    assert ledger.statuses == {Status.SUCCEEDED: GENERATIONS}, ledger.errors
    ledger.assert_each_image_stored_once()
    assert not ledger.duplicates
    # The queued submits died with Redis; only those the worker had already taken (a few, and a
    # few more sent between the count and the flush) went out without the reconciler.
    resubmitted = runs[0]["resubmitted"] + runs[1]["resubmitted"]
    assert resubmitted >= at_loss["not_yet_submitted"] - 2 * dashboard.worker_concurrency, runs
    assert all(run == {"resubmitted": 0, "polled": 0} for run in runs[2:]), runs
