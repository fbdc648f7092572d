"""`python -m emulators.swarmui`: the command line of docs/emulators.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from emulators.swarmui.app import build_app
from emulators.swarmui.config import EmulatorConfig
from emulators.swarmui.faults import BACKEND_STATUSES
from emulators.swarmui.state import EmulatorState

ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs'


def _non_negative(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text}")
        return value

    return parse


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.swarmui", description="A local stand-in for the SwarmUI API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7801)
    parser.add_argument("--volume", type=Path, required=True, help="the network volume root")
    parser.add_argument("--step-delay", type=_non_negative(float), default=0.02)
    parser.add_argument("--boot-delay", type=_non_negative(float), default=0.0)
    parser.add_argument("--user", default="local")
    parser.add_argument("--backend-status", choices=BACKEND_STATUSES, default=None)
    parser.add_argument("--drop-ws-after-steps", type=_non_negative(int), default=None)
    parser.add_argument("--download-delay", type=_non_negative(float), default=0.0)
    parser.add_argument("--download-fail-rate", type=_rate, default=0.0)
    parser.add_argument("--forget-sessions-every", type=_non_negative(float), default=None)
    args = parser.parse_args(argv)
    return EmulatorConfig(
        volume=args.volume.resolve(),
        host=args.host,
        port=args.port,
        step_delay=args.step_delay,
        boot_delay=args.boot_delay,
        user=args.user,
        backend_status=args.backend_status,
        drop_ws_after_steps=args.drop_ws_after_steps,
        download_delay=args.download_delay,
        download_fail_rate=args.download_fail_rate,
        forget_sessions_every=args.forget_sessions_every,
    )


async def serve(config: EmulatorConfig) -> None:
    """Start, announce readiness on stdout, run until SIGTERM/SIGINT, shut down cleanly."""
    state = EmulatorState(config)
    runner = web.AppRunner(
        build_app(state), access_log_format=ACCESS_LOG_FORMAT, shutdown_timeout=1.0
    )
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    print(
        f"SwarmUI emulator listening on http://{config.host}:{config.port} "
        f"(volume {config.volume})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if config.forget_sessions_every:
        state.spawn(state.forget_sessions_periodically(config.forget_sessions_every))
    await stop.wait()
    await runner.cleanup()  # open requests get `shutdown_timeout`, then are cancelled
    await state.shutdown()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
