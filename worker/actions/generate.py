"""`generate`: one text-to-image request over GenerateText2ImageWS, progress forwarded."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from worker.contract import GenerateInput, GenerateOutput, normalize_param_id
from worker.outputs import GeneratedImage
from worker.runtime import ActionError, JobContext, is_known_param
from worker.swarmui_client import (
    GenDiscard,
    GenerationMessage,
    GenImage,
    GenProgress,
    GenStatus,
    SwarmUIConnectionLost,
)

log = logging.getLogger(__name__)

# Top-level keys SwarmUI reads itself instead of as parameters (RequestToParams, §3.1).
_SPECIAL_KEYS = {"extra_metadata", "presets"}


def run(ctx: JobContext, request: GenerateInput) -> GenerateOutput:
    started = time.monotonic()
    params = swarm_parameters(request, default_model=ctx.config.default_model)
    ctx.wait_for_swarmui("generate", need_backend=True)
    check_parameter_names(ctx, request)
    images = generate_images(ctx, params, on_message=_progress_forwarder(ctx, params["images"]))
    mode = request.output_mode or ctx.config.output_mode
    effective, outputs = ctx.runtime.outputs.deliver(
        ctx.job_id, images, mode=mode, base_size=len(json.dumps(params)), bucket=ctx.bucket
    )
    return GenerateOutput(
        images=outputs,
        output_mode=effective,
        parameters=params,
        elapsed_seconds=round(time.monotonic() - started, 3),
    )


def swarm_parameters(request: GenerateInput, *, default_model: str) -> dict[str, Any]:
    """The GenerateText2Image body (without session): flat params < named fields < raw_input."""
    params: dict[str, Any] = {normalize_param_id(k): v for k, v in request.swarm_params.items()}
    named = {
        "prompt": request.prompt,
        "negativeprompt": request.negative_prompt,
        "model": request.model or default_model,
        "width": request.width,
        "height": request.height,
        "steps": request.steps,
        "cfgscale": request.cfg_scale,
        "seed": request.seed,
    }
    params.update({key: value for key, value in named.items() if value is not None})
    if request.extra_metadata:
        params["extra_metadata"] = request.extra_metadata
    images = request.images
    for key, value in (request.raw_input or {}).items():
        if key == "session_id":
            continue
        if key == "images":
            # The original took `images` from raw_input when the job did not set it.
            if "images" not in request.model_fields_set:
                images = _image_count(value)
            continue
        params[key if key in _SPECIAL_KEYS else normalize_param_id(key)] = value
    params["images"] = images
    return params


def _image_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ActionError("raw_input.images: must be an integer")
    try:
        count = int(value)
    except ValueError:
        raise ActionError("raw_input.images: must be an integer") from None
    if not 1 <= count <= 100:
        raise ActionError("raw_input.images: must be between 1 and 100")
    return count


def check_parameter_names(ctx: JobContext, request: GenerateInput) -> None:
    """Refuse parameters SwarmUI would silently ignore (a typo would otherwise do nothing)."""
    if not ctx.config.validate_params:
        return
    given = [*request.swarm_params, *(request.raw_input or {})]
    candidates = [k for k in given if k not in _SPECIAL_KEYS and k not in ("session_id", "images")]
    if not candidates:
        return
    known = ctx.runtime.known_param_ids()
    if known is None:
        return
    unknown = [key for key in candidates if not is_known_param(key, known)]
    if unknown:
        raise ActionError(
            "; ".join(f"{key}: not a SwarmUI parameter (see ListT2IParams)" for key in unknown)
        )


def generate_images(
    ctx: JobContext,
    params: dict[str, Any],
    *,
    on_message: Callable[[GenerationMessage, int], None] | None = None,
) -> list[GeneratedImage]:
    """Run the generation; if the socket drops, interrupt the orphan and ask for the rest again.

    A dropped socket cannot be re-attached (SwarmUI has no per-request resume, §3.3), so the
    images not yet received are requested again, with the seeds SwarmUI would have used.
    """
    deadline = time.monotonic() + ctx.config.generation_timeout
    total = int(params["images"])
    received: list[GeneratedImage] = []
    reconnects_left = ctx.config.ws_reconnect_attempts
    request = dict(params)
    while True:
        batch: list[GeneratedImage] = []
        discarded: set[str] = set()
        try:
            for message in ctx.client.generate(
                request, timeout=max(1.0, deadline - time.monotonic()), cancel=ctx.cancel
            ):
                if isinstance(message, GenImage):
                    batch.append(
                        GeneratedImage(message.image, message.metadata, message.batch_index)
                    )
                elif isinstance(message, GenDiscard):
                    discarded.update(message.indices)
                if on_message is not None:
                    on_message(message, len(received) + len(batch))
            received.extend(image for image in batch if image.batch_index not in discarded)
            break
        except SwarmUIConnectionLost as lost:
            received.extend(batch)
            if reconnects_left <= 0:
                raise SwarmUIConnectionLost(
                    f"{lost}; {len(received)} of {total} image(s) had arrived and "
                    f"{ctx.config.ws_reconnect_attempts} reconnect(s) were tried"
                ) from None
            reconnects_left -= 1
            log.warning("generation socket dropped (%s); interrupting and retrying", lost)
            ctx.client.interrupt_quietly()
            remaining = total - len(received)
            if remaining <= 0:
                break
            request = {**params, "images": remaining}
            seed = _int_or_none(params.get("seed"))
            if seed is not None and seed >= 0:
                request["seed"] = seed + len(received)
    if not received:
        raise ActionError("SwarmUI finished without producing an image (check its log)")
    return received


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _progress_forwarder(ctx: JobContext, total: int) -> Callable[[GenerationMessage, int], None]:
    # SwarmUI's overall fraction can step back a little (progress and preview events divide by
    # different node counts, §3.3); a progress bar should not, so the percent never decreases.
    shown = [0.0]

    def report(stage: str, done: int, percent: float | None = None) -> None:
        if percent is not None:
            shown[0] = max(shown[0], round(min(percent, 99.9), 1))
        ctx.report(
            "generate",
            stage,
            percent=shown[0] if percent is not None else None,
            images_done=done,
            images_total=total,
        )

    def forward(message: GenerationMessage, done: int) -> None:
        if isinstance(message, GenProgress):
            report("generating", done, 100.0 * (min(done, total - 1) + message.overall) / total)
        elif isinstance(message, GenImage):
            report("generating", done, 100.0 * done / total)
        elif isinstance(message, GenStatus) and (stage := _stage(message.status)):
            report(stage, done)

    return forward


def _stage(status: dict[str, Any]) -> str | None:
    if status.get("loading_models"):
        return "loading model"
    if status.get("waiting_backends"):
        return "waiting for a backend"
    if status.get("waiting_gens") and not status.get("live_gens"):
        return "queued"
    return None
