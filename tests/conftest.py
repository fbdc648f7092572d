"""Fixtures shared by every test package: real emulator processes on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.emulators import runpod_server, started_servers, swarmui_server
from tests.support.processes import ServerProcess

EmulatorFactory = Callable[..., ServerProcess]


def pytest_configure(config: pytest.Config) -> None:
    """Hash test users' passwords with a fast hasher: the suite creates hundreds of users, and
    PBKDF2 costs ~100 ms each. Only this process: servers a test starts keep the real hashers."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def start_swarmui(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """Start SwarmUI emulators: `start_swarmui("--step-delay", "0")` → a running ServerProcess.

    Each gets its own port; the volume is `tmp_path/volume` unless `volume=` is given.
    """

    def build(*extra: str, volume: Path | None = None) -> ServerProcess:
        return swarmui_server(tmp_path, *extra, volume=volume or tmp_path / "volume")

    with started_servers(build) as start:
        yield start


@pytest.fixture
def swarmui(start_swarmui: EmulatorFactory) -> ServerProcess:
    """One SwarmUI emulator with no step delay, its volume seeded on first start."""
    return start_swarmui("--step-delay", "0")


@pytest.fixture
def start_runpod(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """Start RunPod emulators: `start_runpod("--workers-max", "2", worker=[...])`.

    `worker` is the worker command the emulator spawns (after `--`); `env` adds variables.
    """

    def build(
        *extra: str, worker: list[str] | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        return runpod_server(tmp_path, *extra, worker=worker, env=env)

    with started_servers(build) as start:
        yield start
