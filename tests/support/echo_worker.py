"""A tiny RunPod worker for emulator tests: the runpod SDK's real job loop around a toy handler.

Run by the RunPod emulator as `python -m tests.support.echo_worker`. The input says what to do:

- `{"echo": X}` → output `{"echo": X, "worker_id": <RUNPOD_POD_ID>}`
- `{"sleep": S, "progress": N}` → sleeps S seconds (cancellable), sending N progress updates
  spread over the first half of it (never right before returning: runpod-python#250), then echoes
- `{"fail": "text"}` → returns `{"error": "text"}` (a handler-reported failure)
- `{"raise": "text"}` → raises RuntimeError("text") (a crash the SDK serialises)
- `{"big": N}` → output holds a string of N bytes (for payload-limit tests)

With `ECHO_WORKER_MODE=stream` the handler is a generator: `{"stream": N}` yields N chunks
`{"chunk": i}` and the final output aggregates them.
"""

from __future__ import annotations

import asyncio
import os

import runpod

WORKER_ID = os.environ.get("RUNPOD_POD_ID", "local")


async def handle(job: dict) -> dict:
    job_input = job["input"]
    if "fail" in job_input:
        return {"error": str(job_input["fail"])}
    if "raise" in job_input:
        raise RuntimeError(str(job_input["raise"]))
    if "big" in job_input:
        return {"big": "x" * int(job_input["big"])}
    seconds = float(job_input.get("sleep", 0))
    updates = int(job_input.get("progress", 0))
    for step in range(updates):
        await asyncio.sleep(seconds / 2 / max(updates, 1))
        runpod.serverless.progress_update(job, {"step": step + 1, "of": updates})
    await asyncio.sleep(seconds / 2 if updates else seconds)
    return {"echo": job_input.get("echo"), "worker_id": WORKER_ID}


async def handle_stream(job: dict):
    for index in range(int(job["input"].get("stream", 1))):
        await asyncio.sleep(float(job["input"].get("interval", 0.05)))
        yield {"chunk": index}


if __name__ == "__main__":
    if os.environ.get("ECHO_WORKER_MODE") == "stream":
        runpod.serverless.start({"handler": handle_stream, "return_aggregate_stream": True})
    else:
        runpod.serverless.start({"handler": handle})
