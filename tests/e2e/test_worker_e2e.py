"""End to end: the official runpod SDK → RunPod emulator → real `python -m worker.handler` worker
process (the SDK's own job loop) → SwarmUI emulator.

One stack serves the whole module (a worker takes a few seconds to start); every test resets the
SwarmUI faults first. `runpod` is imported here only: it is heavy and worker-side.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import runpod
from runpod.endpoint.runner import Job

from tests.support.emulators import WORKER_HANDLER, runpod_server, swarmui_server
from tests.support.processes import ServerProcess, free_port, wait_until
from worker.contract import GenerateOutput

pytestmark = pytest.mark.slow

API_KEY = "local-dev-key"
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


@dataclass
class Stack:
    swarmui: ServerProcess
    runpod: ServerProcess
    endpoint: runpod.Endpoint
    files: Path
    files_url: str

    def swarm(self, route: str, body: dict | None = None) -> dict:
        """Call SwarmUI directly (our own session) to observe it."""
        session = requests.post(f"{self.swarmui.base_url}/API/GetNewSession", json={}, timeout=5)
        body = {**(body or {}), "session_id": session.json()["session_id"]}
        return requests.post(f"{self.swarmui.base_url}/API/{route}", json=body, timeout=5).json()

    def faults(self, **faults: Any) -> None:
        url = f"{self.swarmui.base_url}/emulator/faults"
        requests.post(url, json=faults, timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("worker-e2e")
    volume = root / "volume"
    swarmui = swarmui_server(root, "--step-delay", "0.02", volume=volume).start()
    files = root / "files"
    files.mkdir()
    files_server = ServerProcess(
        args=[
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            str(files),
            str(files_port := free_port()),
        ],
        host="127.0.0.1",
        port=files_port,
        log_path=root / "files.log",
    ).start()
    control_plane = runpod_server(
        root,
        *("--endpoint", "local", "--workers-min", "1", "--workers-max", "1"),
        worker=WORKER_HANDLER,
        env={
            "SWARMUI_API_URL": swarmui.base_url,
            "VOLUME_PATH": str(volume),
            "SWARMUI_PID_FILE": "",  # SwarmUI is the emulator, not a child of start.sh
            "STARTUP_TIMEOUT": "60",
            "GENERATION_TIMEOUT": "60",
        },
    ).start()
    runpod.api_key = API_KEY
    runpod.endpoint_url_base = f"{control_plane.base_url}/v2"
    stack = Stack(swarmui, control_plane, runpod.Endpoint("local"), files, files_server.base_url)
    try:
        # The first job waits for the worker process to come up.
        assert run(stack, {"action": "health"}, timeout=60)["output"]["ready"] is True
        yield stack
    finally:
        control_plane.stop()
        files_server.stop()
        swarmui.stop()


@pytest.fixture(autouse=True)
def clean_faults(stack) -> None:
    requests.post(f"{stack.swarmui.base_url}/emulator/reset", timeout=5).raise_for_status()


def finished(job: Job, timeout: float = 60) -> dict:
    """The full job object once final (the SDK's output() drops `error`: runpod.md §2.2)."""
    wait_until(
        lambda: job.status() in FINAL, timeout=timeout, interval=0.1, what=f"job {job.job_id}"
    )
    return job._fetch_job()


def run(stack: Stack, job_input: dict, *, timeout: float = 60) -> dict:
    return finished(stack.endpoint.run({"input": job_input}), timeout)


def test_the_original_input_shape_generates_an_image(stack):
    job = run(
        stack,
        {
            "prompt": "a red fox in snow",
            "negative_prompt": "blurry",
            "model": "OfficialStableDiffusion/sd_xl_base_1.0",
            "width": 512,
            "height": 512,
            "steps": 5,
            "cfg_scale": 7,
            "seed": 99,
        },
    )
    assert job["status"] == "COMPLETED", job
    output = GenerateOutput.model_validate(job["output"])
    assert output.output_mode == "inline"
    assert (output.images[0].seed, output.images[0].width) == (99, 512)
    assert job["executionTime"] > 0


def test_run_sync_through_the_sdk(stack):
    output = stack.endpoint.run_sync({"input": {"prompt": "a boat", "steps": 2}}, timeout=60)
    assert output["images"][0]["type"] == "base64"


def test_model_actions(stack):
    listed = run(stack, {"action": "list_models", "depth": 5})
    assert listed["status"] == "COMPLETED"
    names = [model["name"] for model in listed["output"]["models"]]
    assert "OfficialStableDiffusion/sd_xl_base_1.0.safetensors" in names

    described = run(stack, {"action": "describe_model", "model_name": "Flux/flux1-schnell-tiny"})
    assert described["output"]["model"]["name"] == "Flux/flux1-schnell-tiny.safetensors"

    edited = run(
        stack,
        {
            "action": "edit_model_metadata",
            "model_name": "Flux/flux1-schnell-tiny",
            "metadata": {"title": "Tiny Flux"},
        },
    )
    assert edited["status"] == "COMPLETED", edited
    again = run(stack, {"action": "describe_model", "model_name": "Flux/flux1-schnell-tiny"})
    assert again["output"]["model"]["title"] == "Tiny Flux"


def test_download_then_delete_a_model(stack):
    (stack.files / "style.safetensors").write_bytes(b"\0" * 500_000)
    downloaded = run(
        stack,
        {
            "action": "download_model",
            "url": f"{stack.files_url}/style.safetensors",
            "model_name": "Styles/ink v2.1",
            "model_type": "LoRA",
        },
    )
    assert downloaded["status"] == "COMPLETED", downloaded
    assert downloaded["output"]["model_name"] == "Styles/ink_v21.safetensors"
    on_volume = (
        stack.swarmui.volume / "SwarmUI" / "Models" / "Lora" / "Styles" / "ink_v21.safetensors"
    )
    assert on_volume.stat().st_size == 500_000
    deleted = run(
        stack,
        {"action": "delete_model", "model_name": "Styles/ink_v21", "subtype": "LoRA"},
    )
    assert deleted["output"] == {"model_name": "Styles/ink_v21.safetensors", "deleted": True}
    assert not on_volume.exists()


def test_keep_alive_warmup_and_health(stack):
    kept = run(stack, {"action": "keep_alive", "duration_seconds": 1, "interval_seconds": 1})
    assert kept["output"]["pings"] >= 1
    warmed = run(stack, {"action": "warmup"})
    assert warmed["output"]["model"] == "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    health = run(stack, {"action": "health"})
    assert health["output"]["backends"][0]["status"] == "running"


def test_bad_input_fails_the_job_with_a_readable_error_and_the_worker_goes_on(stack):
    for job_input, message in [
        ({"action": "teleport"}, "action: unknown action 'teleport'"),
        ({"prompt": "x", "steps": 9000}, "steps: must be between 1 and 500"),
        ({"action": "describe_model", "model_name": "../secrets"}, "model_name: must not contain"),
        ({"action": "download_model", "url": "file:///etc/passwd", "model_name": "x"}, "url:"),
    ]:
        job = run(stack, job_input)
        assert job["status"] == "FAILED"
        assert isinstance(job["error"], str)
        assert message in job["error"]
    assert run(stack, {"prompt": "still serving", "steps": 1})["status"] == "COMPLETED"


def test_progress_shows_in_status_while_generating(stack):
    job = stack.endpoint.run({"input": {"prompt": "slow", "steps": 150}})  # ≈3 s of steps

    def progress() -> dict | None:
        body = job._fetch_job()
        output = body.get("output")
        if body["status"] == "IN_PROGRESS" and isinstance(output, dict) and output.get("percent"):
            return output
        return None

    seen = wait_until(progress, timeout=30, interval=0.1, what="a progress payload in /status")
    assert seen["action"] == "generate"
    assert 0 < seen["percent"] < 100
    final = finished(job)
    assert final["status"] == "COMPLETED"
    assert "images" in final["output"], "a late progress update overwrote the result"


def test_cancel_mid_generation_stops_swarmui(stack):
    job = stack.endpoint.run({"input": {"prompt": "to be cancelled", "steps": 500}})  # 10 s
    wait_until(
        lambda: stack.swarm("GetGlobalStatus")["status"]["live_gens"] > 0,
        timeout=30,
        what="the generation to start in SwarmUI",
    )
    job.cancel()
    assert finished(job)["status"] == "CANCELLED"
    wait_until(
        lambda: stack.swarm("GetGlobalStatus")["status"]["live_gens"] == 0,
        timeout=10,
        what="SwarmUI to stop the cancelled generation",
    )
    assert run(stack, {"prompt": "after cancel", "steps": 1})["status"] == "COMPLETED"


def test_a_large_result_comes_back_as_volume_paths(stack):
    # Five 2048² PNGs are about 10 MB of base64: over the default 8 MB inline cap.
    job = run(stack, {"prompt": "big", "steps": 1, "width": 2048, "height": 2048, "images": 5})
    assert job["status"] == "COMPLETED", job.get("error")
    output = GenerateOutput.model_validate(job["output"])
    assert output.output_mode == "volume"
    for image in output.images:
        assert (stack.swarmui.volume / image.path).stat().st_size == image.size_bytes


def test_forgotten_sessions_are_renewed(stack):
    stack.faults(forget_sessions=True)
    assert run(stack, {"prompt": "new session", "steps": 1})["status"] == "COMPLETED"
    stack.faults(forget_sessions=True)
    assert run(stack, {"action": "list_models"})["status"] == "COMPLETED"


def test_a_loading_backend_is_waited_for(stack):
    stack.faults(backend_status="loading")
    job = stack.endpoint.run({"input": {"prompt": "patience", "steps": 1}})
    wait_until(lambda: job.status() == "IN_PROGRESS", timeout=30, what="the job to start")
    stack.faults(backend_status="running")
    assert finished(job)["status"] == "COMPLETED"


def test_a_dropped_websocket_is_retried_then_reported(stack):
    stack.faults(drop_ws_after_steps=4)
    recovered = run(stack, {"prompt": "flaky", "steps": 3, "images": 2, "seed": 5})
    assert recovered["status"] == "COMPLETED", recovered.get("error")
    assert [image["seed"] for image in recovered["output"]["images"]] == [5, 6]

    stack.faults(drop_ws_after_steps=1)
    broken = run(stack, {"prompt": "broken", "steps": 5})
    assert broken["status"] == "FAILED"
    assert "closed the GenerateText2ImageWS WebSocket unexpectedly" in broken["error"]


def test_a_worker_booting_on_an_errored_backend_fails_jobs_fast_and_is_replaced(
    tmp_path, monkeypatch
):
    # The worker's main() finds the backend errored: it still starts the job loop, answers the
    # job with the reason after the grace, and RunPod replaces it (refresh_worker → stopPod).
    volume = tmp_path / "volume"
    swarmui = swarmui_server(tmp_path, "--backend-status", "errored", volume=volume).start()
    control_plane = runpod_server(
        tmp_path,
        *("--endpoint", "local", "--workers-min", "1", "--workers-max", "1"),
        worker=WORKER_HANDLER,
        env={
            "SWARMUI_API_URL": swarmui.base_url,
            "VOLUME_PATH": str(volume),
            "SWARMUI_PID_FILE": "",
            "BACKEND_DOWN_GRACE_SECONDS": "1",
        },
    ).start()
    monkeypatch.setattr(runpod, "api_key", API_KEY)
    monkeypatch.setattr(runpod, "endpoint_url_base", f"{control_plane.base_url}/v2")
    endpoint = runpod.Endpoint("local")
    try:
        failed = finished(endpoint.run({"input": {"prompt": "no backend", "steps": 1}}))
        assert failed["status"] == "FAILED", failed
        assert failed["error"].startswith(
            "SwarmUI cannot generate: no SwarmUI backend can run (0=errored)"
        ), failed["error"]
        assert failed["executionTime"] < 10_000
        requests.post(
            f"{swarmui.base_url}/emulator/faults", json={"backend_status": None}, timeout=5
        ).raise_for_status()
        done = finished(endpoint.run({"input": {"prompt": "back", "steps": 1}}))
        assert done["status"] == "COMPLETED", done
        assert done["workerId"] != failed["workerId"], "the worker was not replaced"
    finally:
        control_plane.stop()
        swarmui.stop()
