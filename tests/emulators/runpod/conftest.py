"""Fixtures for the RunPod emulator conformance suite: real emulators with real echo workers.

`endpoint` is one emulator per test module (one warm echo worker, no cold start); a module that
needs other flags overrides `endpoint`, and `api` then talks to that one. Tests that need an
emulator of their own use `start_api(*flags)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.emulators.runpod.helpers import ECHO_WORKER, ONE_WARM_WORKER, RunPodAPI
from tests.support.emulators import runpod_server, started_servers
from tests.support.processes import ServerProcess

ModuleEmulatorFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def start_module_runpod(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ModuleEmulatorFactory]:
    """Like the root `start_runpod`, but the emulators live until the module's tests are done."""
    log_dir = tmp_path_factory.mktemp("runpod")

    def build(
        *flags: str, worker: list[str] | None = ECHO_WORKER, env: dict[str, str] | None = None
    ) -> ServerProcess:
        return runpod_server(log_dir, *flags, worker=worker, env=env)

    with started_servers(build) as start:
        yield start


@pytest.fixture(scope="module")
def endpoint(start_module_runpod: ModuleEmulatorFactory) -> ServerProcess:
    """The module's emulator: exactly one echo worker, kept warm, no cold start."""
    return start_module_runpod(*ONE_WARM_WORKER)


@pytest.fixture
def api(endpoint: ServerProcess) -> Iterator[RunPodAPI]:
    """A client of the module's emulator; jobs it left waiting or running are cancelled after."""
    client = RunPodAPI(endpoint.base_url)
    yield client
    client.cancel_unfinished()


@pytest.fixture
def start_api(start_runpod: Callable[..., ServerProcess]) -> Callable[..., RunPodAPI]:
    """`start_api("--workers-max", "2")` → a client of a fresh emulator of this test's own."""

    def start(
        *flags: str, worker: list[str] | None = ECHO_WORKER, env: dict[str, str] | None = None
    ) -> RunPodAPI:
        return RunPodAPI(start_runpod(*flags, worker=worker, env=env).base_url)

    return start
