"""The SwarmUI API routes the emulator serves, by name (route names are case-insensitive)."""

from __future__ import annotations

from emulators.swarmui.framework import Route
from emulators.swarmui.routes import basic_api, history_api, models_api, t2i_api


def all_routes() -> dict[str, Route]:
    routes = [*basic_api.ROUTES, *t2i_api.ROUTES, *models_api.ROUTES, *history_api.ROUTES]
    return {route.name: route for route in routes}
