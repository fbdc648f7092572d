"""Between a Generation and the worker's job contract (worker/contract.py, shared with the worker).

Builds the `/run` input, reads RunPod's job objects (status, progress, outputs, error texts).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.conf import settings
from pydantic import ValidationError as PydanticValidationError

from worker.contract import (
    ContractError,
    GenerateInput,
    GenerateOutput,
    ImageOutput,
    format_validation_error,
)

if TYPE_CHECKING:
    from dashboard.generations.models import Generation

__all__ = [
    "ContractError",
    "ImageOutput",
    "OutputError",
    "job_input",
    "job_policy",
    "parse_generate_output",
    "progress_of",
    "runpod_error_text",
]


class OutputError(ValueError):
    """A COMPLETED job whose output is not what the contract promises."""


def generate_input(generation: Generation, output_mode: str = "auto") -> GenerateInput:
    """The contract's model of this generation (raises ContractError on bad parameters)."""
    data: dict[str, Any] = {
        "action": "generate",
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt or None,
        "model": generation.model or None,
        "width": generation.width,
        "height": generation.height,
        "steps": generation.steps,
        "cfg_scale": generation.cfg_scale,
        "seed": generation.seed,
        "images": generation.image_count,
        "extra_metadata": {"swarmdeck_generation": str(generation.pk or "")},
        "swarm_params": dict(generation.extra_params or {}),
    }
    if output_mode and output_mode != "auto":
        data["output_mode"] = output_mode
    try:
        return GenerateInput.model_validate(data)
    except PydanticValidationError as exc:
        raise ContractError(format_validation_error(exc, "generate")) from None


def job_input(generation: Generation) -> dict[str, Any]:
    """The flat `input` for RunPod's /run."""
    mode = generation.endpoint.output_mode if generation.endpoint else "auto"
    return generate_input(generation, mode).to_job_input()


def job_policy() -> dict[str, int]:
    """Per-job limits sent with /run (runpod.md §1.3): how long it may run and live."""
    return {
        "executionTimeout": settings.GENERATION_EXECUTION_TIMEOUT_MS,
        "ttl": settings.GENERATION_TTL_MS,
    }


def parse_generate_output(output: Any) -> GenerateOutput:
    if output in (None, {}, []):
        raise OutputError(
            "RunPod reported the job complete but returned no output; the result was probably "
            "too large to return inline (set the endpoint's output mode to volume)."
        )
    try:
        return GenerateOutput.model_validate(output)
    except PydanticValidationError as exc:
        raise OutputError(
            f"the worker's output does not follow the contract: {format_validation_error(exc)}"
        ) from None


def progress_of(output: Any) -> tuple[dict, int | None]:
    """The worker's latest progress update (contract ProgressUpdate) and its percent, if any."""
    if not isinstance(output, dict):
        return {}, None
    percent = output.get("percent")
    if isinstance(percent, (int, float)) and not isinstance(percent, bool):
        return output, max(0, min(100, int(percent)))
    return output, None


def runpod_error_text(error: Any) -> str:
    """A readable text for a FAILED job's `error`: the handler's own string, or the message inside
    the JSON the runpod SDK makes of a raised exception (runpod.md §1.4)."""
    if error is None or error == "":
        return "The job failed without an error message."
    if isinstance(error, str):
        try:
            parsed = json.loads(error)
        except ValueError:
            return error
        error = parsed
    if isinstance(error, dict):
        message = error.get("error_message") or error.get("error") or error.get("message")
        if message:
            kind = str(error.get("error_type", "")).removeprefix("<class '").removesuffix("'>")
            return f"{kind}: {message}" if kind else str(message)
        return json.dumps(error)[:2000]
    return str(error)
