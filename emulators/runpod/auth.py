"""API-key checks for everything under `/v2/` (§1.1): `Authorization: Bearer KEY` or the raw key.

A read-only key may use the job API; the REST v2 management routes answer it 403 (§5.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .paths import Handler, is_management, is_public
from .responses import json_error, problem


def presented_key(request: web.Request) -> str | None:
    """The key in the Authorization header, with or without the `Bearer ` scheme."""
    header = request.headers.get("Authorization", "").strip()
    if header[:7].lower() == "bearer ":
        header = header[7:].strip()
    return header or None


def auth_middleware(api_keys: Iterable[str], readonly_keys: Iterable[str]) -> Any:
    """Middleware: 401 for a missing or unknown key, 403 for a read-only key on REST v2."""
    full = frozenset(api_keys)
    readonly = frozenset(readonly_keys) - full

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_public(request.path):
            return await handler(request)
        key = presented_key(request)
        management = is_management(request.path)
        if key is None or (key not in full and key not in readonly):
            detail = "missing bearer token" if key is None else "invalid API key"
            if management:
                return problem(401, detail)
            return json_error(401, f"Unauthorized: {detail}")
        if management and key in readonly:
            return problem(403, "access denied: this API key is read-only")
        return await handler(request)

    return middleware
