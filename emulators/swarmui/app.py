"""Builds the aiohttp application: admin routes, then one catch-all for all SwarmUI paths."""

from __future__ import annotations

from aiohttp import web

from emulators.swarmui.faults import admin_routes
from emulators.swarmui.framework import MAX_BODY_BYTES, make_api_handler
from emulators.swarmui.routes import all_routes
from emulators.swarmui.state import STATE_KEY, EmulatorState
from emulators.swarmui.web import make_dispatcher


def build_app(state: EmulatorState) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    app.add_routes(admin_routes(state))
    app.router.add_route("*", "/{tail:.*}", make_dispatcher(make_api_handler(all_routes())))
    return app
