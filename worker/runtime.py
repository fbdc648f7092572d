"""What one worker process keeps between jobs, and what one job carries through its action."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from worker.config import BucketConfig, WorkerConfig
from worker.contract import ProgressUpdate, normalize_param_id
from worker.outputs import OutputWriter
from worker.progress import ProgressReporter
from worker.readiness import wait_until_ready
from worker.swarmui_client import SwarmUIClient, SwarmUIError, client_from_config

log = logging.getLogger(__name__)

# Upstream API keys SwarmUI applies to its own downloads (SetAPIKey, swarmui-api.md §7).
_KEY_HOSTS = {"huggingface.co": "huggingface_api", "civitai.com": "civitai_api"}


class ActionError(Exception):
    """A problem the caller can fix (unknown model, bad parameter): returned as the job error."""


class Runtime:
    """The SwarmUI client plus what is worth remembering across jobs."""

    def __init__(self, config: WorkerConfig, client: SwarmUIClient | None = None) -> None:
        self.config = config
        self.client = client or client_from_config(config)
        self.outputs = OutputWriter(config, self.client)
        self._lock = threading.Lock()
        self._ready = False
        self._param_ids: frozenset[str] | None = None
        self._keys_sent: set[str] = set()

    def ensure_ready(
        self, cancel: threading.Event, *, need_backend: bool = True, on_wait=None
    ) -> None:
        """Wait (bounded by STARTUP_TIMEOUT) until SwarmUI can serve this kind of job."""
        if self._ready:
            return
        wait_until_ready(
            self.client,
            timeout=self.config.startup_timeout,
            pid_file=self.config.swarmui_pid_file,
            need_backend=need_backend,
            down_grace=self.config.backend_down_grace,
            cancel=cancel,
            on_wait=on_wait,
        )
        if need_backend:
            self._ready = True

    def mark_unready(self) -> None:
        """Check readiness again before the next job (after SwarmUI stopped answering)."""
        self._ready = False

    def known_param_ids(self) -> frozenset[str] | None:
        """Every generation parameter id SwarmUI knows (ListT2IParams), or None if unavailable."""
        with self._lock:
            if self._param_ids is None:
                try:
                    listed = self.client.list_t2i_params().get("list", [])
                except SwarmUIError as error:
                    log.warning("ListT2IParams failed, not checking parameter names: %s", error)
                    return None
                self._param_ids = frozenset(
                    str(item["id"]) for item in listed if isinstance(item, dict) and "id" in item
                )
            return self._param_ids

    def ensure_download_keys(self, url: str) -> None:
        """Hand SwarmUI our Hugging Face / Civitai token before the first download from there."""
        host = (urlsplit(url).hostname or "").lower()
        tokens = {
            "huggingface_api": self.config.huggingface_api_token,
            "civitai_api": self.config.civitai_api_token,
        }
        for suffix, key_type in _KEY_HOSTS.items():
            token = tokens[key_type]
            if not token or not (host == suffix or host.endswith("." + suffix)):
                continue
            with self._lock:
                if key_type in self._keys_sent:
                    continue
                try:
                    self.client.set_api_key(key_type, token)
                    self._keys_sent.add(key_type)
                except SwarmUIError as error:
                    log.warning(
                        "SetAPIKey %s failed (download may still work): %s", key_type, error
                    )


@dataclass
class JobContext:
    """One job as an action sees it."""

    job_id: str
    runtime: Runtime
    progress: ProgressReporter
    cancel: threading.Event
    bucket: BucketConfig

    @property
    def config(self) -> WorkerConfig:
        return self.runtime.config

    @property
    def client(self) -> SwarmUIClient:
        return self.runtime.client

    def report(self, action: str, stage: str, **fields: Any) -> None:
        """Queue a progress update (throttled; see worker.progress)."""
        update = ProgressUpdate(action=action, stage=stage, **fields)
        self.progress.update(update.model_dump(mode="json", exclude_none=True))

    def wait_for_swarmui(self, action: str, *, need_backend: bool) -> None:
        self.runtime.ensure_ready(
            self.cancel,
            need_backend=need_backend,
            on_wait=lambda state: self.report(action, "waiting for SwarmUI", message=state),
        )


def is_known_param(key: str, known: frozenset[str]) -> bool:
    """Whether SwarmUI will use `key` (it ignores unknown keys silently: swarmui-api.md §3.1)."""
    return normalize_param_id(key) in known | _LEGACY_PARAM_IDS


# Ids SwarmUI remaps to newer ones without listing them (T2IParamTypes.cs, §3.1).
_LEGACY_PARAM_IDS = frozenset({"saveintermediateimages", "textvideofps"})
