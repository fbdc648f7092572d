"""Fixtures for the SwarmUI emulator conformance suite: real emulators, raw HTTP and WebSocket.

Almost every test gets a fresh emulator on a fresh volume (start-up takes a fraction of a
second), so tests that delete, rename or generate never see each other's state; only tests that
merely inspect one expensive shared result use a module-scoped emulator (`start_module_api`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.emulators.swarmui.helpers import SwarmAPI, write_safetensors
from tests.support.emulators import started_servers, swarmui_server
from tests.support.processes import ServerProcess

ApiFactory = Callable[..., SwarmAPI]


@pytest.fixture
def api(swarmui: ServerProcess) -> SwarmAPI:
    """A client of one emulator with no step delay, on a freshly seeded volume."""
    return SwarmAPI(swarmui)


@pytest.fixture
def emulator_survives(api: SwarmAPI) -> Iterator[None]:
    """Use with `pytest.mark.usefixtures`: after the test the emulator must still serve."""
    yield
    assert api.still_serves(), "the emulator stopped serving good requests"


@pytest.fixture
def start_api(start_swarmui: Callable[..., ServerProcess]) -> ApiFactory:
    """`start_api("--step-delay", "0.02", volume=...)` → a client of a new emulator."""

    def start(*flags: str, volume: Path | None = None) -> SwarmAPI:
        return SwarmAPI(start_swarmui(*flags, volume=volume))

    return start


@pytest.fixture(scope="module")
def start_module_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiFactory]:
    """Like `start_api`, but the emulator lives until the module's tests are done: for tests
    that only read one shared, expensive result."""
    root = tmp_path_factory.mktemp("swarmui")
    with started_servers(lambda *flags: swarmui_server(root, *flags)) as start:
        yield lambda *flags: SwarmAPI(start(*flags))


@pytest.fixture
def slow_api(start_api: ApiFactory) -> SwarmAPI:
    """An emulator that spends 20 ms per sampling step (the default), so progress is visible."""
    return start_api("--step-delay", "0.02")


@pytest.fixture
def api_with_models(start_api: ApiFactory, tmp_path: Path) -> Callable[..., SwarmAPI]:
    """`api_with_models("Stable-Diffusion/A/a.safetensors", ...)`: an emulator whose volume holds
    exactly these files under `SwarmUI/Models/` (so nothing is seeded). `.safetensors` files are
    valid ones, other files get a few bytes; each file is modified 100 s after the previous one."""

    def start(*model_files: str) -> SwarmAPI:
        models = tmp_path / "own-volume" / "SwarmUI" / "Models"
        oldest = time.time() - 100 * (len(model_files) + 1)
        for index, name in enumerate(model_files):
            path = models / name
            if name.endswith(".safetensors"):
                write_safetensors(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"not a real model")
            os.utime(path, (oldest + 100 * index,) * 2)
        return start_api("--step-delay", "0", volume=tmp_path / "own-volume")

    return start
