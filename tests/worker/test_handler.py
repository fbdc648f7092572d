"""The async handler: bad input never raises, failures are strings, cancellation stops SwarmUI."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.support.processes import free_port, wait_until
from tests.worker.conftest import run_async, run_job, set_faults

BAD_INPUTS = [
    ({"action": "paint"}, "action: unknown action 'paint'"),
    ({"action": None}, "action: unknown action None"),
    ({"steps": "many"}, "steps: must be an integer"),
    ({"steps": 501}, "steps: must be between 1 and 500"),
    ({"width": -5}, "width: must be between 64 and 16384"),
    ({"images": []}, "images: must be an integer"),
    ({"action": "describe_model"}, "model_name: is required"),
    (
        {"action": "describe_model", "model_name": "../../etc/passwd"},
        "model_name: must not contain",
    ),
    ({"action": "delete_model", "model_name": "/abs/model"}, "model_name: must be a relative name"),
    ({"action": "list_models", "path": "../.."}, "path: must not contain"),
    ({"action": "download_model", "url": "file:///etc/passwd", "model_name": "x"}, "url: must be"),
    ({"action": "download_model", "url": "javascript:alert(1)", "model_name": "x"}, "url: must be"),
    ({"action": "edit_model_metadata", "model_name": "x", "metadata": "{}"}, "metadata: must be"),
    ({"action": "keep_alive", "duration_seconds": -1}, "duration_seconds: must be between"),
    ("{not json", "input: must be a JSON object"),
    (None, "input: must be a JSON object"),
]


@pytest.mark.parametrize(("job_input", "message"), BAD_INPUTS)
def test_bad_input_returns_an_error_string_naming_the_field(worker, job_input, message):
    result = run_job(worker, job_input)
    assert list(result) == ["error"]
    assert isinstance(result["error"], str)
    assert message in result["error"]


def test_the_worker_serves_the_next_job_after_bad_ones(worker):
    for job_input, _ in BAD_INPUTS:
        run_job(worker, job_input)
    assert run_job(worker, {"prompt": "still here", "steps": 1})["images"]


def test_a_job_without_input_is_an_error(worker):
    assert run_async(worker.handle({"id": "no-input"})) == {"error": "input: must be a JSON object"}


def test_an_unreachable_swarmui_is_an_error_after_the_startup_timeout(make_worker):
    worker = make_worker(
        swarmui_api_url=f"http://127.0.0.1:{free_port()}", startup_timeout=0.5, request_timeout=0.5
    )
    result = run_job(worker, {"prompt": "x"})
    assert result["error"].startswith("SwarmUI is unavailable: SwarmUI was not ready after 0.5s")


def test_a_dead_swarmui_process_asks_runpod_to_replace_the_worker(make_worker, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    pid_file = tmp_path / "swarmui.pid"
    pid_file.write_text(str(process.pid))
    worker = make_worker(
        swarmui_api_url=f"http://127.0.0.1:{free_port()}", swarmui_pid_file=pid_file
    )
    result = run_job(worker, {"prompt": "x"})
    assert result["refresh_worker"] is True
    assert result["error"].startswith("SwarmUI is not running: SwarmUI (pid")


def test_an_errored_backend_fails_the_job_and_asks_for_a_new_worker(swarmui, make_worker):
    set_faults(swarmui, backend_status="errored")
    worker = make_worker(backend_down_grace=0.5)
    result = run_job(worker, {"prompt": "x", "steps": 1})
    assert result["refresh_worker"] is True
    assert result["error"].startswith(
        "SwarmUI cannot generate: no SwarmUI backend can run (0=errored)"
    )
    set_faults(swarmui, backend_status=None)
    assert run_job(worker, {"prompt": "back", "steps": 1})["images"]


def test_no_backends_mid_session_makes_the_next_job_check_readiness(swarmui, make_worker):
    worker = make_worker(backend_down_grace=0.5)
    assert run_job(worker, {"prompt": "warm", "steps": 1})["images"]
    set_faults(swarmui, backend_status="errored")
    # The ready worker goes straight to SwarmUI, which refuses; the next job sees the state.
    assert run_job(worker, {"prompt": "x", "steps": 1})["error"].startswith(
        "SwarmUI: No backends available"
    )
    assert "refresh_worker" in run_job(worker, {"prompt": "y", "steps": 1})


def test_swarmui_dying_mid_job_asks_for_a_new_worker(
    start_swarmui, make_worker, recorder, tmp_path
):
    server = start_swarmui("--step-delay", "0.05")
    pid_file = tmp_path / "swarmui.pid"
    pid_file.write_text(str(server.process.pid))
    worker = make_worker(server, swarmui_pid_file=pid_file, request_timeout=1)

    async def scenario() -> dict:
        task = asyncio.create_task(
            worker.handle({"id": "d1", "input": {"prompt": "x", "steps": 400}})
        )
        await asyncio.to_thread(wait_until, lambda: recorder.payloads, timeout=10)
        server.process.kill()  # a crash: no graceful shutdown
        return await task

    result = run_async(scenario())
    assert result.get("refresh_worker") is True, result
    assert result["error"].startswith("SwarmUI is not running: SwarmUI (pid")


def test_cancelling_a_generation_interrupts_swarmui_and_sends_nothing_more(
    start_swarmui, make_worker, recorder
):
    server = start_swarmui("--step-delay", "0.05")
    worker = make_worker(server)

    async def scenario() -> None:
        task = asyncio.create_task(
            worker.handle({"id": "c1", "input": {"prompt": "x", "steps": 400}})
        )
        await asyncio.to_thread(
            wait_until,
            lambda: any(p.get("percent") for p in recorder.payloads),
            timeout=10,
            what="generation progress",
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_async(scenario())
    sent_for_cancelled_job = recorder.by_job["c1"]
    client = worker.runtime.client
    # Without InterruptAll the 400 steps would keep SwarmUI busy for 20 s after the disconnect.
    wait_until(
        lambda: client.current_status()["status"]["live_gens"] == 0,
        timeout=5,
        what="SwarmUI to stop the cancelled generation",
    )
    assert run_job(worker, {"prompt": "next", "steps": 1})["images"]
    assert recorder.by_job["c1"] == sent_for_cancelled_job, "progress after cancellation"
    assert not list((server.volume / "SwarmUI" / "Output").rglob("*-x-*.png"))
