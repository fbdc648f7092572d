"""Build (not yet started) emulator processes on free ports, for fixtures of any scope."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import ServerProcess, free_port, python_module

WORKER_HANDLER = python_module("worker.handler")


def swarmui_server(log_dir: Path, *flags: str, volume: Path | None = None) -> ServerProcess:
    """A SwarmUI emulator; its volume is `log_dir/volume-<port>` unless given."""
    port = free_port()
    volume = volume or log_dir / f"volume-{port}"
    volume.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        args=python_module(
            "emulators.swarmui",
            *("--host", "127.0.0.1", "--port", str(port), "--volume", str(volume)),
            *flags,
        ),
        host="127.0.0.1",
        port=port,
        log_path=log_dir / f"swarmui-{port}.log",
        volume=volume,
    )


def runpod_server(
    log_dir: Path,
    *flags: str,
    worker: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """A RunPod emulator spawning `worker` (the command after `--`) for each worker."""
    port = free_port()
    args = python_module("emulators.runpod", "--host", "127.0.0.1", "--port", str(port), *flags)
    return ServerProcess(
        args=[*args, "--", *worker] if worker else args,
        host="127.0.0.1",
        port=port,
        log_path=log_dir / f"runpod-{port}.log",
        env=env or {},
    )


def moto_server(log_dir: Path) -> ServerProcess:
    """moto's S3 server: the S3 API of a network volume or of an output bucket."""
    port = free_port()
    return ServerProcess(
        args=[str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        host="127.0.0.1",
        port=port,
        log_path=log_dir / f"moto-{port}.log",
    )


@contextmanager
def started_servers(
    build: Callable[..., ServerProcess],
) -> Iterator[Callable[..., ServerProcess]]:
    """Yield `start(...)`: builds a server with `build(...)` and starts it; all stop on exit."""
    started: list[ServerProcess] = []

    def start(*args, **kwargs) -> ServerProcess:
        server = build(*args, **kwargs).start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
