"""Model routes (`ModelsAPI`; §4.2-§4.6). Parameter names are SwarmUI's, camelCase and all."""

from __future__ import annotations

from emulators.swarmui.downloads import download_model
from emulators.swarmui.framework import Call, Param, Route
from emulators.swarmui.image_metadata import model_hash
from emulators.swarmui.model_edits import MetadataEdit, delete_model, edit_metadata, rename_model
from emulators.swarmui.model_listing import (
    SORT_MODES,
    WILDCARDS,
    describe,
    list_models,
    model_entries,
    wildcard_entries,
)
from emulators.swarmui.models import SUBTYPE_FOLDERS

INVALID_SUBTYPE = {"error": "Invalid sub-type."}
NOT_FOUND = {"error": "Model not found."}
SUBTYPE = Param("subtype", "String", "Stable-Diffusion")


async def list_models_route(
    call: Call,
    path: str,
    depth: int,
    subtype: str,
    sortBy: str,
    allowRemote: bool,
    sortReverse: bool,
    dataImages: bool,
) -> dict:
    if sortBy.lower() not in SORT_MODES:
        return {"error": f"Invalid sort mode '{sortBy}'."}
    if subtype not in SUBTYPE_FOLDERS and subtype != WILDCARDS:
        return INVALID_SUBTYPE
    state = call.state
    if subtype == WILDCARDS:
        entries = wildcard_entries(state.wildcards_root)
    else:
        loaded = state.backend.current_model
        entries = model_entries(state.models, subtype, loaded, data_images=dataImages)
    return list_models(entries, path=path, depth=depth, sort_by=sortBy, sort_reverse=sortReverse)


async def describe_model(call: Call, modelName: str, subtype: str) -> dict:
    if subtype not in SUBTYPE_FOLDERS and subtype != WILDCARDS:
        return INVALID_SUBTYPE
    state = call.state
    return describe(
        state.models, subtype, modelName, state.backend.current_model, state.wildcards_root
    )


async def edit_model_metadata(
    call: Call, model: str, subtype: str, preview_image_metadata: str | None, **fields
) -> dict:
    """Every field is required; `model` must be the exact name including its extension.
    (`preview_image_metadata` would be embedded in the preview JPEG; previews are kept as sent.)"""
    if subtype not in SUBTYPE_FOLDERS:
        return INVALID_SUBTYPE
    if not model.strip():
        return {"error": "Invalid empty name."}
    target = call.state.models.get(subtype, model)
    if target is None:
        return NOT_FOUND
    edit_metadata(call.state.models, target, MetadataEdit(**fields))
    return {"success": True}


async def delete_model_route(call: Call, modelName: str, subtype: str) -> dict:
    if subtype not in SUBTYPE_FOLDERS:
        return INVALID_SUBTYPE
    model = call.state.models.find(subtype, modelName)
    if model is None:
        return NOT_FOUND
    delete_model(call.state.models, model)
    return {"success": True}


async def rename_model_route(call: Call, oldName: str, newName: str, subtype: str) -> dict:
    if subtype not in SUBTYPE_FOLDERS:
        return INVALID_SUBTYPE
    model = call.state.models.find(subtype, oldName)
    if model is None:
        return NOT_FOUND
    error = rename_model(call.state.models, model, newName)
    return {"error": error} if error else {"success": True}


async def get_model_hash(call: Call, modelName: str, subtype: str) -> dict:
    if subtype not in SUBTYPE_FOLDERS:
        return INVALID_SUBTYPE
    model = call.state.models.find(subtype, modelName)
    if model is None:
        return NOT_FOUND
    return {"hash": await model_hash(model)}


async def do_model_download_ws(
    call: Call, url: str, type: str, name: str, metadata: str | None
) -> None:
    await download_model(call.state, call.ws, url, type, name, metadata)


EDIT_PARAMS = (
    Param("model"),
    Param("title"),
    Param("author"),
    Param("type"),
    Param("description"),
    Param("standard_width", "Int32"),
    Param("standard_height", "Int32"),
    Param("usage_hint"),
    Param("date"),
    Param("license"),
    Param("trigger_phrase"),
    Param("prediction_type"),
    Param("tags"),
    Param("preview_image", "String", None),
    Param("preview_image_metadata", "String", None),
    Param("is_negative_embedding", "Boolean", False),
    Param("lora_default_weight", "String", ""),
    Param("lora_default_confinement", "String", ""),
    SUBTYPE,
)


ROUTES = [
    Route(
        "ListModels",
        list_models_route,
        (
            Param("path"),
            Param("depth", "Int32"),
            SUBTYPE,
            Param("sortBy", "String", "Name"),
            Param("allowRemote", "Boolean", True),
            Param("sortReverse", "Boolean", False),
            Param("dataImages", "Boolean", False),
        ),
    ),
    Route("DescribeModel", describe_model, (Param("modelName"), SUBTYPE)),
    Route("EditModelMetadata", edit_model_metadata, EDIT_PARAMS),
    Route("DeleteModel", delete_model_route, (Param("modelName"), SUBTYPE)),
    Route("RenameModel", rename_model_route, (Param("oldName"), Param("newName"), SUBTYPE)),
    Route("GetModelHash", get_model_hash, (Param("modelName"), SUBTYPE)),
    Route(
        "DoModelDownloadWS",
        do_model_download_ws,
        (Param("url"), Param("type"), Param("name"), Param("metadata", "String", None)),
        websocket=True,
    ),
]
