"""One RunPod emulator (with the echo worker, one warm worker) shared by a test module."""

from __future__ import annotations

import pytest
import requests

from tests.support.processes import ServerProcess, free_port, python_module


@pytest.fixture(scope="module")
def echo_runpod(tmp_path_factory):
    port = free_port()
    log_dir = tmp_path_factory.mktemp("runpod")
    server = ServerProcess(
        args=[
            *python_module(
                "emulators.runpod",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--endpoint",
                "local",
                "--api-key",
                "local-dev-key",
                "--readonly-api-key",
                "read-only-key",
                "--workers-min",
                "1",
            ),
            "--",
            *python_module("tests.support.echo_worker"),
        ],
        host="127.0.0.1",
        port=port,
        log_path=log_dir / "runpod.log",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def runpod(echo_runpod):
    """The shared emulator with every fault switched off."""
    requests.post(f"{echo_runpod.base_url}/emulator/reset", timeout=5).raise_for_status()
    return echo_runpod
