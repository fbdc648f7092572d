"""`health`: SwarmUI version, backend states and model count, without waiting for readiness."""

from __future__ import annotations

from worker import __version__
from worker.contract import BackendState, HealthInput, HealthOutput
from worker.readiness import running_backends, swarmui_process
from worker.runtime import JobContext
from worker.swarmui_client import SwarmUIError


def run(ctx: JobContext, request: HealthInput) -> HealthOutput:
    process = swarmui_process(ctx.config.swarmui_pid_file)
    health = HealthOutput(
        worker_version=__version__,
        ready=False,
        swarmui_pid=process.pid,
        swarmui_alive=process.alive,
    )
    try:
        session = ctx.client.session()
        health.swarmui_version = session.version
        health.server_id = session.server_id
        backends = ctx.client.list_backends()
        health.backends = [
            BackendState(
                id=str(key),
                type=backend.get("type"),
                status=str(backend.get("status", "unknown")),
                title=backend.get("title") or None,
                current_model=backend.get("current_model"),
            )
            for key, backend in backends.items()
            if isinstance(backend, dict)
        ]
        health.ready = bool(running_backends(backends))
        status = ctx.client.current_status().get("backend_status") or {}
        health.backend_status = status.get("status")
        models = ctx.client.list_models(
            path="", depth=20, subtype="Stable-Diffusion", allowRemote=False
        )
        health.model_count = len(models.get("files") or [])
    except SwarmUIError as error:
        # Health reports problems instead of failing: "SwarmUI is down" is an answer too.
        health.problem = str(error)
    return health
