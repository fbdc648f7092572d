"""Benchmark: do warm pools take the cold start out of jobs inside their window, and at what cost?

The RunPod emulator runs the real worker against the SwarmUI emulator with a 20 s cold start. A warm
schedule (1 worker) covers a window on a compressed clock (3 minutes instead of a working day; the
clock is shifted so that the window is Monday 09:00 on the team's wall clock). 20 one-image jobs
arrive at random times outside any window (nothing warm) and 20 inside it. The dashboard's own
`warm_pool_apply` runs every tick, as the beat would (lead time, warm-up job, restore at the end).

- delay_p95 / delay_p50: value = RunPod's `delayTime` inside the window, floor = outside it,
  ratio = value / floor; target for p95 ≤ 0.1
- warm_pool_cost_of_window: value = what the warm worker cost while warm (lead included), floor =
  the nominal cost (warm workers * price * window length, what the page shows), informational

    python tests/benchmarks/warm_pool.py [--jobs 20] [--window-seconds 180] [--cold-start 20]
    python tests/benchmarks/warm_pool.py --quick     # 6 + 6 jobs, 45 s window, 8 s cold start

The last line printed is one JSON object in the format of ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import (
    EMULATOR_API_KEY,
    emulator_endpoint,
    figure,
    log,
    percentile,
    print_result,
)

PRICE_PER_SECOND = "0.00031"  # a 4090 PRO flex worker (runpod.md §5.5)
WINDOW_OPENS = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
TICK_SECONDS = 5.0  # the compressed beat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="jobs inside and outside (20 each)")
    parser.add_argument("--window-seconds", type=float, default=180.0)
    parser.add_argument("--cold-start", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="6 + 6 jobs, 45 s window, 8 s cold")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.window_seconds, args.cold_start = 6, 45.0, 8.0

    workdir = Path(tempfile.mkdtemp(prefix="swarmdeck-warm-bench-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(workdir / "media"),
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    from dashboard.celery import app as celery_app
    from tests.dashboard.stack import start_stack

    # The benchmark drives every step itself: wake-ups go nowhere (no Redis needed).
    celery_app.conf.broker_url = "memory://"
    call_command("migrate", interactive=False, verbosity=0)
    log(f"starting the emulators (cold start {args.cold_start:g} s)")
    stack = start_stack(
        workdir / "cloud",
        runpod_flags=(
            *("--cold-start", str(args.cold_start)),
            # 1 s, not RunPod's default 5 s: the emulator resets a worker's idle clock on each
            # 5 s job-take poll, so with 5 s its idle workers would never scale down.
            *("--workers-max", "3", "--idle-timeout", "1"),
        ),
        swarmui_flags=("--step-delay", "0.05"),
    )
    try:
        return run(args, stack)
    finally:
        stack.stop()


def run(args, stack) -> int:
    from decimal import Decimal

    from django.conf import settings

    from dashboard.accounts.models import Team
    from dashboard.fleet.models import WarmupRun
    from dashboard.fleet.runpod_client import RunPodClient
    from dashboard.fleet.warm_services import schedule_create, warm_pool_apply, warmup_refresh
    from worker.contract import GenerateInput

    lead = args.cold_start + 15  # boot, the worker's start-up and the warm-up job
    settings.WARM_POOL_LEAD_SECONDS = math.ceil(lead)
    team = Team.objects.create(name="Bench", slug="bench", time_zone="UTC")
    endpoint = emulator_endpoint(
        team=team, api_base=stack.api_base, gpu_price_per_second=Decimal(PRICE_PER_SECOND)
    )
    window_end = WINDOW_OPENS + timedelta(seconds=args.window_seconds)
    schedule_create(
        endpoint=endpoint,
        by=None,
        name="compressed working day",
        weekdays=[0],
        start_time=WINDOW_OPENS.time(),
        end_time=window_end.time(),
        warm_workers=1,
    )
    client = RunPodClient(endpoint_id="local", api_key=EMULATOR_API_KEY, api_base=stack.api_base)
    rng = random.Random(args.seed)

    # Real-time plan: outside jobs in [0, W); a gap so they all start before the pool warms;
    # the lead; the window [open, open + W). Virtual time maps `open` to Monday 09:00.
    started = time.monotonic()
    gap = args.cold_start + 10
    opens_at = started + args.window_seconds + gap + lead
    closes_at = opens_at + args.window_seconds

    def virtual_now() -> datetime:
        return WINDOW_OPENS + timedelta(seconds=time.monotonic() - opens_at)

    delays: dict[str, list[float]] = {"inside": [], "outside": []}
    lock = threading.Lock()
    threads: list[threading.Thread] = []

    def one_job(where: str, number: int) -> None:
        job_input = GenerateInput(
            prompt=f"a lighthouse {where} {number}",
            model=endpoint.default_model,
            width=512,
            height=512,
            steps=4,
            seed=number,
        ).to_job_input()
        job_id = client.run(job_input)["id"]
        while True:
            job = client.status(job_id)
            if job["status"] not in ("IN_QUEUE", "IN_PROGRESS"):
                break
            time.sleep(0.25)
        if job["status"] != "COMPLETED":
            raise RuntimeError(f"{where} job {number} ended {job['status']}: {job.get('error')}")
        with lock:
            delays[where].append(job["delayTime"] / 1000)
        log(f"{where} job {number}: delay {job['delayTime'] / 1000:.2f} s")

    def schedule_jobs(where: str, begin: float, length: float) -> None:
        for number, offset in enumerate(sorted(rng.uniform(0, length) for _ in range(args.jobs))):
            timer = threading.Timer(
                max(0.0, begin + offset - time.monotonic()), one_job, (where, number)
            )
            timer.start()
            threads.append(timer)

    schedule_jobs("outside", started, args.window_seconds)
    schedule_jobs("inside", opens_at, args.window_seconds)
    log(
        f"outside jobs for {args.window_seconds:g} s, then the pool warms {lead:g} s before a "
        f"{args.window_seconds:g} s window"
    )

    raised_at = restored_at = None
    while restored_at is None:
        outcome = warm_pool_apply(endpoint=endpoint, now=virtual_now())
        if outcome.error:
            raise RuntimeError(f"apply failed: {outcome.error}")
        if outcome.patched_to == 1 and raised_at is None:
            raised_at = time.monotonic()
            log(f"pool raised to 1 warm worker {opens_at - raised_at:.1f} s before the window")
        elif outcome.patched_to == 0 and raised_at is not None:
            restored_at = time.monotonic()
            log(f"pool restored {restored_at - closes_at:.1f} s after the window closed")
        time.sleep(TICK_SECONDS)
    for thread in threads:
        thread.join()

    warmup = WarmupRun.objects.filter(endpoint=endpoint).first()
    if warmup is not None:
        warmup = warmup_refresh(run_id=warmup.pk)
    price = float(PRICE_PER_SECOND)
    warm_cost = (restored_at - raised_at) * price
    nominal_cost = args.window_seconds * price
    results = []
    for label, share, target in (("p50", 0.5, None), ("p95", 0.95, 0.1)):
        results.append(
            figure(
                f"delay_{label}_inside_vs_outside_window",
                percentile(delays["inside"], share),
                percentile(delays["outside"], share),
                target=target,
                unit="s",
                digits=4,
                ratio_digits=4,
            )
        )
    results.append(
        figure(
            "warm_pool_cost_of_window",
            warm_cost,
            nominal_cost,
            target=None,
            unit="USD",
            digits=6,
            ratio_digits=4,
        )
    )
    details = {
        "jobs_inside": len(delays["inside"]),
        "jobs_outside": len(delays["outside"]),
        "window_seconds": args.window_seconds,
        "cold_start_seconds": args.cold_start,
        "lead_seconds": settings.WARM_POOL_LEAD_SECONDS,
        "warm_seconds": round(restored_at - raised_at, 1),
        "price_per_second": PRICE_PER_SECOND,
        "waiting_saved_seconds": round(sum(delays["outside"]) - sum(delays["inside"]), 1),
        "warmup_load_seconds": warmup.load_seconds if warmup else None,
        "warmup_delay_ms": warmup.delay_ms if warmup else None,
        "max_delay_inside": round(max(delays["inside"]), 3),
        "max_delay_outside": round(max(delays["outside"]), 3),
    }
    print_result("warm_pool", results, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
