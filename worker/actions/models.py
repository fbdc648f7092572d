"""`list_models`, `describe_model`, `edit_model_metadata`, `delete_model`, `rename_model`
(swarmui-api.md §4)."""

from __future__ import annotations

from typing import Any

from worker.actions.download import clean_model_name, strip_extension
from worker.contract import (
    DeleteModelInput,
    DeleteModelOutput,
    DescribeModelInput,
    DescribeModelOutput,
    EditModelMetadataInput,
    EditModelMetadataOutput,
    ListModelsInput,
    ListModelsOutput,
    RenameModelInput,
    RenameModelOutput,
)
from worker.runtime import ActionError, JobContext
from worker.swarmui_client import SwarmUIError


def list_models(ctx: JobContext, request: ListModelsInput) -> ListModelsOutput:
    ctx.wait_for_swarmui("list_models", need_backend=False)
    params: dict[str, Any] = {
        "path": request.path,
        "depth": request.depth,
        "subtype": request.subtype,
        "allowRemote": request.allow_remote,
    }
    optional = {
        "sortBy": request.sort_by,
        "sortReverse": request.sort_reverse,
        "dataImages": request.data_images,
    }
    params.update({key: value for key, value in optional.items() if value is not None})
    data = ctx.client.list_models(**params)
    return ListModelsOutput(models=data.get("files") or [], folders=data.get("folders") or [])


def describe_model(ctx: JobContext, request: DescribeModelInput) -> DescribeModelOutput:
    ctx.wait_for_swarmui("describe_model", need_backend=False)
    return DescribeModelOutput(model=_describe(ctx, request.model_name, request.subtype))


def edit_model_metadata(
    ctx: JobContext, request: EditModelMetadataInput
) -> EditModelMetadataOutput:
    """A partial edit: SwarmUI overwrites every field (§4.4); the rest comes from DescribeModel."""
    ctx.wait_for_swarmui("edit_model_metadata", need_backend=False)
    current = _describe(ctx, request.model_name, request.subtype)
    fields = current_metadata(current)
    # Absent or null: keep what the model has; "" clears a text field.
    given = request.metadata.model_dump(exclude_none=True)
    if isinstance(given.get("tags"), list):
        given["tags"] = ",".join(tag.strip() for tag in given["tags"])
    fields.update(given)
    # The exact stored name, extension included: EditModelMetadata has no fallback (§4.4).
    name = str(current.get("name") or request.model_name)
    ctx.client.edit_model_metadata({"model": name, "subtype": request.subtype, **fields})
    return EditModelMetadataOutput(model_name=name, metadata=fields)


def delete_model(ctx: JobContext, request: DeleteModelInput) -> DeleteModelOutput:
    ctx.wait_for_swarmui("delete_model", need_backend=False)
    current = _describe(ctx, request.model_name, request.subtype)
    name = str(current.get("name") or request.model_name)
    ctx.client.delete_model(name, request.subtype)
    return DeleteModelOutput(model_name=name, deleted=True)


def rename_model(ctx: JobContext, request: RenameModelInput) -> RenameModelOutput:
    """RenameModel keeps the extension and applies SwarmUI's name rules to the new name (§4.5)."""
    # SwarmUI drops what follows the last dot, cleans the rest like a download name (spaces to
    # `_`, dots dropped) and keeps the old extension: predict that, so the caller can find it.
    wanted = request.new_name.rsplit(".", 1)[0] if "." in request.new_name else request.new_name
    cleaned = clean_model_name(wanted, field="new_name")
    ctx.wait_for_swarmui("rename_model", need_backend=False)
    current = _describe(ctx, request.model_name, request.subtype)
    name = str(current.get("name") or request.model_name)
    ctx.client.rename_model(name, request.new_name, request.subtype)
    extension = name[len(strip_extension(name)) :]
    return RenameModelOutput(model_name=name, new_model_name=f"{cleaned}{extension}")


def current_metadata(model: dict[str, Any]) -> dict[str, Any]:
    """EditModelMetadata's fields as they are now, from a DescribeModel model object."""

    def text(key: str) -> str:
        value = model.get(key)
        return "" if value is None else str(value)

    def number(key: str) -> int:
        try:
            return int(model.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    tags = model.get("tags") or []
    return {
        "title": text("title"),
        "author": text("author"),
        "type": text("architecture"),
        "description": text("description"),
        "standard_width": number("standard_width"),
        "standard_height": number("standard_height"),
        "usage_hint": text("usage_hint"),
        "date": text("date"),
        "license": text("license"),
        "trigger_phrase": text("trigger_phrase"),
        "prediction_type": text("prediction_type"),
        "tags": ",".join(str(tag) for tag in tags) if isinstance(tags, list) else str(tags),
        "is_negative_embedding": bool(model.get("is_negative_embedding")),
        "lora_default_weight": text("lora_default_weight"),
        "lora_default_confinement": text("lora_default_confinement"),
    }


def _describe(ctx: JobContext, name: str, subtype: str) -> dict[str, Any]:
    try:
        return ctx.client.describe_model(name, subtype)
    except SwarmUIError as error:
        if str(error) == "Model not found.":
            raise ActionError(f"model_name: no {subtype} model named {name!r}") from None
        raise
