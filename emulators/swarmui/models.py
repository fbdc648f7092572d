"""The model store: files under `Models/<folder>/`, their metadata, and model objects (§4.1, §4.2).

Like SwarmUI, the list is scanned into memory and only rescanned on refresh (start, TriggerRefresh,
download, rename); a file dropped into a folder by someone else shows up after a refresh.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from emulators.swarmui.csharp import sort_key
from emulators.swarmui.model_classes import ModelClass, find_class
from emulators.swarmui.safetensors import read_header

log = logging.getLogger(__name__)

# Subtype → folders scanned, merged into one namespace; the first is the download target (§4.1).
SUBTYPE_FOLDERS = {
    "Stable-Diffusion": ["Stable-Diffusion", "tensorrt", "diffusion_models", "unet"],
    "VAE": ["VAE"],
    "LoRA": ["Lora"],
    "Embedding": ["Embeddings"],
    "ControlNet": ["controlnet", "model_patches"],
    "Clip": ["text_encoders", "clip"],
    "ClipVision": ["clip_vision"],
}
NATIVE_EXTENSIONS = {"safetensors", "sft", "engine", "gguf"}
LEGACY_EXTENSIONS = {"ckpt", "pt", "pth", "bin"}
METADATA_SUFFIXES = [".swarm.json", ".json", ".cm-info.json", ".civitai.info"]
PREVIEW_SUFFIXES = [
    ".jpg",
    ".png",
    ".preview.png",
    ".preview.jpg",
    ".jpeg",
    ".preview.jpeg",
    ".thumb.jpg",
    ".thumb.png",
]
ATTACHED_SUFFIXES = METADATA_SUFFIXES + PREVIEW_SUFFIXES
PLACEHOLDER_IMAGE = "imgs/model_placeholder.jpg"
LEGACY_IMAGE = "imgs/legacy_ckpt.jpg"


@dataclass
class ModelMetadata:
    """What SwarmUI keeps per model in its metadata cache (`ModelMetadataStore`)."""

    title: str | None = None
    author: str | None = None
    license: str | None = None
    date: str | None = None
    usage_hint: str | None = None
    trigger_phrase: str | None = None
    merged_from: str | None = None
    prediction_type: str | None = None
    tags: list[str] | None = None
    is_negative_embedding: bool = False
    lora_default_weight: str = ""
    lora_default_confinement: str = ""
    hash: str | None = None
    time_created: int = 0
    time_modified: int = 0


@dataclass
class Model:
    """One model file; `name` is relative to its subtype folder, with extension."""

    subtype: str
    name: str
    path: Path
    description: str | None = None
    preview: str | None = None  # a data URL, or an `imgs/...` placeholder
    model_class: ModelClass | None = None
    standard_width: int = 0
    standard_height: int = 0
    metadata: ModelMetadata | None = field(default=None)

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[-1] if "." in self.name else ""

    @property
    def side_base(self) -> str:
        """The path without extension, to which side-file suffixes are appended."""
        return str(self.path)[: -len(self.extension) - 1] if self.extension else str(self.path)

    def to_net(self, *, loaded: bool, preview: str | None, prefix: str = "") -> dict:
        """`T2IModel.ToNetObject`: every key always present, in SwarmUI's order (§4.2)."""
        meta = self.metadata
        clazz = self.model_class
        fallback = (clazz.standard_width, clazz.standard_height) if clazz else (0, 0)
        data = {
            "name": self.name,
            "title": meta.title if meta else None,
            "author": meta.author if meta else None,
            "description": self.description,
            "preview_image": preview,
            "loaded": loaded,
            "architecture": clazz.id if clazz else None,
            "class": clazz.name if clazz else None,
            "compat_class": clazz.compat.id if clazz else None,
            "resolution": f"{self.standard_width}x{self.standard_height}",
            "standard_width": self.standard_width if self.standard_width > 0 else fallback[0],
            "standard_height": self.standard_height if self.standard_height > 0 else fallback[1],
            "license": meta.license if meta else None,
            "date": meta.date if meta else None,
            "prediction_type": meta.prediction_type if meta else None,
            "usage_hint": meta.usage_hint if meta else None,
            "trigger_phrase": meta.trigger_phrase if meta else None,
            "merged_from": meta.merged_from if meta else None,
            "tags": list(meta.tags) if meta and meta.tags is not None else None,
            "is_supported_model_format": self.extension in NATIVE_EXTENSIONS,
            "is_negative_embedding": meta.is_negative_embedding if meta else False,
            "lora_default_weight": meta.lora_default_weight if meta else "",
            "lora_default_confinement": meta.lora_default_confinement if meta else "",
            "local": True,
            "time_created": meta.time_created if meta else 0,
            "time_modified": meta.time_modified if meta else 0,
            "hash": (meta.hash or "") if meta else "",
            "hash_sha256": (meta.hash or "") if meta else "",
            "special_format": "",
        }
        return {f"{prefix}{key}": value for key, value in data.items()}


# `ModelsAPI.NoneModel`, what DescribeModel answers for "(none)".
NONE_MODEL = Model("Stable-Diffusion", "(None)", Path("(ERROR_NONE_MODEL_USED_LITERALLY)"))
NONE_MODEL.description = "No model selected."


