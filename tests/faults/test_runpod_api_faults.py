"""A flaky RunPod API: a fifth of all calls answer 429, 502 or 503 or hang until the connection is
closed, and some `run` answers are lost after RunPod queued the job.

Our client retries 429/5xx with backoff (urllib3, honouring Retry-After) but never re-sends a
`run` whose connection broke after the request went out; that submit is tried again later by
Celery, with its own backoff, and may create a second job at RunPod: RunPod has no idempotency
key. Whichever of the two jobs reports first completes the generation; the other is ignored.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

import pytest

from dashboard.generations.models import Generation, Status
from tests.faults.conftest import api_for
from tests.faults.ledger import take_ledger, wait_all_final
from tests.faults.request_log import fault_counts, gaps_after, read_calls

pytestmark = pytest.mark.slow

GENERATIONS = 100
RUNPOD_RETRIES = 4  # the settings' default: attempts per call = retries + 1
MAX_SUBMITS = 5
FAULTS = {
    "fault_rate": 0.2,
    "fault_statuses": [429, 502, 503, "timeout"],
    "fault_timeout": 2,
    "drop_rate": 0.1,
}
SETTINGS = {
    "RUNPOD_RETRIES": str(RUNPOD_RETRIES),
    "RUNPOD_TIMEOUT_SECONDS": "5",
    "GENERATION_SUBMIT_MAX_ATTEMPTS": str(MAX_SUBMITS),
    # Polls race the webhooks: enough status calls that each kind of fault hits some.
    "GENERATION_POLL_SCHEDULE": "0.25,0.5,1",
}


def test_every_generation_finishes_through_a_flaky_runpod_api(
    cloud, start_dashboard, team_on_cloud, report
):
    dashboard = start_dashboard(webhooks=True, settings=SETTINGS)
    api = api_for(dashboard, team_on_cloud)
    team = team_on_cloud["team"]
    log_start = len(cloud.runpod.log())
    cloud.faults(**FAULTS)
    started = time.monotonic()
    api.burst(GENERATIONS, label="flaky")
    seconds = wait_all_final(team, since=started, timeout=180)
    cloud.faults(fault_rate=0, drop_rate=0)

    answered, faults = read_calls(cloud.runpod.log()[log_start:])
    ledger = take_ledger(team, dashboard.media_root, cloud)
    attempts = Counter(
        Generation.objects.filter(team=team).values_list("submit_attempts", flat=True)
    )
    run_calls = [call for call in answered if call.route == "run"]
    status_calls = [call for call in answered if call.route == "status"]
    dropped = fault_counts(faults, "run").get("answer dropped", 0)
    after_429 = gaps_after(status_calls, "429")
    after_5xx = gaps_after(status_calls, "502") + gaps_after(status_calls, "503")
    report(
        **ledger.figures(),
        run_calls=len(run_calls),
        run_faults=fault_counts(faults, "run"),
        status_calls=len(status_calls),
        status_faults=fault_counts(faults, "status"),
        submit_attempts_histogram=dict(sorted(attempts.items())),
        status_retry_gap_after_429_min_s=min(after_429, default=None),
        status_retry_gap_after_5xx_median_s=(statistics.median(after_5xx) if after_5xx else None),
        run_answers_dropped=dropped,
        # A dropped answer's job runs anyway; it is a second job only if the generation was sent
        # again before that first job's webhook completed it.
        second_jobs=ledger.runpod_jobs - GENERATIONS,
        duplicates=ledger.duplicates,
        time_to_all_final_s=seconds,
    )
    assert ledger.statuses == {Status.SUCCEEDED: GENERATIONS}, ledger.errors
    ledger.assert_each_image_stored_once()
    # Bounded: Celery submits at most MAX_SUBMITS times, each a run call tried at most 5 times.
    assert ledger.max_submit_attempts <= MAX_SUBMITS
    submits = sum(count * times for times, count in attempts.items())
    assert len(run_calls) <= submits * (RUNPOD_RETRIES + 1)
    # Backed off: a 429 carries Retry-After: 1, and the client waits it out before the retry.
    assert after_429, "no 429 was injected on a status call"
    assert min(after_429) >= 0.9
    # Every second job of a generation comes from a `run` answer RunPod sent but we never got.
    assert ledger.runpod_jobs - GENERATIONS <= dropped
