"""Write-side model routes: EditModelMetadata, DeleteModel, RenameModel (§4.4, §4.5)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from emulators.swarmui.filenames import strict_filename_clean
from emulators.swarmui.model_classes import find_class
from emulators.swarmui.models import ATTACHED_SUFFIXES, Model, ModelMetadata, ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetadataEdit:
    """The fields of an EditModelMetadata call (a full overwrite)."""

    title: str
    author: str
    type: str
    description: str
    standard_width: int
    standard_height: int
    usage_hint: str
    date: str
    license: str
    trigger_phrase: str
    prediction_type: str
    tags: str
    preview_image: str | None
    is_negative_embedding: bool
    lora_default_weight: str
    lora_default_confinement: str


def edit_metadata(store: ModelStore, model: Model, edit: MetadataEdit) -> None:
    """Apply in memory, then save a `.swarm.json` side file with `modelspec.*` keys."""
    model.metadata = model.metadata or ModelMetadata()
    meta = model.metadata
    meta.title = edit.title if edit.title.strip() else None
    model.description = edit.description
    if edit.type.strip():
        model.model_class = find_class(edit.type)
    if edit.standard_width > 0:
        model.standard_width = edit.standard_width
    if edit.standard_height > 0:
        model.standard_height = edit.standard_height
    if edit.preview_image and edit.preview_image.strip():
        clear = edit.preview_image == "clear"
        model.preview = None if clear else edit.preview_image
    meta.author = edit.author
    meta.usage_hint = edit.usage_hint
    meta.date = edit.date
    meta.license = edit.license
    meta.trigger_phrase = edit.trigger_phrase
    tags = [tag.strip() for tag in edit.tags.split(",") if tag.strip()]
    meta.tags = tags or None
    meta.is_negative_embedding = edit.is_negative_embedding
    meta.lora_default_weight = edit.lora_default_weight
    meta.lora_default_confinement = edit.lora_default_confinement
    meta.prediction_type = edit.prediction_type if edit.prediction_type.strip() else None
    store.edit_id += 1
    saved = model.to_net(loaded=False, preview=model.preview, prefix="modelspec.")
    Path(model.side_base + ".swarm.json").write_text(json.dumps(saved, indent=2))


def delete_model(store: ModelStore, model: Model) -> None:
    """Delete the file and every side file, prune emptied folders, drop it from the list."""
    model.path.unlink(missing_ok=True)
    for suffix in ATTACHED_SUFFIXES:
        Path(model.side_base + suffix).unlink(missing_ok=True)
    _prune_empty(store, model.subtype, model.path.parent)
    store.forget(model)


def rename_model(store: ModelStore, model: Model, new_name: str) -> str | None:
    """Move a model (and side files) to a cleaned new name; an error text, or None."""
    if "." in new_name:
        new_name = new_name.rsplit(".", 1)[0]
    new_name = strict_filename_clean(new_name).strip().strip("/").replace(" ", "_")
    if not new_name.strip():
        return "Model new name is not valid."
    if store.find(model.subtype, new_name):
        return "Model new name is already taken by an existing model."
    root = Path(str(model.path)[: -len(model.name)])
    target = root / f"{new_name}.{model.extension}"
    target.parent.mkdir(parents=True, exist_ok=True)
    model.path.rename(target)
    for suffix in ATTACHED_SUFFIXES:
        side = Path(model.side_base + suffix)
        if side.exists():
            side.rename(root / f"{new_name}{suffix}")
    _prune_empty(store, model.subtype, model.path.parent)
    store.edit_id += 1
    store.refresh(model.subtype)
    return None


def _prune_empty(store: ModelStore, subtype: str, folder: Path) -> None:
    """`AutoFolderRemove`: delete empty folders upwards, never a subtype's own folder."""
    roots = set(store.folders(subtype))
    while folder not in roots and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        log.info("Removed empty model folder %s", folder)
        folder = folder.parent
