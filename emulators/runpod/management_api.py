"""REST v2 endpoint management (§5.2): list, get and PATCH the endpoint, list its workers.

Errors are RFC 9457 problem objects; auth (401/403) happens in the auth middleware.
"""

from __future__ import annotations

import json

from aiohttp import web

from .endpoint import PatchError
from .responses import problem
from .state import EMULATOR


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/v2/serverless", list_endpoints, name="v2-list")
    router.add_get("/v2/serverless/{id}", get_endpoint, name="v2-get")
    router.add_patch("/v2/serverless/{id}", update_endpoint, name="v2-patch")
    router.add_get("/v2/serverless/{id}/workers", list_workers, name="v2-workers")


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _unknown(endpoint_id: str) -> web.Response:
    return problem(404, f"serverless endpoint {endpoint_id} not found")


async def list_endpoints(request: web.Request) -> web.Response:
    endpoint = request.app[EMULATOR].endpoint
    return web.json_response({"endpoints": [endpoint.view(_base_url(request))]})


async def get_endpoint(request: web.Request) -> web.Response:
    endpoint = request.app[EMULATOR].endpoint
    if request.match_info["id"] != endpoint.id:
        return _unknown(request.match_info["id"])
    return web.json_response(endpoint.view(_base_url(request)))


async def update_endpoint(request: web.Request) -> web.Response:
    """Partial update; worker and scaling changes reach the scaler at once (§5.2)."""
    emulator = request.app[EMULATOR]
    endpoint = emulator.endpoint
    if request.match_info["id"] != endpoint.id:
        return _unknown(request.match_info["id"])
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError as error:
        return problem(400, f"request body is not valid JSON: {error}")
    try:
        endpoint.apply_patch(body)
    except PatchError as error:
        return problem(400, f"invalid endpoint update: {error.errors[0]}", errors=error.errors)
    emulator.wakeup.notify()  # the scaler reacts now, not on its next tick
    return web.json_response(endpoint.view(_base_url(request)))


async def list_workers(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    if request.match_info["id"] != emulator.endpoint.id:
        return _unknown(request.match_info["id"])
    return web.json_response(emulator.workers_view())
