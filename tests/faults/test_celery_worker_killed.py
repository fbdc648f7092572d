"""SIGKILL the Celery worker while 50 generations are in flight, then start it again.

Celery acknowledges late, but a SIGKILLed worker's reserved and scheduled messages stay unacked in
Redis until the broker's visibility timeout (an hour): the reconciler on the beat is what brings
them back, from the database, which knows every generation's state.
"""

from __future__ import annotations

import time

import pytest

from dashboard.generations.models import FINAL_STATUSES, Generation, Status
from tests.faults.conftest import api_for
from tests.faults.ledger import take_ledger, wait_all_final
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

GENERATIONS = 50
RECOVERY = {
    "RECONCILE_INTERVAL_SECONDS": "2",
    "GENERATION_STALE_SECONDS": "2",
    "GENERATION_SUBMIT_CLAIM_SECONDS": "3",
    "GENERATION_POLL_SCHEDULE": "0.25,0.5,1",
}


def _kill_and_restart(dashboard, team, started: float) -> dict:
    """SIGKILL the worker, note where every generation stood, start a new worker."""
    dashboard.kill_worker()
    after = round(time.monotonic() - started, 2)
    at_kill = list(Generation.objects.filter(team=team))
    dashboard.start_worker()
    return {
        "after_s": after,
        "final": sum(g.status in FINAL_STATUSES for g in at_kill),
        "at_runpod": sum(bool(g.runpod_job_id) and not g.is_final for g in at_kill),
        "not_yet_submitted": sum(not g.runpod_job_id for g in at_kill),
        # A submit the kill interrupted may have reached RunPod, its answer never recorded.
        "submit_in_flight": sorted(
            g.pk for g in at_kill if g.submit_claimed_at is not None and not g.runpod_job_id
        ),
    }


def test_sigkilled_worker_loses_no_generation_and_stores_each_image_once(
    cloud, start_dashboard, team_on_cloud, report
):
    # Polling only (no webhook): every step after the API call goes through Celery.
    dashboard = start_dashboard(webhooks=False, beat=True, settings=RECOVERY)
    api = api_for(dashboard, team_on_cloud)
    team = team_on_cloud["team"]
    generations = Generation.objects.filter(team=team)
    started = time.monotonic()
    ids = api.burst(GENERATIONS, label="sigkill", width=512, height=512, images=2)
    # First while submits are going out, then while images are being stored.
    wait_until(
        lambda: generations.exclude(runpod_job_id="").count() >= 10,
        timeout=60,
        interval=0.02,
        what="the first part of the burst to reach RunPod",
    )
    kills = [_kill_and_restart(dashboard, team, started)]
    wait_until(
        lambda: generations.filter(status=Status.SUCCEEDED).count() >= 20,
        timeout=120,
        interval=0.02,
        what="the first images of the burst to be stored",
    )
    kills.append(_kill_and_restart(dashboard, team, started))
    seconds = wait_all_final(team, since=started, timeout=180)

    ledger = take_ledger(team, dashboard.media_root, cloud)
    report(
        **ledger.figures(),
        kills=kills,
        duplicates=ledger.duplicates,
        time_to_all_final_s=seconds,
    )
    assert ledger.generations == len(ids) == GENERATIONS
    assert ledger.statuses == {Status.SUCCEEDED: GENERATIONS}, ledger.errors
    ledger.assert_each_image_stored_once()
    assert all(jobs >= 1 for jobs in ledger.jobs_per_generation.values())
    # Run twice only where a kill cut a submit between RunPod's answer and our commit.
    interrupted = {gid for kill in kills for gid in kill["submit_in_flight"]}
    assert set(ledger.duplicates) <= interrupted
    assert all(jobs == 2 for jobs in ledger.duplicates.values())
