"""Start the emulated cloud a generation runs on: SwarmUI + RunPod emulators + the real worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.emulators import WORKER_HANDLER, runpod_server, swarmui_server
from tests.support.processes import ServerProcess


@dataclass
class Stack:
    swarmui: ServerProcess
    runpod: ServerProcess
    volume: Path

    @property
    def api_base(self) -> str:
        return f"{self.runpod.base_url}/v2"

    def jobs(self) -> list[dict]:
        return requests.get(f"{self.runpod.base_url}/emulator/state", timeout=5).json()["jobs"]

    def faults(self, **changes) -> dict:
        response = requests.post(f"{self.runpod.base_url}/emulator/faults", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        requests.post(f"{self.runpod.base_url}/emulator/reset", timeout=5).raise_for_status()
        requests.post(f"{self.swarmui.base_url}/emulator/reset", timeout=5).raise_for_status()

    def stop(self) -> None:
        self.runpod.stop()
        self.swarmui.stop()


def start_stack(
    directory: Path,
    *,
    runpod_flags: tuple[str, ...] = (),
    swarmui_flags: tuple[str, ...] = ("--step-delay", "0"),
    worker_env: dict[str, str] | None = None,
) -> Stack:
    volume = directory / "volume"
    swarmui = swarmui_server(directory, *swarmui_flags, volume=volume).start()
    runpod = runpod_server(
        directory,
        *("--endpoint", "local", "--api-key", "local-dev-key", *runpod_flags),
        worker=WORKER_HANDLER,
        env={
            "SWARMUI_API_URL": swarmui.base_url,
            "VOLUME_PATH": str(volume),
            "SWARMUI_PID_FILE": "",
            **(worker_env or {}),
        },
    )
    try:
        runpod.start()
    except Exception:
        swarmui.stop()
        raise
    return Stack(swarmui=swarmui, runpod=runpod, volume=volume)
