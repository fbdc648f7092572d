"""Read the RunPod emulator's request log: every public API call it answered (aiohttp's access
log) and every fault it injected, with their times, so a test can count calls and retries."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

_TIME = r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) "
ACCESS = re.compile(_TIME + r'aiohttp\.access: \S+ "(\w+) ([^ ?"]+)\S* HTTP/[\d.]+" (\d{3})')
FAULT = re.compile(_TIME + r"emulators\.runpod\.faults: fault injected on (\w+) (\S+): (.+)$")


@dataclass(frozen=True)
class Call:
    at: float  # seconds since midnight, as the emulator logged it
    method: str
    path: str
    outcome: str  # the HTTP status answered, or the injected fault ("429", "timeout", ...)

    @property
    def route(self) -> str:
        """`run`, `status`, `cancel`, ...: the part after /v2/{endpoint}/."""
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 else self.path


def _seconds(match: re.Match) -> float:
    hours, minutes, seconds, millis = (int(group) for group in match.groups()[:4])
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def read_calls(log: str) -> tuple[list[Call], list[Call]]:
    """(answered calls under /v2/, injected faults), each in log order."""
    answered, faults = [], []
    for line in log.splitlines():
        if match := ACCESS.match(line):
            method, path, status = match.groups()[4:]
            if path.startswith("/v2/"):
                answered.append(Call(_seconds(match), method, path, status))
        elif match := FAULT.match(line):
            method, path, kind = match.groups()[4:]
            faults.append(Call(_seconds(match), method, path, kind.strip()))
    return answered, faults


def fault_counts(faults: list[Call], route: str) -> dict[str, int]:
    return dict(Counter(fault.outcome for fault in faults if fault.route == route))


def gaps_after(calls: list[Call], outcome: str) -> list[float]:
    """For each call answered `outcome`, the seconds until the next call on the same path."""
    by_path: dict[str, list[Call]] = {}
    for call in calls:
        by_path.setdefault(call.path, []).append(call)
    gaps = []
    for series in by_path.values():
        for this, following in itertools.pairwise(series):
            if this.outcome == outcome:
                gaps.append(round(following.at - this.at, 3))
    return gaps
