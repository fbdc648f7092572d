"""The aiohttp application: middlewares (errors → faults → auth → job-API checks) and routes."""

from __future__ import annotations

from aiohttp import web

from . import admin_api, management_api, public_api, worker_api
from .auth import auth_middleware
from .faults import fault_middleware
from .paths import Handler, is_management
from .responses import json_error, problem
from .state import EMULATOR, Emulator

# Bodies up to this size are read and then checked against RunPod's own limits (10/20 MB), so
# clients get RunPod's 400 instead of aiohttp's 413.
CLIENT_MAX_SIZE = 64 * 1024 * 1024


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's plain-text errors (unknown route, wrong method, ...) as JSON bodies."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or error.content_type == "application/json":
            raise
        if is_management(request.path):
            return problem(error.status, error.reason.lower(), headers=_allow(error))
        return json_error(error.status, error.reason, headers=_allow(error))


def _allow(error: web.HTTPException) -> dict[str, str] | None:
    allow = error.headers.get("Allow")
    return {"Allow": allow} if allow else None


def build_app(emulator: Emulator) -> web.Application:
    settings = emulator.settings
    app = web.Application(
        client_max_size=CLIENT_MAX_SIZE,
        middlewares=[
            error_middleware,
            fault_middleware(emulator.faults),
            auth_middleware(settings.api_keys, settings.readonly_api_keys),
            public_api.job_api_middleware,
        ],
    )
    app[EMULATOR] = emulator
    # Management routes first: `/v2/serverless/{id}` would also match `/v2/{endpoint}/{op}`.
    management_api.add_routes(app)
    public_api.add_routes(app)
    worker_api.add_routes(app)
    admin_api.add_routes(app)
    return app
