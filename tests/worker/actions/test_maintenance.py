"""`keep_alive`, `warmup` and `health` against the emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.processes import free_port, wait_until
from tests.worker.conftest import run_async, run_job, set_faults


def test_keep_alive_pings_on_the_cached_session_for_the_duration(worker, recorder):
    started = time.monotonic()
    result = run_job(worker, {"action": "keep_alive", "duration_seconds": 2, "interval_seconds": 1})
    assert 2 <= time.monotonic() - started < 4
    assert result["pings"] >= 2
    assert result["failed_pings"] == 0
    assert result["clamped"] is False
    assert "keeping warm" in recorder.stages()


def test_keep_alive_is_bounded_by_the_configured_maximum(make_worker):
    worker = make_worker(keep_alive_max_seconds=1)
    started = time.monotonic()
    result = run_job(worker, {"action": "keep_alive", "duration": 3600, "interval": 1})
    assert time.monotonic() - started < 3
    assert result["clamped"] is True
    assert result["requested_seconds"] == 3600


def test_keep_alive_survives_forgotten_sessions(worker, swarmui):
    run_job(worker, {"action": "health"})
    set_faults(swarmui, forget_sessions=True)
    result = run_job(worker, {"action": "keep_alive", "duration": 1, "interval": 1})
    assert result["failed_pings"] == 0


def test_keep_alive_ends_at_once_when_cancelled(worker, recorder):
    async def scenario() -> float:
        task = asyncio.create_task(
            worker.handle({"id": "ka", "input": {"action": "keep_alive", "duration": 600}})
        )
        await asyncio.to_thread(wait_until, lambda: recorder.payloads, timeout=10)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert run_async(scenario()) < 1


def test_keep_alive_reports_a_dead_swarmui_in_its_pings(make_worker, swarmui):
    worker = make_worker(swarmui_api_url=f"http://127.0.0.1:{free_port()}", request_timeout=0.5)
    result = run_job(worker, {"action": "keep_alive", "duration": 1, "interval": 1})
    assert result["pings"] == 0
    assert result["failed_pings"] >= 1
    assert "cannot reach SwarmUI" in result["last_error"]


def test_warmup_loads_the_default_model_and_times_it(worker):
    result = run_job(worker, {"action": "warmup"})
    assert result["model"] == "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    assert 0 <= result["load_seconds"] <= result["total_seconds"]
    assert isinstance(result["was_loaded"], bool)


def test_warmup_of_an_unknown_model_names_it(worker):
    result = run_job(worker, {"action": "warmup", "model": "nope"})
    assert result == {"error": "model: 'nope': Model not found."}


def test_warmup_leaves_no_image_behind(worker, swarmui):
    run_job(worker, {"action": "warmup"})
    assert not list((swarmui.volume / "SwarmUI" / "Output").rglob("*.png"))


def test_health_reports_version_backends_and_models(worker):
    result = run_job(worker, {"action": "health"})
    assert result["ready"] is True
    assert result["swarmui_version"]
    assert result["server_id"]
    assert result["backends"][0]["status"] == "running"
    assert result["backend_status"] == "running"
    assert result["model_count"] >= 2
    assert "problem" not in result


def test_health_while_loading_is_not_ready(worker, swarmui):
    set_faults(swarmui, backend_status="loading")
    result = run_job(worker, {"action": "health"})
    assert result["ready"] is False
    assert result["backends"][0]["status"] == "loading"


def test_health_of_an_unreachable_swarmui_says_so_instead_of_failing(make_worker):
    worker = make_worker(swarmui_api_url=f"http://127.0.0.1:{free_port()}", request_timeout=0.5)
    result = run_job(worker, {"action": "health"})
    assert result["ready"] is False
    assert "cannot reach SwarmUI" in result["problem"]
