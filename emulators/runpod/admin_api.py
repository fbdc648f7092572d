"""Emulator-only routes under `/emulator/` (docs/emulators.md): fault switches, reset, killing a
worker, and a dump of every job and worker. Not part of RunPod; never authenticated."""

from __future__ import annotations

import json

from aiohttp import web

from .faults import FaultError
from .responses import json_error
from .state import EMULATOR


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/emulator/faults", get_faults, name="emulator-faults")
    router.add_post("/emulator/faults", set_faults, name="emulator-set-faults")
    router.add_post("/emulator/reset", reset, name="emulator-reset")
    router.add_post("/emulator/workers/{worker_id}/kill", kill_worker, name="emulator-kill")
    router.add_get("/emulator/state", state, name="emulator-state")


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].faults.as_dict())


async def set_faults(request: web.Request) -> web.Response:
    """Change any subset of fault keys; answers the whole fault state."""
    faults = request.app[EMULATOR].faults
    try:
        faults.update(json.loads(await request.read() or b"{}"))
    except ValueError as error:  # FaultError is a ValueError, and so is bad JSON
        message = str(error) if isinstance(error, FaultError) else f"body is not JSON: {error}"
        return json_error(400, message)
    return web.json_response(faults.as_dict())


async def reset(request: web.Request) -> web.Response:
    """Clear all faults (and the rate-limit windows); answers the fault state."""
    emulator = request.app[EMULATOR]
    emulator.faults.reset()
    emulator.rate_limiter.reset()
    return web.json_response(emulator.faults.as_dict())


async def kill_worker(request: web.Request) -> web.Response:
    """SIGKILL one worker (`busy`: the first worker running a job). Its job ends FAILED."""
    emulator = request.app[EMULATOR]
    worker_id = request.match_info["worker_id"]
    if worker_id == "busy":
        worker = emulator.workers.first_busy()
        if worker is None:
            return json_error(404, "no worker is running a job")
    else:
        worker = emulator.workers.get(worker_id)
        if worker is None or worker.stopping:
            return json_error(404, f"worker {worker_id} not found")
    jobs = sorted(worker.jobs)
    await emulator.workers.kill(worker)
    return web.json_response({"id": worker.id, "status": "KILLED", "failedJobs": jobs})


async def state(request: web.Request) -> web.Response:
    base_url = f"{request.scheme}://{request.host}"
    return web.json_response(request.app[EMULATOR].state_view(base_url))
