"""Per-endpoint rate limits of the job API (§1.5): requests per 10 s and concurrent requests."""

from __future__ import annotations

import math
import time
from collections import deque

WINDOW_SECONDS = 10.0

# Route family → (requests per 10 s, concurrent requests); None means no limit. /health and
# /retry have no published limit: only `--rate-limit N` limits them.
BASE_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "runsync": (2000, 400),
    "run": (1000, 200),
    "status": (2000, 400),
    "stream": (2000, 400),
    "cancel": (100, 20),
    "purge-queue": (2, None),
    "retry": (None, None),
    "health": (None, None),
}


class RateLimiter:
    """Sliding 10 s windows per route family; `--rate-limit N` sets every family's limit."""

    def __init__(self, override: int | None = None) -> None:
        self.override = override
        self._hits: dict[str, deque[float]] = {family: deque() for family in BASE_LIMITS}
        self._in_flight: dict[str, int] = dict.fromkeys(BASE_LIMITS, 0)

    def limit(self, family: str) -> int | None:
        return self.override if self.override is not None else BASE_LIMITS[family][0]

    def admit(self, family: str) -> float | None:
        """Count one request. None when allowed (call `release` after); else seconds to wait."""
        now = time.monotonic()
        hits = self._hits[family]
        while hits and now - hits[0] >= WINDOW_SECONDS:
            hits.popleft()
        limit = self.limit(family)
        if limit is not None and len(hits) >= limit:
            return max(1.0, math.ceil(WINDOW_SECONDS - (now - hits[0])))
        concurrent = BASE_LIMITS[family][1]
        if concurrent is not None and self._in_flight[family] >= concurrent:
            return 1.0
        hits.append(now)
        self._in_flight[family] += 1
        return None

    def release(self, family: str) -> None:
        self._in_flight[family] = max(0, self._in_flight[family] - 1)

    def reset(self) -> None:
        for hits in self._hits.values():
            hits.clear()
