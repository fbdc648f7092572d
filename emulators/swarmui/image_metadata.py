"""The metadata JSON string SwarmUI embeds in images and sends as `metadata` (§3.3,
`T2IParamInput.GenFullMetadataObject`): indented, non-ASCII escaped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from emulators.swarmui.models import Model, ModelStore
from emulators.swarmui.params import find_param
from emulators.swarmui.request_params import clean_model_name
from emulators.swarmui.safetensors import tensor_hash
from emulators.swarmui.sessions import VERSION

MODEL_LIST_KEYS = {"loras": "LoRA"}


def image_params(values: dict[str, Any], *, is_preview: bool = False) -> dict[str, Any]:
    """`sui_image_params`: every set parameter, models by clean name, images left out."""
    params: dict[str, Any] = {}
    for key, value in values.items():
        param = find_param(key)
        kind = param.type if param else "text"
        if kind == "image":
            continue
        params[key] = clean_model_name(value) if kind == "model" else value
    if is_preview:
        params["is_preview"] = True
    params["swarm_version"] = VERSION
    return params


def metadata_string(
    values: dict[str, Any],
    extra: dict[str, Any],
    models: list[dict[str, str]],
    *,
    is_preview: bool = False,
) -> str:
    root: dict[str, Any] = {"sui_image_params": image_params(values, is_preview=is_preview)}
    if extra:
        root["sui_extra_data"] = extra
    if models:
        root["sui_models"] = models
    return json.dumps(root, indent=2, ensure_ascii=True)


async def used_models(store: ModelStore, values: dict[str, Any]) -> list[dict[str, str]]:
    """`sui_models`: name, parameter and tensor hash of every model the request used."""
    found: list[tuple[Model, str]] = []
    for key, value in values.items():
        param = find_param(key)
        if param and param.type == "model" and value not in (None, "(None)"):
            model = store.get(param.subtype or "Stable-Diffusion", value)
            if model:
                found.append((model, key))
    for key, subtype in MODEL_LIST_KEYS.items():  # then the model lists, like SwarmUI
        for name in values.get(key, []):
            model = store.find(subtype, name)
            if model:
                found.append((model, key))
    return [
        {"name": model.name, "param": key, "hash": await model_hash(model)} for model, key in found
    ]


async def model_hash(model: Model) -> str | None:
    """`GetOrGenerateTensorHashSha256`: computed once, then kept with the model's metadata."""
    if model.metadata is None:
        return None
    if not model.metadata.hash:
        model.metadata.hash = await asyncio.to_thread(tensor_hash, model.path)
    return model.metadata.hash
