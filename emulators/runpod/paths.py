"""Which API a request belongs to, for the middlewares: public (`/v2/...`) or REST v2 management."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_public(path: str) -> bool:
    """The job API and REST v2: authenticated, rate limited and subject to fault switches."""
    return path == "/v2" or path.startswith("/v2/")


def is_management(path: str) -> bool:
    """REST v2 endpoint management, whose errors are RFC 9457 problem objects (§5.2)."""
    return path == "/v2/serverless" or path.startswith("/v2/serverless/")
