"""`keep_alive`: hold the worker (and SwarmUI's session) warm for a bounded time, pinging SwarmUI.

The original pinged GetNewSession, creating (and persisting) a new session every ping and
blocking its worker for as long as asked; this pings GetCurrentStatus on the one cached session,
stops at KEEP_ALIVE_MAX_SECONDS and ends at once when the job is cancelled.
"""

from __future__ import annotations

import time

from worker.contract import KeepAliveInput, KeepAliveOutput
from worker.runtime import JobContext
from worker.swarmui_client import SwarmUICancelled, SwarmUIError


def run(ctx: JobContext, request: KeepAliveInput) -> KeepAliveOutput:
    requested = request.duration_seconds
    duration = min(requested, ctx.config.keep_alive_max_seconds)
    interval = request.interval_seconds
    started = time.monotonic()
    pings = failed = 0
    last_error: str | None = None
    while True:
        try:
            ctx.client.current_status()
            pings += 1
            last_error = None
        except SwarmUIError as error:
            failed += 1
            last_error = str(error)
        elapsed = time.monotonic() - started
        ctx.report(
            "keep_alive",
            "keeping warm",
            percent=round(min(100.0 * elapsed / duration, 99.9), 1),
            message=f"{pings} ping(s), {failed} failed",
        )
        remaining = duration - elapsed
        if remaining <= 0:
            break
        if ctx.cancel.wait(min(interval, remaining)):
            raise SwarmUICancelled("keep_alive cancelled")
    return KeepAliveOutput(
        pings=pings,
        failed_pings=failed,
        duration_seconds=round(time.monotonic() - started, 3),
        requested_seconds=requested,
        interval_seconds=interval,
        clamped=duration < requested,
        last_error=last_error,
    )
