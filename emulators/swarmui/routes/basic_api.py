"""Sessions, status, interrupts and backends (`BasicAPIFeatures`, `BackendAPI`; §2, §3.4, §6.1)."""

from __future__ import annotations

from emulators.swarmui.framework import Call, Param, Route
from emulators.swarmui.sessions import PERMISSIONS, VERSION


async def get_new_session(call: Call, impersonateUser: str | None) -> dict:
    """Sessionless. Non-auth mode: `X-SWARM-USER_ID` picks the user (`GetUserFor`)."""
    config = call.state.config
    user_id = impersonateUser or call.request.headers.get("X-SWARM-USER_ID") or config.user
    session = call.state.sessions.create(user_id)
    return {
        "session_id": session.id,
        "user_id": session.user_id,
        "output_append_user": True,
        "version": VERSION,
        "server_id": call.state.sessions.server_id,
        "permissions": list(PERMISSIONS),
    }


async def get_current_status(call: Call) -> dict:
    """Counts for this session only."""
    return call.state.backend.current_status([call.session])


async def get_global_status(call: Call) -> dict:
    """Counts summed over every session."""
    return call.state.backend.current_status(call.state.sessions.all())


async def interrupt_all(call: Call, other_sessions: bool) -> dict:
    sessions = call.state.sessions
    targets = sessions.of_user(call.session.user_id) if other_sessions else [call.session]
    for session in targets:
        session.interrupt()
    return {"success": True}


async def list_backends(call: Call, nonreal: bool, full_data: bool) -> dict:
    """An object keyed by backend id string, not an array."""
    return {"0": call.state.backend.to_net(full_data=full_data)}


UPSTREAM_KEY_TYPES = ("stability_api", "civitai_api", "huggingface_api")


async def set_api_key(call: Call, keyType: str, key: str) -> dict:
    """Stores an upstream key for downloads; `"none"` removes it (§7)."""
    if keyType not in UPSTREAM_KEY_TYPES:
        return {"error": f"Invalid key type '{keyType}'."}
    if key.strip().lower() == "none":
        call.state.upstream_keys.pop(keyType, None)
    else:
        call.state.upstream_keys[keyType] = key
    return {"success": True}


ROUTES = [
    Route("SetAPIKey", set_api_key, (Param("keyType", "String"), Param("key", "String"))),
    Route("GetNewSession", get_new_session, (Param("impersonateUser", "String", None),)),
    Route("GetCurrentStatus", get_current_status),
    Route("GetGlobalStatus", get_global_status),
    Route("InterruptAll", interrupt_all, (Param("other_sessions", "Boolean", False),)),
    Route(
        "ListBackends",
        list_backends,
        (Param("nonreal", "Boolean", False), Param("full_data", "Boolean", False)),
    ),
]
