"""SwarmUI's rules for what a volume key is (swarmui-api.md §4.1): model or side file, which
subtype, which name; what a `.swarm.json` side file says; which usage folder a key counts in.

Pure functions of strings and bytes: no Django, no S3.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

SWARMUI_ROOT = "SwarmUI"
MODELS_ROOT = f"{SWARMUI_ROOT}/Models/"
# RunPod stages multipart parts here and lists it like any folder (runpod.md §7).
STAGING_FOLDER = ".s3compat_uploads"

# Folders under Models/ → subtype; several folders merge into one namespace (§4.1).
SUBTYPE_FOLDERS: dict[str, tuple[str, ...]] = {
    "Stable-Diffusion": ("Stable-Diffusion", "tensorrt", "diffusion_models", "unet"),
    "LoRA": ("Lora",),
    "VAE": ("VAE",),
    "Embedding": ("Embeddings",),
    "ControlNet": ("controlnet", "model_patches"),
    "Clip": ("text_encoders", "clip"),
    "ClipVision": ("clip_vision",),
}
SUBTYPE_OF_FOLDER = {
    folder: subtype for subtype, folders in SUBTYPE_FOLDERS.items() for folder in folders
}
SUPPORTED_EXTENSIONS = (".safetensors", ".sft", ".engine", ".gguf")
LEGACY_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin")
MODEL_EXTENSIONS = SUPPORTED_EXTENSIONS + LEGACY_EXTENSIONS
METADATA_SUFFIX = ".swarm.json"
# In the order SwarmUI tries them: the first that exists is the model's preview.
PREVIEW_SUFFIXES = (
    ".jpg",
    ".png",
    ".preview.png",
    ".preview.jpg",
    ".jpeg",
    ".preview.jpeg",
    ".thumb.jpg",
    ".thumb.png",
)
SIDE_SUFFIXES = (METADATA_SUFFIX, *PREVIEW_SUFFIXES)
PREVIEW_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}


@dataclass(frozen=True)
class ModelKey:
    """A volume key SwarmUI lists as a model."""

    subtype: str
    name: str  # relative to the subtype folder, with extension: SwarmUI's model name
    supported: bool  # a native format; legacy formats are listed but flagged

    @property
    def stem(self) -> str:
        return strip_extension(self.name)


def folder_of(key: str) -> str:
    """The folder a key is listed in: everything up to and including the last '/'."""
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def strip_extension(name: str) -> str:
    for extension in MODEL_EXTENSIONS:
        if name.endswith(extension):
            return name[: -len(extension)]
    return name


def subtype_of_folder(prefix: str) -> str | None:
    """The subtype whose models a folder (a key prefix ending in '/') may hold, else None."""
    if not prefix.startswith(MODELS_ROOT):
        return None
    top = prefix[len(MODELS_ROOT) :].split("/", 1)[0]
    return SUBTYPE_OF_FOLDER.get(top)


def parse_model_key(key: str) -> ModelKey | None:
    """The model a key is, by SwarmUI's rules, or None (not under a model folder, a dot-file or
    dot-folder, an unknown extension, a directory marker)."""
    subtype = subtype_of_folder(key)
    if subtype is None:
        return None
    name = key[len(MODELS_ROOT) :].partition("/")[2]
    if not name or any(part.startswith(".") or not part for part in name.split("/")):
        return None
    if name.endswith(SUPPORTED_EXTENSIONS):
        return ModelKey(subtype, name, supported=True)
    if name.endswith(LEGACY_EXTENSIONS):
        return ModelKey(subtype, name, supported=False)
    return None


def is_side_file(key: str) -> bool:
    return key.endswith(SIDE_SUFFIXES) and subtype_of_folder(key) is not None


def metadata_key(model_key: str) -> str:
    return strip_extension(model_key) + METADATA_SUFFIX


def preview_keys(model_key: str) -> list[str]:
    """Where the model's preview image may be, in SwarmUI's order of preference."""
    base = strip_extension(model_key)
    return [base + suffix for suffix in PREVIEW_SUFFIXES]


def usage_folders(key: str) -> tuple[str, ...]:
    """The usage folders a key counts in: its top folder, and under SwarmUI/ (and SwarmUI/Models/)
    one level deeper, so the panel can say where a volume's space goes. '/' = the root."""
    parts = key.split("/")
    if len(parts) == 1:
        return ("/",)
    chain = [parts[0]]
    if parts[0] == SWARMUI_ROOT and len(parts) > 2:
        chain.append(f"{parts[0]}/{parts[1]}")
        if parts[1] == "Models" and len(parts) > 3:
            chain.append(f"{parts[0]}/{parts[1]}/{parts[2]}")
    return tuple(chain)


def is_staging_folder(prefix: str) -> bool:
    return prefix.rstrip("/").rsplit("/", 1)[-1] == STAGING_FOLDER


# --- side files -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideMetadata:
    """What a `.swarm.json` side file says about its model."""

    title: str = ""
    architecture: str = ""
    trigger_phrase: str = ""
    description: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # everything else, images left out
    preview: str = ""  # a data URL, when the metadata embeds the preview


class SideFileError(ValueError):
    """A side file we cannot read; the text says what is wrong with it."""


def parse_swarm_json(raw: bytes) -> SideMetadata:
    """SwarmUI writes `modelspec.<key>` (the safetensors header's names); hand-written files often
    use bare keys. Both are read; a `modelspec.` key wins."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SideFileError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SideFileError("not a JSON object")

    def text(*keys: str) -> str:
        for key in keys:
            for candidate in (data.get(f"modelspec.{key}"), data.get(key)):
                if isinstance(candidate, list):
                    candidate = ", ".join(str(item) for item in candidate)
                if candidate not in (None, "") and not isinstance(candidate, dict):
                    return str(candidate).strip()
        return ""

    preview = text("preview_image", "thumbnail")
    return SideMetadata(
        title=text("title", "UserTitle", "ModelName")[:300],
        architecture=text("architecture")[:200],
        trigger_phrase=text("trigger_phrase"),
        description=text("description"),
        fields={
            key: value
            for key, value in data.items()
            if not (isinstance(value, str) and value.startswith("data:"))
        },
        preview=preview if preview.startswith("data:image/") else "",
    )


def decode_data_image(url: str) -> tuple[bytes, str]:
    """(bytes, extension) of a `data:image/<type>;base64,...` URL; SideFileError otherwise."""
    header, _, payload = url.partition(",")
    kind = header.removeprefix("data:image/").split(";", 1)[0].lower()
    extension = {"jpeg": "jpg"}.get(kind, kind)
    if not header.endswith(";base64") or extension not in PREVIEW_TYPES:
        raise SideFileError(f"the embedded preview is not a base64 PNG, JPEG or WebP ({header})")
    try:
        return base64.b64decode(payload, validate=True), extension
    except (binascii.Error, ValueError):
        raise SideFileError("the embedded preview is not valid base64") from None


def preview_extension(key: str) -> str:
    return key.rsplit(".", 1)[-1].lower()
