"""`warmup`: load a model with a tiny generation and report how long the load took.

The first job after a cold start pays for loading the model (worker-comfyui#90); the dashboard
sends this right after a worker comes up so real jobs start warm.
"""

from __future__ import annotations

import time

from worker.actions.generate import generate_images
from worker.contract import WarmupInput, WarmupOutput
from worker.runtime import ActionError, JobContext
from worker.swarmui_client import GenerationMessage, GenProgress, SwarmUIError


def run(ctx: JobContext, request: WarmupInput) -> WarmupOutput:
    model = request.model or ctx.config.default_model
    ctx.wait_for_swarmui("warmup", need_backend=True)
    try:
        described = ctx.client.describe_model(model, "Stable-Diffusion")
    except SwarmUIError as error:
        raise ActionError(f"model: {model!r}: {error}") from None
    name = str(described.get("name") or model)
    params = {
        "prompt": "warmup",
        "model": name,
        "images": 1,
        "steps": request.steps,
        "width": request.width,
        "height": request.height,
        "seed": 1,
        "donotsave": True,  # nothing to keep: the image comes back as a data URL (§3.2)
    }
    started = time.monotonic()
    first_step: list[float] = []

    def on_message(message: GenerationMessage, done: int) -> None:
        # Sampling starts once the model is loaded: the first step marks the end of the load.
        if isinstance(message, GenProgress) and not first_step:
            first_step.append(time.monotonic() - started)
            ctx.report("warmup", "model loaded", message=name)

    ctx.report("warmup", "loading model", message=name)
    generate_images(ctx, params, on_message=on_message)
    total = time.monotonic() - started
    return WarmupOutput(
        model=name,
        was_loaded=described.get("loaded") if isinstance(described.get("loaded"), bool) else None,
        load_seconds=round(first_step[0] if first_step else total, 3),
        total_seconds=round(total, 3),
    )
