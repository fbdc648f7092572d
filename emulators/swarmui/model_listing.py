"""Read-side model routes: ListModels path/depth/sort, DescribeModel, wildcards (§4.2-§4.3)."""

from __future__ import annotations

import sys
from pathlib import Path

from emulators.swarmui.csharp import sort_key
from emulators.swarmui.models import NONE_MODEL, PLACEHOLDER_IMAGE, Model, ModelStore

SORT_MODES = {
    "name": "Name",
    "title": "Title",
    "datecreated": "DateCreated",
    "datemodified": "DateModified",
}
WILDCARDS = "Wildcards"


def preview_for_list(model: Model, store: ModelStore, *, data_images: bool) -> str:
    """ListModels shows embedded previews as `/ViewSpecial/...` URLs unless `dataImages`."""
    if model.preview and model.preview.startswith("data:"):
        if data_images:
            return model.preview
        return f"/ViewSpecial/{model.subtype}/{model.name}?editid={store.edit_id}"
    return model.preview or PLACEHOLDER_IMAGE


def net_model(model: Model, store: ModelStore, loaded_name: str | None, **preview_mode) -> dict:
    """The model object; `preview_mode` empty means DescribeModel's data-URL preview."""
    if preview_mode:
        preview = preview_for_list(model, store, **preview_mode)
    else:
        preview = model.preview or (None if model is NONE_MODEL else PLACEHOLDER_IMAGE)
    return model.to_net(loaded=model.name == loaded_name, preview=preview)


def list_models(
    entries: list[tuple[str, str | None, int, int, dict]],
    *,
    path: str,
    depth: int,
    sort_by: str,
    sort_reverse: bool,
) -> dict:
    """Filter (name, title, created, modified, object) entries the way `ListModels` does."""
    depth = min(max(depth, 1), 20)
    path = path.replace("\\", "/")
    if path:
        path += "/"
    while "//" in path:
        path = path.replace("//", "/")
    path = path.lstrip("/")
    folders: dict[str, None] = {}
    files = []
    for entry in sorted(entries, key=lambda e: sort_key(e[0])):
        name = entry[0]
        if not name.startswith(path) or len(name) <= len(path):
            continue
        part = name[len(path) :]
        slashes = part.count("/")
        if slashes:
            subfolders = part.rsplit("/", 1)[0].split("/")
            for i in range(1, min(depth, len(subfolders)) + 1):
                folders["/".join(subfolders[:i])] = None
        if slashes < depth:
            files.append(entry)
    mode = SORT_MODES[sort_by.lower()]
    if mode == "Title":
        files.sort(key=lambda e: (e[1] is not None, sort_key(e[1]), sort_key(e[0])))
    elif mode == "DateCreated":
        files.sort(key=lambda e: (-e[2], sort_key(e[0])))
    elif mode == "DateModified":
        files.sort(key=lambda e: (-e[3], sort_key(e[0])))
    if sort_reverse:
        files.reverse()
    return {"folders": list(folders), "files": [entry[4] for entry in files]}


def model_entries(
    store: ModelStore, subtype: str, loaded_name: str | None, *, data_images: bool
) -> list[tuple[str, str | None, int, int, dict]]:
    entries = []
    for model in store.models(subtype):
        meta = model.metadata
        created = meta.time_created if meta else sys.maxsize
        modified = meta.time_modified if meta else sys.maxsize
        net = net_model(model, store, loaded_name, data_images=data_images)
        entries.append((model.name, net["title"], created, modified, net))
    return entries


def wildcard_entries(wildcards_root: Path) -> list[tuple[str, str | None, int, int, dict]]:
    entries = []
    for name in wildcard_names(wildcards_root):
        card = wildcard_object(wildcards_root, name)
        stat = (wildcards_root / f"{name}.txt").stat()
        modified = int(stat.st_mtime * 1000)
        entries.append((name, name.rsplit("/", 1)[-1], modified, modified, card))
    return entries


def wildcard_names(wildcards_root: Path) -> list[str]:
    """Wildcards are `Data/Wildcards/<name>.txt`, named without the extension."""
    if not wildcards_root.is_dir():
        return []
    names = (p.relative_to(wildcards_root).as_posix()[:-4] for p in wildcards_root.rglob("*.txt"))
    return sorted(names, key=sort_key)


def wildcard_object(wildcards_root: Path, name: str) -> dict | None:
    path = wildcards_root / f"{name}.txt"
    if not path.is_file():
        return None
    raw = path.read_text(encoding="utf-8", errors="replace")
    if len(raw) > 512:
        raw = raw[:512] + "..."
    return {"name": name, "raw": raw, "image": PLACEHOLDER_IMAGE}


def describe(
    store: ModelStore, subtype: str, model_name: str, loaded: str | None, wildcards: Path
) -> dict:
    """`DescribeModel`: `\\`→`/`, leading `/` dropped, with or without `.safetensors`."""
    name = model_name.replace("\\", "/")
    while "//" in name:
        name = name.replace("//", "/")
    name = name.lstrip("/")
    if subtype == WILDCARDS:
        card = wildcard_object(wildcards, name)
        return card if card is not None else {"error": "Model not found."}
    if subtype == "Stable-Diffusion" and name.lower() == "(none)":
        return {"model": net_model(NONE_MODEL, store, loaded)}
    model = store.find(subtype, name)
    if model is None:
        return {"error": "Model not found."}
    return {"model": net_model(model, store, loaded)}
