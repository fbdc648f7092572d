"""Benchmark: what the worker adds on top of SwarmUI.

For emulated generation times of 0 s and 1 s (20 steps at 0 and 0.05 s per step), runs one-image
jobs through the RunPod emulator and its real worker process (`python -m worker.handler` in the
runpod SDK's job loop) against the SwarmUI emulator, and as many direct `GenerateText2Image`
calls against the same emulator, interleaved so both see the same machine load.

- value: the job's `executionTime` from `/status` (RunPod's own measure: job taken → result
  posted; it excludes queueing and the SDK's up-to-1-s job-fetch poll, which are not the
  handler's doing; those show up in `details.wall_*`)
- floor: the direct GenerateText2Image call (HTTP, blocking until the image is saved)
- ratio = value / floor; target ≤ 1.10 at 1 s

    python tests/benchmarks/handler_overhead.py [--jobs 100]

The last line printed is one JSON object in the format of ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import EMULATOR_API_KEY, figure, log, percentile, print_result
from tests.support.emulators import WORKER_HANDLER, runpod_server, swarmui_server

STEPS = 20
SCENARIOS = (("0s", 0.0), ("1s", 0.05))  # seconds per step → 0 s and 1 s of generation
WARMUP_JOBS = 3


class Stack:
    """A SwarmUI emulator and a RunPod emulator with one worker process in front of it."""

    def __init__(self, root: Path, step_delay: float) -> None:
        self.swarmui = swarmui_server(root, "--step-delay", str(step_delay))
        self.runpod = runpod_server(
            root,
            *("--endpoint", "bench", "--workers-min", "1", "--workers-max", "1"),
            worker=WORKER_HANDLER,
            env={
                "SWARMUI_PID_FILE": "",
                "VOLUME_PATH": str(self.swarmui.volume),
                "RUNPOD_LOG_LEVEL": "WARN",
            },
        )
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {EMULATOR_API_KEY}"
        self.session_id = ""

    def __enter__(self) -> Stack:
        self.swarmui.start()
        self.runpod.env["SWARMUI_API_URL"] = self.swarmui.base_url
        self.runpod.start()
        self.session_id = self.http.post(
            f"{self.swarmui.base_url}/API/GetNewSession", json={}, timeout=10
        ).json()["session_id"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.runpod.stop()
        self.swarmui.stop()

    def direct(self, index: int) -> float:
        """Seconds for one GenerateText2Image call."""
        body = {"session_id": self.session_id, "images": 1, **generation(index)}
        started = time.perf_counter()
        reply = self.http.post(
            f"{self.swarmui.base_url}/API/GenerateText2Image", json=body, timeout=120
        )
        elapsed = time.perf_counter() - started
        images = reply.json().get("images")
        assert images, reply.text
        return elapsed

    def job(self, index: int) -> tuple[float, float, float]:
        """(executionTime, delayTime, wall) in seconds for one job through RunPod."""
        base = f"{self.runpod.base_url}/v2/bench"
        started = time.perf_counter()
        job_id = self.http.post(
            f"{base}/run", json={"input": generation(index)}, timeout=10
        ).json()["id"]
        while True:
            body = self.http.get(f"{base}/status/{job_id}", timeout=10).json()
            if body["status"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"):
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        assert body["status"] == "COMPLETED", body
        assert body["output"]["images"][0]["type"] == "base64", body["output"]
        return body["executionTime"] / 1000, body["delayTime"] / 1000, wall


def generation(index: int) -> dict:
    return {
        "prompt": f"benchmark image {index}",
        "steps": STEPS,
        "width": 512,
        "height": 512,
        "seed": index,
        "model": "OfficialStableDiffusion/sd_xl_base_1.0",
    }


def run_scenario(root: Path, label: str, step_delay: float, jobs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"job": [], "direct": [], "delay": [], "wall": []}
    with Stack(root / label, step_delay) as stack:
        for index in range(WARMUP_JOBS):
            stack.job(10_000 + index)
            stack.direct(10_000 + index)
        for index in range(jobs):
            samples["direct"].append(stack.direct(index))
            execution, delay, wall = stack.job(index)
            samples["job"].append(execution)
            samples["delay"].append(delay)
            samples["wall"].append(wall)
            if (index + 1) % 10 == 0:
                log(f"{label}: {index + 1}/{jobs} jobs")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs per scenario (default 100)")
    jobs = parser.parse_args().jobs
    results, details = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as tmp:
        for label, step_delay in SCENARIOS:
            samples = run_scenario(Path(tmp), label, step_delay, jobs)
            for name, share in (("p50", 0.50), ("p95", 0.95)):
                results.append(
                    figure(
                        f"{name}_{label}",
                        percentile(samples["job"], share),
                        percentile(samples["direct"], share),
                        target=1.10 if label == "1s" else None,
                        unit="s",
                        digits=4,
                    )
                )
                details[f"wall_{name}_{label}"] = round(percentile(samples["wall"], share), 4)
                details[f"delay_{name}_{label}"] = round(percentile(samples["delay"], share), 4)
            details[f"overhead_p50_{label}_ms"] = round(
                1000 * (percentile(samples["job"], 0.5) - percentile(samples["direct"], 0.5)), 1
            )
    details["jobs_per_scenario"] = jobs
    print_result("handler_overhead", results, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
