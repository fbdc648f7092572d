"""The team's rules for generation parameters, with messages that name the field and the fix.

Stricter than the worker's contract (which follows SwarmUI's own limits): these are what a team
on shared GPUs should be allowed to ask for.
"""

from __future__ import annotations

import math
from typing import Any

from worker.contract import normalize_param_id

MAX_PROMPT = 4000
DIMENSION_RANGE = (64, 2048)
STEPS_RANGE = (1, 150)
CFG_RANGE = (0.0, 30.0)
SEED_RANGE = (-1, 2**63 - 1)
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
FORM_FIELDS = (
    "prompt",
    "negative_prompt",
    "model",
    "width",
    "height",
    "steps",
    "cfg_scale",
    "seed",
    "images",
)
CORE_PARAMETERS = {
    "prompt",
    "negativeprompt",
    "model",
    "width",
    "height",
    "steps",
    "cfgscale",
    "seed",
    "images",
    "action",
    "outputmode",
    "extrametadata",
}


def _int(errors: dict, field: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        errors[field] = "Enter a whole number."
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            errors[field] = "Enter a whole number."
            return None
    if not isinstance(value, int):
        errors[field] = "Enter a whole number."
        return None
    if not low <= value <= high:
        errors[field] = f"Must be between {low} and {high}."
        return None
    return value


def _float(errors: dict, field: str, value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool):
        errors[field] = "Enter a number."
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = "Enter a number."
        return None
    if number != number or not low <= number <= high:  # NaN fails too
        errors[field] = f"Must be between {low:g} and {high:g}."
        return None
    return number


def _text(errors: dict, field: str, value: Any, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = "Enter text."
        return ""
    value = value.strip()
    if required and not value:
        errors[field] = "Write a prompt." if field == "prompt" else "This field is required."
    elif len(value) > MAX_PROMPT:
        errors[field] = f"Use at most {MAX_PROMPT} characters (this has {len(value)})."
    return value


def _stem(name: str) -> str:
    lowered = name.lower()
    for suffix in MODEL_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve_model(model: str, known: list[str]) -> str | None:
    """The known model `model` names (exactly, without its extension, or by its file name alone);
    None if the list is known and holds no such model."""
    if not known:
        return model
    for candidate in known:
        if model in (candidate, _stem(candidate)):
            return candidate
    for candidate in known:
        if _stem(model) == _stem(candidate).rsplit("/", 1)[-1]:
            return candidate
    return None


def _model(errors: dict, value: Any, endpoint) -> str:
    model = _text(errors, "model", value, required=False)
    if "model" in errors or endpoint is None:
        return model
    model = model or endpoint.default_model
    if not model:
        errors["model"] = "Choose a model (this endpoint has no default model)."
        return ""
    resolved = resolve_model(model, list(endpoint.known_models or []))
    if resolved is None:
        known = ", ".join(sorted(_stem(name) for name in endpoint.known_models)[:10])
        errors["model"] = f"Unknown model '{model}'. Models on this endpoint: {known}."
        return model
    return resolved


def _extra(errors: dict, value: Any) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors["extra_params"] = "Must be an object of SwarmUI parameters."
        return {}
    for key, item in value.items():
        if normalize_param_id(key) in CORE_PARAMETERS:
            errors["extra_params"] = f"'{key}' has its own field; set it there."
            return {}
        if problem := _unstorable(item):
            errors["extra_params"] = f"'{key}': {problem}"
            return {}
    return dict(value)


def _unstorable(value: Any) -> str:
    """What PostgreSQL's jsonb cannot hold in `value` (NaN, infinities, NUL characters)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite."
    if isinstance(value, str) and "\x00" in value:
        return "text must not contain NUL characters."
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((problem for item in value if (problem := _unstorable(item))), "")
    return ""


def clean_parameters(errors: dict, *, team, endpoint, **raw: Any) -> dict[str, Any]:
    """Validated Generation fields from raw values; problems are added to `errors` by field."""
    low, high = DIMENSION_RANGE
    cleaned = {
        "prompt": _text(errors, "prompt", raw["prompt"], required=True),
        "negative_prompt": _text(errors, "negative_prompt", raw["negative_prompt"], required=False),
        "model": _model(errors, raw["model"], endpoint),
        "width": _int(errors, "width", raw["width"], low, high),
        "height": _int(errors, "height", raw["height"], low, high),
        "steps": _int(errors, "steps", raw["steps"], *STEPS_RANGE),
        "cfg_scale": _float(errors, "cfg_scale", raw["cfg_scale"], *CFG_RANGE),
        "seed": _int(errors, "seed", raw["seed"], *SEED_RANGE),
        "image_count": _int(errors, "images", raw["images"], 1, team.max_images_per_generation),
        "extra_params": _extra(errors, raw["extra_params"]),
    }
    for field in ("width", "height"):
        if cleaned[field] is not None and cleaned[field] % 8:
            errors[field] = f"Must be a multiple of 8 ({cleaned[field]} is not)."
    if "images" in errors:
        errors["images"] = f"Ask for between 1 and {team.max_images_per_generation} images."
    return cleaned


def contract_errors(text: str) -> dict[str, str]:
    """The worker contract's `field: problem; field: problem` as a field → message dict."""
    errors: dict[str, str] = {}
    for part in text.split("; "):
        field, _, message = part.partition(": ")
        name = field.split(".", 1)[0]
        if name not in FORM_FIELDS:  # a SwarmUI parameter passed through extra_params
            name, message = "extra_params", f"'{field}': {message}"
        if name not in errors:
            errors[name] = message[:1].upper() + message[1:] if message else part
    return errors
