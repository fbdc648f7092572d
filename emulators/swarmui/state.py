"""Everything one emulator process knows, built once from the config."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from emulators.swarmui.backend import Backend
from emulators.swarmui.config import EmulatorConfig
from emulators.swarmui.faults import Faults
from emulators.swarmui.models import ModelStore
from emulators.swarmui.outputs import OutputStore
from emulators.swarmui.seeding import seed_models_if_empty
from emulators.swarmui.sessions import SessionStore


class EmulatorState:
    """Sessions, models, outputs, the backend and the faults, plus background work."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        for folder in (config.models_root, config.output_root, config.data_root):
            folder.mkdir(parents=True, exist_ok=True)
        self.faults = Faults.from_config(config)
        self.sessions = SessionStore(config.data_root)
        self.backend = Backend(self.faults, config.boot_delay)
        self.models = ModelStore(config.models_root)
        seed_models_if_empty(self.models)
        self.outputs = OutputStore(config.output_root)
        # Upstream keys set by `SetAPIKey` (reference §7), applied to model downloads.
        self.upstream_keys: dict[str, str] = {}
        self._tasks: set[asyncio.Task] = set()

    def upstream_auth_headers(self, url: str) -> dict[str, str]:
        """The Authorization header SwarmUI adds for Hugging Face and CivitAI downloads."""
        host = urlsplit(url).hostname or ""
        for key_type, domain in (
            ("huggingface_api", "huggingface.co"),
            ("civitai_api", "civitai.com"),
        ):
            key = self.upstream_keys.get(key_type)
            if key and (host == domain or host.endswith("." + domain)):
                return {"Authorization": f"Bearer {key}"}
        return {}

    @property
    def wildcards_root(self) -> Path:
        return self.config.data_root / "Wildcards"

    def spawn(self, work: Coroutine) -> asyncio.Task:
        """Run work that must outlive the request that started it (SwarmUI does not cancel
        generations or downloads when the client goes away)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def forget_sessions_periodically(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.sessions.forget_all()

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


STATE_KEY = web.AppKey("swarmui_state", EmulatorState)
