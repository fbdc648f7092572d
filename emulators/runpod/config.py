"""Command-line settings of the RunPod emulator, read once at start (docs/emulators.md)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_API_KEY = "local-dev-key"
DEFAULT_FAULT_STATUSES: tuple[int | str, ...] = (429, 502, 503)

# policy.executionTimeout ranges from 5 s to 7 days (§1.3).
MIN_EXECUTION_TIMEOUT_MS = 5_000
MAX_EXECUTION_TIMEOUT_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Settings:
    """Everything the command line can set; the endpoint's live settings start from these."""

    host: str = "127.0.0.1"
    port: int = 8900
    endpoint_id: str = "local"
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    readonly_api_keys: tuple[str, ...] = ()
    workers_min: int = 0
    workers_max: int = 3
    cold_start: float = 0.0
    idle_timeout: int = 5
    execution_timeout_ms: int = 600_000
    rate_limit: int | None = None
    run_retention: float = 1800.0
    runsync_retention: float = 60.0
    fault_rate: float = 0.0
    fault_statuses: tuple[int | str, ...] = DEFAULT_FAULT_STATUSES
    fault_timeout: float = 30.0
    drop_rate: float = 0.0
    response_delay: float = 0.0
    webhook_retry_interval: float = 10.0
    worker_command: tuple[str, ...] = ()

    @property
    def callback_host(self) -> str:
        """The host workers use to reach us: a wildcard bind address becomes loopback."""
        if self.host in ("", "0.0.0.0"):  # noqa: S104 - comparing, not binding
            return "127.0.0.1"
        if self.host == "::":
            return "[::1]"
        return f"[{self.host}]" if ":" in self.host else self.host


def parse_fault_statuses(text: str) -> tuple[int | str, ...]:
    """`"429,502,timeout"` → `(429, 502, "timeout")`; raises ValueError on anything else."""
    statuses: list[int | str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "timeout":
            statuses.append("timeout")
            continue
        status = int(part)
        if not 400 <= status <= 599:
            raise ValueError(f"{status} is not an HTTP error status")
        statuses.append(status)
    if not statuses:
        raise ValueError("give at least one status")
    return tuple(statuses)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _statuses(text: str) -> tuple[int | str, ...]:
    try:
        return parse_fault_statuses(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.runpod",
        description="Local RunPod serverless emulator. After `--` comes the worker command.",
        usage="%(prog)s [options] -- <worker command ...>",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--endpoint", dest="endpoint_id", default="local")
    parser.add_argument("--api-key", dest="api_keys", action="append", default=None)
    parser.add_argument("--readonly-api-key", dest="readonly_api_keys", action="append")
    parser.add_argument("--workers-min", type=int, default=0)
    parser.add_argument("--workers-max", type=int, default=3)
    parser.add_argument("--cold-start", type=_non_negative, default=0.0)
    parser.add_argument("--idle-timeout", type=int, default=5, help="seconds, 1..3600")
    parser.add_argument(
        "--execution-timeout", dest="execution_timeout_ms", type=int, default=600_000
    )
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per 10 s per route")
    parser.add_argument("--run-retention", type=_non_negative, default=1800.0)
    parser.add_argument("--runsync-retention", type=_non_negative, default=60.0)
    parser.add_argument("--fault-rate", type=_fraction, default=0.0)
    parser.add_argument("--fault-statuses", type=_statuses, default=DEFAULT_FAULT_STATUSES)
    parser.add_argument("--fault-timeout", type=_non_negative, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--drop-rate", type=_fraction, default=0.0)
    parser.add_argument("--response-delay", type=_non_negative, default=0.0)
    # Undocumented: lets tests run webhook retries without waiting 10 s each (§1.3).
    parser.add_argument(
        "--webhook-retry-interval", type=_non_negative, default=10.0, help=argparse.SUPPRESS
    )
    return parser


def parse_args(argv: Sequence[str]) -> Settings:
    """Parse `[options] -- <worker command>`; exits with a usage message on bad input."""
    argv = list(argv)
    worker_command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, worker_command = argv[:split], argv[split + 1 :]
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers_min < 0 or args.workers_max < 0:
        parser.error("--workers-min and --workers-max must not be negative")
    if args.workers_min > args.workers_max:
        parser.error("--workers-min must not exceed --workers-max")
    if not 1 <= args.idle_timeout <= 3600:
        parser.error("--idle-timeout must be between 1 and 3600 seconds")
    if not MIN_EXECUTION_TIMEOUT_MS <= args.execution_timeout_ms <= MAX_EXECUTION_TIMEOUT_MS:
        parser.error("--execution-timeout must be between 5000 ms and 7 days")
    if args.rate_limit is not None and args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")
    return Settings(
        host=args.host,
        port=args.port,
        endpoint_id=args.endpoint_id,
        api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
        readonly_api_keys=tuple(args.readonly_api_keys or ()),
        workers_min=args.workers_min,
        workers_max=args.workers_max,
        cold_start=args.cold_start,
        idle_timeout=args.idle_timeout,
        execution_timeout_ms=args.execution_timeout_ms,
        rate_limit=args.rate_limit,
        run_retention=args.run_retention,
        runsync_retention=args.runsync_retention,
        fault_rate=args.fault_rate,
        fault_statuses=args.fault_statuses,
        fault_timeout=args.fault_timeout,
        drop_rate=args.drop_rate,
        response_delay=args.response_delay,
        webhook_retry_interval=args.webhook_retry_interval,
        worker_command=tuple(worker_command),
    )
