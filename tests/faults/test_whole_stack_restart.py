"""The database is the source of truth: SIGKILL every process of ours (web, Celery worker, beat,
Redis) in the middle of a burst, start them again, and count that nothing is lost.

RunPod's queue is RunPod's and keeps running meanwhile; its webhooks find no web server (RunPod
tries three times) and the reconciler picks those generations up by polling. The client keeps
sending its burst through the outage, retrying what got no answer, as a script would.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from dashboard.generations.models import FINAL_STATUSES, Generation, Status
from tests.faults.conftest import api_for
from tests.faults.ledger import take_ledger, wait_all_final
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

GENERATIONS = 50
CLIENTS = 2
RECOVERY = {
    "RECONCILE_INTERVAL_SECONDS": "2",
    "GENERATION_STALE_SECONDS": "2",
    "GENERATION_SUBMIT_CLAIM_SECONDS": "3",
    "GENERATION_POLL_SCHEDULE": "0.25,0.5,1",
}


class BurstClient:
    """CLIENTS threads sending GENERATIONS generations; a call without an answer is sent again."""

    def __init__(self, api):
        self.api = api
        self.run = uuid.uuid4().hex[:6]
        self.acknowledged: list[int] = []
        self.unanswered = Counter()
        self.threads = [
            threading.Thread(target=self._send, args=(offset,), daemon=True)
            for offset in range(CLIENTS)
        ]

    def start(self) -> BurstClient:
        for thread in self.threads:
            thread.start()
        return self

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _send(self, offset: int) -> None:
        for index in range(offset, GENERATIONS, CLIENTS):
            while True:
                try:
                    created = self.api.generate(f"restart {self.run} #{index}", seed=index)
                except requests.RequestException as error:
                    self.unanswered[type(error).__name__] += 1
                    time.sleep(0.2)
                    continue
                self.acknowledged.append(created["id"])
                break


def test_restarting_every_process_mid_burst_loses_nothing(
    cloud, start_dashboard, team_on_cloud, report
):
    dashboard = start_dashboard(webhooks=True, beat=True, settings=RECOVERY)
    team = team_on_cloud["team"]
    started = time.monotonic()
    client = BurstClient(api_for(dashboard, team_on_cloud)).start()
    wait_until(
        lambda: len(client.acknowledged) >= 15,
        timeout=60,
        interval=0.01,
        what="a third of the burst to be acknowledged",
    )
    dashboard.kill_all()
    at_kill = list(Generation.objects.filter(team=team))
    down = time.monotonic()
    dashboard.start()
    downtime = round(time.monotonic() - down, 2)
    client.join(timeout=120)
    seconds = wait_all_final(team, since=started, timeout=180)

    ledger = take_ledger(team, dashboard.media_root, cloud)
    in_flight_submits = {
        g.pk for g in at_kill if g.submit_claimed_at is not None and not g.runpod_job_id
    }
    report(
        **ledger.figures(),
        acknowledged=len(client.acknowledged),
        created_without_answer=ledger.generations - len(client.acknowledged),
        calls_without_answer=dict(client.unanswered),
        at_kill={
            "rows": len(at_kill),
            "final": sum(g.status in FINAL_STATUSES for g in at_kill),
            "at_runpod": sum(bool(g.runpod_job_id) and not g.is_final for g in at_kill),
            "not_yet_submitted": sum(not g.runpod_job_id for g in at_kill),
            "submit_in_flight": sorted(in_flight_submits),
        },
        restart_took_s=downtime,
        duplicates=ledger.duplicates,
        time_to_all_final_s=seconds,
    )
    assert len(client.acknowledged) == GENERATIONS
    assert sum(client.unanswered.values()) > 0  # the outage really was in the middle of the burst
    # Every generation the API acknowledged exists, and every row (a call whose answer the
    # outage swallowed may still have created one) ends succeeded with its image stored once.
    assert set(client.acknowledged) <= set(
        Generation.objects.filter(team=team).values_list("pk", flat=True)
    )
    assert ledger.statuses == {Status.SUCCEEDED: ledger.generations}, ledger.errors
    ledger.assert_each_image_stored_once()
    assert set(ledger.duplicates) <= in_flight_submits
