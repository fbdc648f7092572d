"""The single emulated ComfyUI backend: status, status summary, `ListBackends` object (§6)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from emulators.swarmui.faults import Faults
from emulators.swarmui.sessions import Session

# ComfyUI's feature list (src/BuiltinExtensions/ComfyUIBackend/ComfyUIBackendExtension.cs).
FEATURES = [
    "comfyui",
    "refiners",
    "controlnet",
    "endstepsearly",
    "seamless",
    "video",
    "variation_seed",
    "freeu",
    "yolov8",
    "folderslash",
]

SETTINGS = {
    "StartScript": "dlbackend/ComfyUI/main.py",
    "ExtraArgs": "",
    "DisableInternalArgs": False,
    "AutoUpdate": "false",
    "UpdateManagedNodes": "false",
    "FrontendVersion": "LatestSwarmValidated",
    "EnablePreviews": "true",
    "GPU_ID": "0",
    "OverQueue": 1,
    "AutoRestart": True,
}

# (status, class, message) per summary status, as `BackendHandler.CurrentBackendStatus` says them.
_SUMMARIES = {
    "all_disabled": (
        "error",
        "All backends are disabled. You must enable backends in the Backends section of the "
        "Server tab before you can continue.",
    ),
    "errored": (
        "error",
        "Some backends have errored on the server. Check the server logs for details.",
    ),
    "running": ("", ""),
    "loading": ("soft", "Backends are still loading on the server..."),
    "idle": (
        "warn",
        "All backends are idle. Cannot generate until at least one backend is running.",
    ),
}


class NoBackendsAvailable(Exception):
    """Nothing running and nothing loading (`BackendHandler`: "No backends available!")."""


class Backend:
    """Backend #0, a `comfyui_selfstart` whose status comes from boot delay and faults."""

    def __init__(self, faults: Faults, boot_delay: float) -> None:
        self.faults = faults
        self.boot_deadline = time.monotonic() + boot_delay
        self.current_model: str | None = None
        self.last_release: float | None = None
        self._busy = asyncio.Lock()  # ComfyUI runs one prompt at a time

    def status(self) -> str:
        if self.faults.backend_status is not None:
            return self.faults.backend_status
        return "loading" if time.monotonic() < self.boot_deadline else "running"

    @property
    def enabled(self) -> bool:
        return self.status() != "disabled"

    def features(self) -> list[str]:
        """`supported_features`: features of enabled, non-idle backends."""
        return list(FEATURES) if self.enabled and self.status() != "idle" else []

    def summary(self) -> dict:
        """`backend_status` of `GetCurrentStatus`, evaluated in the order of §3.4."""
        status = self.status()
        if not self.enabled:
            key = "all_disabled"
        elif status in ("loading", "waiting"):
            key = "loading"
        else:
            key = status if status in _SUMMARIES else "idle"
        css_class, message = _SUMMARIES[key]
        return {
            "status": key,
            "class": css_class,
            "message": message,
            "any_loading": status in ("loading", "waiting"),
        }

    def current_status(self, sessions: list[Session]) -> dict:
        """The `GetCurrentStatus` object for these sessions' counters (summed)."""
        counts = {"waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0}
        for session in sessions:
            for name, value in session.status_counts().items():
                counts[name] += value
        return {
            "status": counts,
            "backend_status": self.summary(),
            "supported_features": self.features(),
        }

    def to_net(self, *, full_data: bool) -> dict:
        """One entry of `ListBackends` (`BackendAPI.BackendToNet`)."""
        since = 0 if self.last_release is None else int(time.monotonic() - self.last_release)
        data = {
            "type": "comfyui_selfstart",
            "status": self.status(),
            "id": 0,
            "settings": dict(SETTINGS),
            "modcount": 0,
            "features": list(FEATURES),
            "enabled": self.enabled,
            "title": "",
            "max_usages": 1 + SETTINGS["OverQueue"],
            "seconds_since_used": since,
            "time_since_used": "Never" if self.last_release is None else _ago(since),
            "can_load_models": True,
        }
        if full_data:
            data["current_model"] = self.current_model
        return data

    async def wait_until_running(self, cancelled: Callable[[], bool]) -> bool:
        """Wait while loading; False if cancelled first; raises when nothing can run."""
        while True:
            status = self.status()
            if status == "running":
                return True
            if status not in ("loading", "waiting"):
                raise NoBackendsAvailable
            if cancelled():
                return False
            await asyncio.sleep(0.1)

    async def acquire(self, cancelled: Callable[[], bool]) -> bool:
        """Wait for the backend to be free and running; False if cancelled first."""
        while True:
            if not await self.wait_until_running(cancelled):
                return False
            if not self._busy.locked():
                await self._busy.acquire()  # free: returns without yielding
                return True
            await asyncio.sleep(0.05)

    def release(self) -> None:
        self.last_release = time.monotonic()
        self._busy.release()


def _ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds ago"
    if seconds < 3600:
        return f"{seconds // 60} minutes ago"
    return f"{seconds // 3600} hours ago"
