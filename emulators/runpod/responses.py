"""Error bodies in the two shapes RunPod uses: `{"error": ...}` (job API) and RFC 9457 (REST v2)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from aiohttp import web


def json_error(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The job API's error body: `{"error": "..."}` (§1.5)."""
    return web.json_response({"error": message}, status=status, headers=headers)


def problem(
    status: int,
    detail: str,
    *,
    errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A REST v2 error: RFC 9457 problem object with `title, status, detail[, errors]` (§5.2)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, object] = {
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = web.json_response(body, status=status, headers=headers)
    response.content_type = "application/problem+json"
    return response
