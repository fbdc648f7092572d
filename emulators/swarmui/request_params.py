"""Turning a generation request body into validated parameters (`T2IAPI.RequestToParams`,
`T2IParamTypes.ValidateParam`; reference §3.1)."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulators.swarmui.csharp import (
    csharp_double,
    csharp_text,
    parse_csharp_decimal,
    parse_csharp_integer,
)
from emulators.swarmui.models import ModelStore
from emulators.swarmui.params import ParamType, find_param

log = logging.getLogger(__name__)

SKIPPED_KEYS = {"session_id", "presets", "extra_metadata"}
LIST_SEPARATOR = "\n|||\n"
_BASE64 = re.compile(r"^[A-Za-z0-9+/=]*$")


class ParamError(Exception):
    """A request the user can fix; the message is sent as `{"error": ...}`."""


@dataclass
class GenerationRequest:
    """Validated parameters by id, in the order they were set (that order is the metadata's)."""

    request_time: datetime
    values: dict[str, Any] = field(default_factory=dict)
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def get(self, param_id: str, default: Any = None) -> Any:
        return self.values.get(param_id, default)

    @property
    def model_name(self) -> str | None:
        name = self.values.get("model")
        return None if name in (None, "(None)") else name


def clean_generic(text: str) -> str:
    """`CleanNameGeneric`: lower-case, spaces and square brackets removed."""
    return text.lower().replace(" ", "").replace("[", "").replace("]", "").strip()


def clean_model_name(name: str) -> str:
    """`CleanModelName`: a trailing `.safetensors` removed."""
    return name.removesuffix(".safetensors")


def best_in_list(text: str, options: list[str], model_names: bool = False) -> str | None:
    """SwarmUI's fuzzy match: exact (cleaned) match first, else the shortest containing it."""

    def clean(value: str) -> str:
        return clean_generic(clean_model_name(value) if model_names else value)

    target = clean(text)
    best, best_length = None, 999
    for option in options:
        cleaned = clean(option)
        if cleaned == target:
            return option
        if target in cleaned and len(cleaned) < best_length:
            best, best_length = option, len(cleaned)
    return best


def param_values(param: ParamType, store: ModelStore) -> list[str] | None:
    """The allowed values of a dropdown/list/model parameter, as ListT2IParams shows them."""
    if param.values is not None:
        return list(param.values)
    if param.dynamic_values == "vae":
        return ["None", *(clean_model_name(m.name) for m in store.models("VAE"))]
    if param.dynamic_values == "loras":
        return sorted(["(None)", *(clean_model_name(m.name) for m in store.models("LoRA"))])
    if param.dynamic_values == "refiner":
        bases = [clean_model_name(m.name) for m in store.models("Stable-Diffusion")]
        return ["(Use Base)", "-----", *bases]
    return None


def value_text(value: Any) -> str:
    """How a JSON value becomes a parameter string: arrays joined with `\\n|||\\n`."""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(csharp_text(item) for item in value)
    return csharp_text(value)


def parse_request(raw: dict, store: ModelStore, request_time: datetime) -> GenerationRequest:
    """Apply every recognised key in request order; unknown keys are only logged (§3.1)."""
    request = GenerationRequest(request_time=request_time)
    request.extra_meta["date"] = request.request_time.strftime("%Y-%m-%d")
    extra = raw.get("extra_metadata")
    if isinstance(extra, dict):
        for key, value in extra.items():
            request.extra_meta[key] = value if isinstance(value, list) else csharp_text(value)
    for key, value in raw.items():
        if key in SKIPPED_KEYS:
            continue
        param = find_param(key)
        if param is None:
            log.warning("T2I request had unrecognized parameter '%s', skipping...", key)
            continue
        text = value_text(value)
        if text == param.ignore_if:
            continue
        try:
            request.values[param.id] = validate(param, text, store)
        except ParamError as err:
            raise ParamError(f"Invalid value for parameter {param.name}: {err}") from err
    presets = raw.get("presets")
    if isinstance(presets, list) and presets:
        log.warning("Presets %s do not exist in the emulator, ignored", presets)
        request.extra_meta["presets_used"] = [csharp_text(p) for p in presets]
    _apply_special_logic(request)
    return request


def _apply_special_logic(request: GenerationRequest) -> None:
    """`T2IParamInput.SpecialParameterHandlers`: random seeds, LoRA weight padding."""
    values = request.values
    if values.get("seed", -1) == -1:
        values["seed"] = random.randrange(2**31 - 1)
    if values.get("variationseed") == -1:
        values["variationseed"] = random.randrange(2**31 - 1)
    loras = values.get("loras")
    if loras is not None:
        weights = list(values.get("loraweights", []))[: len(loras)]
        values["loraweights"] = weights + ["1"] * (len(loras) - len(weights))


def validate(param: ParamType, text: str, store: ModelStore) -> Any:
    """`ValidateParam`: the typed value, or ParamError with SwarmUI's wording."""
    name, kind = param.name, param.type
    if kind == "integer":
        number = parse_csharp_integer(text)
        if number is None:
            raise ParamError(
                f"Invalid integer value for param {name} - '{text}' - must be a valid integer "
                "(eg '0', '3', '-5', etc)"
            )
        _check_range(param, number, "integer", text)
        return number
    if kind == "decimal":
        decimal = parse_csharp_decimal(text)
        if decimal is None:
            raise ParamError(
                f"Invalid decimal value for param {name} - '{text}' - must be a valid decimal "
                "(eg '0.0', '3.5', '-5.2', etc)"
            )
        _check_range(param, decimal, "decimal", text)
        return decimal
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ParamError(
                f"Invalid boolean value for param {name} - '{text}' - must be exactly "
                "'true' or 'false'"
            )
        return text.lower() == "true"
    if kind in ("text", "dropdown"):
        return _validate_choice(param, text, store)
    if kind == "list":
        return _validate_list(param, text, store)
    if kind == "image":
        return _validate_image(param, text)
    if kind == "model":
        options = ["(None)", *(m.name for m in store.models(param.subtype or "Stable-Diffusion"))]
        match = best_in_list(text, options, model_names=True)
        if match is None:
            raise ParamError(
                f"Invalid model value for param {name} - '{text}' - are you sure that model "
                "name is correct?"
            )
        return match
    raise ParamError(f"Unknown parameter type's data type? {kind}")


def _check_range(param: ParamType, number: float, kind: str, text: str) -> None:
    if (param.min or param.max) and not param.min <= number <= param.max:
        raise ParamError(
            f"Invalid {kind} value for param {param.name} - '{text}' - must be between "
            f"{csharp_double(float(param.min))} and {csharp_double(float(param.max))}"
        )


def _validate_choice(param: ParamType, text: str, store: ModelStore) -> str:
    values = param_values(param, store)
    if values is None:
        return text
    raw_values = [v.split("///")[0] for v in values]
    match = best_in_list(text, raw_values)
    if match is None:
        listed = "`, `".join(raw_values)
        raise ParamError(
            f"Invalid value for param {param.name} - '{text}' - must be one of: `{listed}`"
        )
    return match


def _validate_list(param: ParamType, text: str, store: ModelStore) -> list[str]:
    entries = [e.strip() for e in text.replace(LIST_SEPARATOR, ",").split(",") if e.strip()]
    values = param_values(param, store)
    if values is None:
        return entries
    possible = [v.split("///")[0] for v in values]
    matched = []
    for entry in entries:
        match = best_in_list(entry, possible) or best_in_list(
            clean_model_name(entry), possible, model_names=True
        )
        if match is None:
            if len(possible) < 10:
                listed = "`, `".join(possible)
                detail = f"must be one of: `{listed}`"
            else:
                detail = "option does not exist. Has it been deleted?"
            raise ParamError(f"Invalid value for param {param.name} - '{text}' - {detail}")
        matched.append(match)
    return matched


def _validate_image(param: ParamType, text: str) -> str:
    if text.startswith(("inputs/", "raw/", "Starred/")):
        return text
    data = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    if not data.strip():
        return ""
    if not _BASE64.match(data) or len(data) < 10:
        shown = data[:10] + "..." if len(data) > 10 else data
        raise ParamError(
            f"Invalid image value for param {param.name} - '{text}' - must be a valid base64 "
            f"string - got '{shown}'"
        )
    return data
