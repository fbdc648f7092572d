"""Fault switches (docs/emulators.md): injected error statuses, hung requests, dropped `run`
answers and slow answers, for every public API call under `/v2/`."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .config import DEFAULT_FAULT_STATUSES, Settings, parse_fault_statuses
from .paths import Handler, is_management, is_public
from .responses import json_error, problem

log = logging.getLogger("emulators.runpod.faults")


class FaultError(ValueError):
    """A `POST /emulator/faults` body we cannot apply."""


@dataclass
class FaultState:
    """The current fault switches; `as_dict()` is what `/emulator/faults` answers."""

    fault_rate: float = 0.0
    fault_statuses: list[int | str] = field(default_factory=lambda: list(DEFAULT_FAULT_STATUSES))
    fault_timeout: float = 30.0
    drop_rate: float = 0.0
    response_delay: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FaultState:
        return cls(
            fault_rate=settings.fault_rate,
            fault_statuses=list(settings.fault_statuses),
            fault_timeout=settings.fault_timeout,
            drop_rate=settings.drop_rate,
            response_delay=settings.response_delay,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def reset(self) -> None:
        """Clear all faults."""
        fresh = FaultState()
        for name, value in asdict(fresh).items():
            setattr(self, name, value)

    def update(self, changes: Any) -> None:
        """Apply any subset of keys; validates everything first, so a bad body changes nothing."""
        if not isinstance(changes, dict):
            raise FaultError("body must be a JSON object of fault keys")
        known = set(asdict(self))
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultError(f"unknown fault keys: {', '.join(unknown)}; known: {sorted(known)}")
        parsed: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "fault_statuses":
                parsed[key] = _statuses(value)
            elif key in ("fault_rate", "drop_rate"):
                parsed[key] = _number(key, value, high=1.0)
            else:
                parsed[key] = _number(key, value, high=None)
        for key, value in parsed.items():
            setattr(self, key, value)


def _number(key: str, value: Any, *, high: float | None) -> float:
    if value is None and key in ("fault_rate", "drop_rate", "response_delay"):
        return 0.0  # null turns a fault off
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{key} must be a number")
    if value < 0 or (high is not None and value > high):
        bounds = f"between 0 and {high}" if high is not None else "0 or more"
        raise FaultError(f"{key} must be {bounds}")
    return float(value)


def _statuses(value: Any) -> list[int | str]:
    try:
        if isinstance(value, str):
            return list(parse_fault_statuses(value))
        if isinstance(value, list) and value:
            return list(parse_fault_statuses(",".join(str(item) for item in value)))
    except ValueError as error:
        raise FaultError(f"fault_statuses: {error}") from error
    raise FaultError('fault_statuses must be a list like [429, 502, 503, "timeout"]')


def drop_connection(request: web.Request) -> None:
    """Close the connection without an answer; the client sees it disconnect."""
    transport = request.transport
    if transport is not None:
        transport.close()


def injected_error(request: web.Request, status: int) -> web.Response:
    headers = {"Retry-After": "1"} if status == 429 else None
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if is_management(request.path):
        return problem(status, phrase.lower(), headers=headers)
    return json_error(status, phrase, headers=headers)


def fault_middleware(faults: FaultState) -> Any:
    """Middleware applying `faults` to public API calls (`/v2/...`), before auth."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_public(request.path):
            return await handler(request)
        if faults.fault_rate > 0 and random.random() < faults.fault_rate:
            choice = random.choice(faults.fault_statuses)
            log.info("fault injected on %s %s: %s", request.method, request.path, choice)
            if choice == "timeout":
                await asyncio.sleep(faults.fault_timeout)
                drop_connection(request)
                return web.Response(status=504)
            return injected_error(request, int(choice))
        response = await handler(request)
        route = request.match_info.route
        if (
            faults.drop_rate > 0
            and route.name == "run"
            and response.status == 200
            and random.random() < faults.drop_rate
        ):
            log.info("fault injected on %s %s: answer dropped", request.method, request.path)
            drop_connection(request)
        if faults.response_delay > 0:
            await asyncio.sleep(faults.response_delay)
        return response

    return middleware