def load_model(subtype: str, name: str, path: Path) -> Model:
    """Build a model object from the file, its safetensors header and its side files."""
    model = Model(subtype, name, path)
    if model.extension in LEGACY_EXTENSIONS:
        model.description = "(None, use '.safetensors' to enable metadata descriptions)"
        model.preview = _side_image(model) or LEGACY_IMAGE
        return model
    header = read_header(path) if model.extension == "safetensors" else {}
    if header is None:  # SwarmUI lists it, but its metadata load fails
        log.warning("Improper safetensors file %s, metadata not loaded", path)
        model.description = "(Metadata not yet loaded.)"
        model.preview = PLACEHOLDER_IMAGE
        return model
    spec = dict(header.get("__metadata__") or {})
    alt_title = None
    for suffix in METADATA_SUFFIXES:
        side = _read_json(Path(model.side_base + suffix))
        spec.update(side)
        alt_title = alt_title or next(
            (str(side[k]) for k in ("UserTitle", "ModelName", "name") if side.get(k)), None
        )

    def value(key: str) -> str | None:
        for candidate in (spec.get(f"modelspec.{key}"), spec.get(key)):
            if candidate is not None and not isinstance(candidate, dict | list):
                return str(candidate)
        return None

    model.model_class = find_class(value("architecture"))
    model.description = value("description") or ""
    model.standard_width, model.standard_height = _resolution(value, spec, model.model_class)
    image = value("preview_image") or value("thumbnail")
    model.preview = image if image and image.startswith("data:image/") else _side_image(model)
    stat = path.stat()
    model.metadata = ModelMetadata(
        title=value("title") or alt_title or path.name.rsplit(".", 1)[0],
        author=value("author"),
        license=value("license"),
        date=value("date"),
        usage_hint=value("usage_hint"),
        trigger_phrase=value("trigger_phrase"),
        merged_from=value("merged_from"),
        prediction_type=value("prediction_type"),
        tags=_tags(spec.get("modelspec.tags")),
        is_negative_embedding=(value("is_negative_embedding") or "").lower() == "true",
        lora_default_weight=value("lora_default_weight") or "",
        lora_default_confinement=value("lora_default_confinement") or "",
        hash=value("hash_sha256"),
        time_created=int(getattr(stat, "st_birthtime", stat.st_mtime) * 1000),
        time_modified=int(stat.st_mtime * 1000),
    )
    return model


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.warning("Ignoring unreadable model metadata %s: %s", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def _resolution(value, spec: dict, clazz: ModelClass | None) -> tuple[int, int]:
    text = value("resolution")
    if text and "x" in text:
        width, _, height = text.partition("x")
        try:
            return int(width), int(height)
        except ValueError:
            return 0, 0
    default = (clazz.standard_width, clazz.standard_height) if clazz else (0, 0)
    try:
        return int(spec.get("standard_width", default[0])), int(
            spec.get("standard_height", default[1])
        )
    except (TypeError, ValueError):
        return default


def _tags(raw: object) -> list[str] | None:
    if isinstance(raw, list):
        return [str(tag) for tag in raw]
    if isinstance(raw, str):
        return [tag.strip() for tag in raw.split(",") if tag.strip()]
    return None


def _side_image(model: Model) -> str | None:
    """A preview image file next to the model, as a data URL."""
    for suffix in PREVIEW_SUFFIXES:
        image = Path(model.side_base + suffix)
        if image.is_file():
            mime = "image/png" if suffix.endswith("png") else "image/jpeg"
            return f"data:{mime};base64,{base64.b64encode(image.read_bytes()).decode()}"
    return None


class ModelStore:
    """All subtypes' model lists, in memory, refreshed from disk on demand."""

    def __init__(self, models_root: Path) -> None:
        self.root = models_root
        self.edit_id = 0  # `ModelsAPI.ModelEditID`, bumped on every metadata change
        self.last_refreshed = time.monotonic()
        self._models: dict[str, dict[str, Model]] = {subtype: {} for subtype in SUBTYPE_FOLDERS}

    def folders(self, subtype: str) -> list[Path]:
        return [self.root / folder for folder in SUBTYPE_FOLDERS[subtype]]

    def refresh(self, subtype: str | None = None) -> None:
        """Rescan one subtype (or all) from disk, creating the folders like SwarmUI does."""
        for kind in [subtype] if subtype else list(SUBTYPE_FOLDERS):
            found: dict[str, Model] = {}
            for folder in self.folders(kind):
                folder.mkdir(parents=True, exist_ok=True)
                for path, name in _model_files(folder):
                    if name not in found:
                        found[name] = load_model(kind, name, path)
            self._models[kind] = found
        if subtype is None:
            self.last_refreshed = time.monotonic()
        (self.root / "upscale_models").mkdir(parents=True, exist_ok=True)

    def models(self, subtype: str) -> list[Model]:
        return sorted(self._models[subtype].values(), key=lambda m: sort_key(m.name))

    def get(self, subtype: str, name: str) -> Model | None:
        """Exact name lookup (EditModelMetadata)."""
        return self._models[subtype].get(name)

    def find(self, subtype: str, name: str) -> Model | None:
        """Name with or without `.safetensors` (DescribeModel, DeleteModel, RenameModel)."""
        return self.get(subtype, name + ".safetensors") or self.get(subtype, name)

    def forget(self, model: Model) -> None:
        self._models[model.subtype].pop(model.name, None)


def _model_files(folder: Path):
    """(path, name) of recognised model files, skipping dot-files and dot-folders."""
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for filename in files:
            extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
            if filename.startswith(".") or extension not in NATIVE_EXTENSIONS | LEGACY_EXTENSIONS:
                continue
            path = Path(directory) / filename
            yield path, path.relative_to(folder).as_posix()
