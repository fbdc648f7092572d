"""The `/API/<route>` pipeline: transport checks, session, route, binding, handler.

Mirrors `API.HandleAsyncRequest` and `APICallReflectBuilder` (reference §1.1-§1.4): the order of
the checks and every error body are part of the protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from emulators.swarmui.csharp import csharp_text, parse_csharp_decimal, parse_csharp_integer
from emulators.swarmui.sessions import Session
from emulators.swarmui.state import STATE_KEY, EmulatorState

log = logging.getLogger(__name__)

REQUIRED = object()
MAX_BODY_BYTES = 200 * 1024 * 1024  # `MaxNetworkRequestMegabytes` default (reference §1.1)
FIRST_MESSAGE_TIMEOUT = 60.0
SESSIONLESS = {"getnewsession", "login"}
INVALID_SESSION = {
    "error": "Invalid session ID. You may need to refresh the page.",
    "error_id": "invalid_session_id",
}
INTERNAL_ERROR = {"error_id": "internal_error", "error": "An internal error occurred"}


def to_json(obj: Any) -> str:
    """Compact JSON, non-ASCII kept as is, like Json.NET's `Formatting.None`."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_response(body: dict, status: int = 200) -> web.Response:
    return web.Response(
        body=to_json(body).encode("utf-8"),
        status=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


@dataclass(frozen=True)
class Param:
    """A route parameter bound by exact JSON key; `type` is the C# type name (§1.2)."""

    name: str
    type: str = "String"
    default: object = REQUIRED


@dataclass
class Call:
    """What a handler gets besides its bound parameters."""

    state: EmulatorState
    session: Session | None
    request: web.Request
    ws: web.WebSocketResponse | None
    raw_input: dict


Handler = Callable[..., Awaitable[dict | None]]


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    params: tuple[Param, ...] = ()
    websocket: bool = False


class FrameworkError(Exception):
    """A pipeline failure answered before (or instead of) the handler."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("error") or body.get("error_id"))
        self.status = status
        self.body = body


def coerce(value: Any, type_name: str) -> tuple[bool, Any]:
    """The reflect builder's `TypeCoercerMap`: everything goes through `ToString()` first."""
    text = csharp_text(value)
    if type_name == "String":
        return True, text
    if type_name in ("Int32", "Int64"):
        number = parse_csharp_integer(text, type_name)
        return number is not None, number
    if type_name in ("Double", "Single"):
        decimal = parse_csharp_decimal(text)
        return decimal is not None, decimal
    if type_name == "Boolean":
        flag = text.strip().lower()
        return flag in ("true", "false"), flag == "true"
    raise ValueError(f"unsupported parameter type {type_name}")


def bind(route: Route, payload: dict) -> dict[str, Any]:
    """Bind route parameters in declaration order; the first problem wins (§1.2)."""
    bound: dict[str, Any] = {}
    for param in route.params:
        if param.name not in payload:
            if param.default is REQUIRED:
                raise FrameworkError(200, {"error": f"Missing required parameter '{param.name}'"})
            bound[param.name] = param.default
            continue
        ok, value = coerce(payload[param.name], param.type)
        if not ok:
            shown = csharp_text(payload[param.name])
            raise FrameworkError(
                200,
                {
                    "error": f"Invalid value '{shown}' for parameter '{param.name}', "
                    f"must be type '{param.type}'"
                },
            )
        bound[param.name] = value
    return bound


def _has_json_content_type(header: str | None) -> bool:
    """ASP.NET `HasJsonContentType`: `application/json` or any `+json` media type."""
    media = (header or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _route_key(request: web.Request) -> str:
    path = request.path.lower()
    return path.split("/api/", 1)[1] if "/api/" in path else ""


def _find_session(state: EmulatorState, request: web.Request, payload: dict) -> Session:
    if "session_id" in payload:
        session_id = csharp_text(payload["session_id"])
    elif "X-Session-ID" in request.headers:
        session_id = request.headers["X-Session-ID"]
    else:
        raise FrameworkError(400, {"error_id": "basic_api", "error": "missing session id"})
    session = state.sessions.get(session_id)
    if session is None:
        raise FrameworkError(401, INVALID_SESSION)
    return session


def _resolve(
    routes: dict[str, Route], request: web.Request, payload: dict, is_ws: bool
) -> tuple[Route, Session | None]:
    """Checks 2-4 of §1.3, in order: session before route, route before method."""
    state = request.app[STATE_KEY]
    key = _route_key(request)
    session = None if key in SESSIONLESS else _find_session(state, request, payload)
    route = routes.get(key)
    if route is None:
        if is_ws:  # the WebSocket branch of API.cs words this one differently
            raise FrameworkError(404, {"error": "Unknown API route.", "error_id": "bad_route"})
        raise FrameworkError(400, {"error_id": "bad_route", "error": "Unknown API route"})
    if route.websocket and not is_ws:
        raise FrameworkError(
            400,
            {
                "error_id": "bad_request_method",
                "error": "API route needs websocket, request is HTTP",
            },
        )
    if not route.websocket and is_ws:
        raise FrameworkError(
            400,
            {
                "error_id": "bad_request_method",
                "error": "API route needs HTTP, request is websocket",
            },
        )
    return route, session


async def _run_handler(
    route: Route,
    request: web.Request,
    session: Session | None,
    payload: dict,
    ws: web.WebSocketResponse | None,
) -> dict | None:
    bound = bind(route, payload)
    raw_input = {k: v for k, v in payload.items() if k != "session_id"}
    call = Call(request.app[STATE_KEY], session, request, ws, raw_input)
    return await route.handler(call, **bound)


def make_api_handler(routes: dict[str, Route]) -> Callable[[web.Request], Awaitable]:
    """The aiohttp handler for every method on `/API/{anything}`."""
    routes = {name.lower(): route for name, route in routes.items()}

    async def handle(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES)
        if ws.can_prepare(request).ok:
            await _serve_websocket(routes, request, ws)
            return ws
        if request.method != "POST":
            return web.Response(status=302, headers={"Location": "/Error/NoGetAPI"})
        try:
            payload = await _read_body(request)
            route, session = _resolve(routes, request, payload, is_ws=False)
            result = await _run_handler(route, request, session, payload, None)
        except FrameworkError as err:
            return json_response(err.body, err.status)
        except Exception:
            log.exception("Internal error in API call %s", request.path)
            return json_response(INTERNAL_ERROR, 400)
        if result is None:
            return json_response(
                {"error_id": "no_result", "error": "API call did not return any output"}, 400
            )
        return json_response(result)

    return handle


async def _read_body(request: web.Request) -> dict:
    """Check 1 of §1.3: content type, then length, then a JSON object."""
    if not _has_json_content_type(request.headers.get("Content-Type")):
        raise FrameworkError(400, {"error_id": "basic_api", "error": "Wrong content type"})
    length = request.content_length
    if length is None or length <= 0 or length >= MAX_BODY_BYTES:
        raise FrameworkError(400, {"error_id": "basic_api", "error": "bad content length"})
    return _parse_object(await request.read())


def _parse_object(raw: bytes | str) -> dict:
    """`JObject.Parse`: anything but a JSON object is an internal error."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise FrameworkError(400, INTERNAL_ERROR)
    return payload


async def receive_json(ws: web.WebSocketResponse, timeout: float | None = None) -> dict | None:
    """Next JSON object from the socket; None when the socket closed; raises on bad JSON."""
    message = await asyncio.wait_for(ws.receive(), timeout)
    if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        return None
    return _parse_object(message.data)


async def _serve_websocket(
    routes: dict[str, Route], request: web.Request, ws: web.WebSocketResponse
) -> None:
    """§1.4: accept, read the first message, same pipeline, errors as one message + close 1000."""
    await ws.prepare(request)
    try:
        payload = await receive_json(ws, FIRST_MESSAGE_TIMEOUT)
        if payload is None:
            return
        route, session = _resolve(routes, request, payload, is_ws=True)
        result = await _run_handler(route, request, session, payload, ws)
    except FrameworkError as err:
        result = err.body
    except (TimeoutError, ConnectionError):
        result = INTERNAL_ERROR
    except Exception:
        log.exception("Internal error in WebSocket API call %s", request.path)
        result = INTERNAL_ERROR
    await close_websocket(ws, result)


async def close_websocket(ws: web.WebSocketResponse, last_message: dict | None = None) -> None:
    """Send an optional last message, then a normal close (1000, no reason)."""
    if ws.closed:
        return
    try:
        if last_message is not None:
            await ws.send_str(to_json(last_message))
        await ws.close(code=1000)
    except (ConnectionError, RuntimeError):
        log.info("WebSocket %s went away before the close", id(ws))
