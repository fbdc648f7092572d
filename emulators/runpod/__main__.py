"""`python -m emulators.runpod [options] -- <worker command>`: run the emulator until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import build_app
from .config import Settings, parse_args
from .state import Emulator

log = logging.getLogger("emulators.runpod")

ACCESS_LOG_FORMAT = '%a "%r" %s %bB %Tfs'
SHUTDOWN_TIMEOUT_SECONDS = 2.0


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s.%(msecs)03d %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then stop every worker process group and exit."""
    emulator = Emulator(settings)
    runner = web.AppRunner(
        build_app(emulator),
        access_log_format=ACCESS_LOG_FORMAT,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1] if runner.addresses else settings.port
    emulator.start(port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    if settings.worker_command:
        log.info("worker command: %s", " ".join(settings.worker_command))
    else:
        log.info("no worker command given (nothing after --): jobs stay IN_QUEUE")
    print(
        f"RunPod emulator listening on http://{settings.host}:{port}/v2 "
        f"(endpoint {settings.endpoint_id})",
        flush=True,
    )
    await stop.wait()
    log.info("shutting down: stopping workers")
    await emulator.shutdown()
    await runner.cleanup()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging()
    try:
        asyncio.run(serve(settings))
    except OSError as error:
        print(f"RunPod emulator could not start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
