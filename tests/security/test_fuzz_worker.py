"""Fuzzing the GPU worker's handler with hypothesis: any job input — arbitrary JSON, or an action
with its fields given arbitrary values — yields a JSON-serialisable result or `{"error": str}`,
never an exception (not even one the handler's catch-all turns into "internal worker error"),
and the same worker then serves a normal job.

The real handler runs in-process against the SwarmUI emulator (as tests/worker/ do). Only sizes
and durations are tamed (a valid 16384² image or a 60 s keep-alive would only make the run slow):
every type and every other value is left to hypothesis.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.emulators import started_servers, swarmui_server
from tests.worker.conftest import ProgressRecorder, run_job, worker_config
from worker.contract import ACTIONS
from worker.handler import Worker

pytestmark = pytest.mark.slow

EXAMPLES = 400
SEEN = {"examples": 0, "errors": 0, "results": 0}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["", "..", "../../etc/passwd", "/abs", "http://127.0.0.1:1/x", "true"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def field_names(action: str) -> list[str]:
    model = ACTIONS[action]
    names = set(model.model_fields) - {"action"}
    names |= {f.alias for f in model.model_fields.values() if f.alias}
    return sorted(names)


def action_inputs(action: str):
    """`{"action": action, ...}` with any subset of its fields, each given any value."""
    values = json_values | st.integers(min_value=-2, max_value=600)
    return st.fixed_dictionaries(
        {"action": st.just(action)}, optional={name: values for name in field_names(action)}
    )


job_inputs = (
    json_values
    | st.sampled_from(sorted(ACTIONS)).flatmap(action_inputs)
    | st.dictionaries(st.text(max_size=12), json_values, max_size=4)  # unknown flat keys
)

# Numbers above these are valid but slow (an image's pixels, seconds of keep-alive).
_CAPS = {"width": 128, "height": 128, "steps": 3, "images": 2, "depth": 3}
_SECONDS = {"duration", "duration_seconds", "interval", "interval_seconds"}


def tame(job_input: Any) -> Any:
    if not isinstance(job_input, dict):
        return job_input
    tamed = dict(job_input)
    for key, value in job_input.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key in _CAPS and value > _CAPS[key]:
            tamed[key] = _CAPS[key]
        elif key in _SECONDS and value > 1:
            tamed[key] = 1
    if tamed.get("action") == "keep_alive":
        tamed.setdefault("duration", 1)  # the default keeps a worker busy for a minute
    return tamed


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-worker")
    with started_servers(lambda: swarmui_server(root, "--step-delay", "0")) as start:
        swarmui = start()
        recorder = ProgressRecorder()
        yield Worker(worker_config(swarmui, generation_timeout=20), progress_sender=recorder.sender)


@given(job_input=job_inputs)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same inputs on every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_job_input_gives_a_result_or_an_error_string(worker, job_input):
    result = run_job(worker, tame(job_input))  # an exception escaping fails here
    SEEN["examples"] += 1
    assert isinstance(result, dict)
    json.dumps(result)  # RunPod must be able to send it back
    if "error" in result:
        SEEN["errors"] += 1
        assert isinstance(result["error"], str)
        assert result["error"]
        # the catch-all's wording: an exception nothing expected (a bug, even if contained)
        assert not result["error"].startswith("internal worker error"), result["error"]
    else:
        SEEN["results"] += 1


def test_the_worker_serves_a_normal_job_after_the_fuzzing(worker):
    result = run_job(worker, {"prompt": "after the storm", "steps": 2, "width": 64, "height": 64})
    print(json.dumps({"fuzz": "worker", **SEEN}))
    assert "error" not in result, result
    assert len(result["images"]) == 1
    assert SEEN["examples"] >= EXAMPLES
