"""Fault switches and the `/emulator/*` admin routes (docs/emulators.md, "Fault switches").

These routes are not part of SwarmUI and are never session-checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulators.swarmui.config import EmulatorConfig

if TYPE_CHECKING:
    from emulators.swarmui.state import EmulatorState

BACKEND_STATUSES = ("running", "loading", "errored", "disabled")


class FaultError(ValueError):
    """A fault change the admin route refuses (answered 400)."""


@dataclass
class Faults:
    """The current fault state; `backend_status` None means "behave normally"."""

    backend_status: str | None = None
    drop_ws_after_steps: int | None = None
    download_delay: float = 0.0
    download_fail_rate: float = 0.0

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> Faults:
        faults = cls()
        faults.update(
            {
                "backend_status": config.backend_status,
                "drop_ws_after_steps": config.drop_ws_after_steps,
                "download_delay": config.download_delay,
                "download_fail_rate": config.download_fail_rate,
            }
        )
        return faults

    def update(self, changes: dict[str, Any]) -> bool:
        """Validate then apply a subset of keys; True if `forget_sessions` was requested."""
        checked = {key: _check(key, value) for key, value in changes.items()}
        forget = bool(checked.pop("forget_sessions", False))
        for key, value in checked.items():
            setattr(self, key, value)
        return forget

    def reset(self) -> None:
        for spec in fields(self):
            setattr(self, spec.name, spec.default)


def _check(key: str, value: Any) -> Any:
    checker = _CHECKS.get(key)
    if checker is None:
        raise FaultError(f"Unknown fault key '{key}'.")
    try:
        return checker(value)
    except (TypeError, ValueError) as err:
        raise FaultError(f"Invalid value {value!r} for fault '{key}': {err}") from err


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _backend_status(value: Any) -> str | None:
    if value is not None and value not in BACKEND_STATUSES:
        raise ValueError(f"must be one of {', '.join(BACKEND_STATUSES)} or null")
    return value


def _step_count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a non-negative integer or null")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a non-negative number")
    return float(value)


def _rate(value: Any) -> float:
    rate = _seconds(value)
    if rate > 1:
        raise ValueError("must be between 0 and 1")
    return rate


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "forget_sessions": _flag,
    "backend_status": _backend_status,
    "drop_ws_after_steps": _step_count,
    "download_delay": _seconds,
    "download_fail_rate": _rate,
}


def fault_state(state: EmulatorState) -> dict[str, Any]:
    """The whole current fault state; `backend_status` is what the backends report now."""
    faults = state.faults
    return {
        "forget_sessions": False,  # a one-shot action, never pending
        "backend_status": state.backend.status(),
        "drop_ws_after_steps": faults.drop_ws_after_steps,
        "download_delay": faults.download_delay,
        "download_fail_rate": faults.download_fail_rate,
    }


def admin_routes(state: EmulatorState) -> list[web.RouteDef]:
    """`GET/POST /emulator/faults` and `POST /emulator/reset`."""

    async def get_faults(_: web.Request) -> web.Response:
        return web.json_response(fault_state(state))

    async def post_faults(request: web.Request) -> web.Response:
        try:
            changes = json.loads(await request.text() or "{}")
            if not isinstance(changes, dict):
                raise FaultError("The body must be a JSON object.")
            if state.faults.update(changes):
                state.sessions.forget_all()
        except (ValueError, FaultError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(fault_state(state))

    async def reset(_: web.Request) -> web.Response:
        state.faults.reset()
        return web.json_response(fault_state(state))

    return [
        web.get("/emulator/faults", get_faults),
        web.post("/emulator/faults", post_faults),
        web.post("/emulator/reset", reset),
    ]
