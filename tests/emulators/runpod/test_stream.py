"""/stream/{id} with a generator worker (reference §1.2, §3.1 `return_aggregate_stream`, §3.2)."""

from __future__ import annotations

import pytest

from tests.emulators.runpod.helpers import (
    FINAL_STATES,
    JOB_DEADLINE,
    ONE_WARM_WORKER,
    STREAM_WORKER_ENV,
)
from tests.support.processes import wait_until


@pytest.fixture(scope="module")
def endpoint(start_module_runpod):
    return start_module_runpod(*ONE_WARM_WORKER, env=STREAM_WORKER_ENV)


def stream_polls(api, job_id: str) -> list[list]:
    """The `stream` list of every /stream poll, until the job is final and nothing is left
    (the same stop rule as the SDK's `Job.stream()`)."""
    polls: list[list] = []

    def poll_until_drained() -> bool:
        response = api.call("GET", f"stream/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body["stream"], list), body  # the SDK reads `len(body["stream"])`
        polls.append(body["stream"])
        return body["status"] in FINAL_STATES and not body["stream"]

    wait_until(poll_until_drained, timeout=JOB_DEADLINE, interval=0.1, what="stream to drain")
    return polls


def test_stream_hands_out_every_chunk_exactly_once_in_order(api):
    job_id = api.submit({"stream": 5, "interval": 0.3})

    chunks = [chunk for poll in stream_polls(api, job_id) for chunk in poll]

    assert chunks == [{"output": {"chunk": index}} for index in range(5)]


def test_stream_poll_returns_only_the_chunks_since_the_last_poll(api):
    job_id = api.submit({"stream": 5, "interval": 0.3})

    non_empty = [poll for poll in stream_polls(api, job_id) if poll]

    assert len(non_empty) > 1  # chunks arrived while the job ran, not all at once at the end


def test_streamed_job_final_output_aggregates_every_chunk(api):
    job = api.run_to_end({"stream": 3, "interval": 0.05})

    assert job["status"] == "COMPLETED"
    assert job["output"] == [{"chunk": index} for index in range(3)]
