"""A broadcast wake-up for long polls: every waiter wakes, then re-checks its own condition."""

from __future__ import annotations

import asyncio
import contextlib


class Notifier:
    """`notify()` wakes everyone currently in `wait()`; waiters never miss a notify made later."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Return on the next `notify()` or after `timeout` seconds, whichever comes first."""
        if timeout <= 0:
            return
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
