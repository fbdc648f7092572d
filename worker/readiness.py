"""Wait until SwarmUI can generate: a session, and a backend whose status is `running`.

SwarmUI listens before its backends have loaded, and a first boot installs ComfyUI for minutes
(swarmui-api.md §6.2). Like worker-comfyui (#186, fixed by #197) we wait for as long as the
SwarmUI process that start.sh launched is alive (its PID file), fail at once when it died, and
give up after STARTUP_TIMEOUT.

Waiting only makes sense while something can still come up. A self-started ComfyUI that crashes
before it ever ran stays `errored` until SwarmUI restarts, and AutoRestart relaunches one that
had run after a 2 s pause (`NetworkBackendUtils.DoSelfStart`); a `disabled` backend never starts
by itself. So when every backend is errored or disabled for longer than that restart takes, the
wait ends at once with BackendsDown instead of holding the job until RunPod's execution timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from worker.swarmui_client import (
    SwarmUICancelled,
    SwarmUIClient,
    SwarmUIError,
    SwarmUIUnavailable,
)

log = logging.getLogger(__name__)


class SwarmUIDied(SwarmUIUnavailable):
    """The SwarmUI process start.sh launched is gone; this worker cannot recover by waiting."""


class NotReady(SwarmUIUnavailable):
    """SwarmUI did not become ready within STARTUP_TIMEOUT."""


class BackendsDown(SwarmUIUnavailable):
    """Every SwarmUI backend stayed errored or disabled: nothing will load by waiting."""


@dataclass(frozen=True)
class ProcessState:
    pid: int | None
    alive: bool | None  # None: no PID file, so nothing to watch (SwarmUI runs elsewhere)


def swarmui_process(pid_file: Path | None) -> ProcessState:
    """The SwarmUI process recorded by start.sh, if there is a PID file."""
    if pid_file is None or not pid_file.exists():
        return ProcessState(pid=None, alive=None)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return ProcessState(pid=None, alive=None)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ProcessState(pid=pid, alive=False)
    except PermissionError:
        pass  # exists, owned by someone else
    return ProcessState(pid=pid, alive=_not_zombie(pid))


def _not_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


def running_backends(backends: dict) -> list[str]:
    """Ids of backends whose status is `running` (ListBackends is keyed by id: §6.1)."""
    return [
        str(key)
        for key, backend in backends.items()
        if isinstance(backend, dict) and backend.get("status") == "running"
    ]


def backends_down(backends: dict) -> bool:
    """True when backends are listed and none can still come up on its own (errored/disabled).

    An empty listing is not "down": SwarmUI answers before `Backends.Load()` has read them.
    """
    states = [backend.get("status") for backend in backends.values() if isinstance(backend, dict)]
    return bool(states) and all(state in ("errored", "disabled") for state in states)


def describe_backends(backends: dict) -> str:
    states = [
        f"{key}={backend.get('status', '?')}"
        for key, backend in backends.items()
        if isinstance(backend, dict)
    ]
    return ", ".join(states) or "no backends configured"


def wait_until_ready(
    client: SwarmUIClient,
    *,
    timeout: float,
    pid_file: Path | None,
    need_backend: bool = True,
    down_grace: float = 15.0,
    interval: float = 0.5,
    cancel: threading.Event | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> None:
    """Return once SwarmUI answers (and, with `need_backend`, has a running backend).

    Raises SwarmUIDied as soon as the watched process is gone, BackendsDown once every backend
    has been errored or disabled for `down_grace` seconds, NotReady after `timeout`, and
    SwarmUICancelled when `cancel` is set.
    """
    cancel = cancel or threading.Event()
    deadline = time.monotonic() + timeout
    last_state = "SwarmUI not answering yet"
    reported = ""
    down_since: float | None = None
    while True:
        process = swarmui_process(pid_file)
        if process.alive is False:
            raise SwarmUIDied(
                f"SwarmUI (pid {process.pid}) has exited; see the worker log for its output"
            )
        backends: dict | None = None
        try:
            backends = client.list_backends()
        except SwarmUIUnavailable as error:
            last_state = f"SwarmUI not answering yet ({error})"
        except SwarmUIError as error:
            last_state = f"SwarmUI answered with an error: {error}"
        if backends is not None:
            if running_backends(backends) or not need_backend:
                return
            last_state = f"backends: {describe_backends(backends)}"
            if not backends_down(backends):
                down_since = None
            elif down_since is None:
                down_since = time.monotonic()
            elif time.monotonic() - down_since >= down_grace:
                raise BackendsDown(
                    f"no SwarmUI backend can run ({describe_backends(backends)}) and none "
                    f"restarted within {down_grace:g}s; SwarmUI's log says why"
                )
        if last_state != reported:
            log.info("waiting for SwarmUI: %s", last_state)
            if on_wait is not None:
                on_wait(last_state)
            reported = last_state
        if time.monotonic() >= deadline:
            raise NotReady(
                f"SwarmUI was not ready after {timeout:g}s (STARTUP_TIMEOUT): {last_state}"
            )
        if cancel.wait(interval):
            raise SwarmUICancelled("cancelled while waiting for SwarmUI")
