"""Image history: ListImages, DeleteImage, ToggleImageStarred (§5)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from emulators.swarmui.csharp import sort_key
from emulators.swarmui.filenames import UNACCEPTABLE_PATH, check_file_path

HISTORY_EXTENSIONS = {
    "png", "jpg",  # image
    "html",  # special
    "gif", "webp",  # animation
    "webm", "mp4", "mov",  # video
    "mp3", "aac", "wav", "flac",  # audio
}  # fmt: skip
SIDE_SUFFIXES = [".txt", ".metadata.js", ".swarm.json", ".swarmpreview.jpg", ".swarmpreview.webp"]
MAX_IMAGES_IN_HISTORY = 1000
SORT_MODES = {"name": "Name", "date": "Date"}


def read_metadata(path: Path) -> str | None:
    """The metadata string of an output: PNG `parameters` chunk, else a `.swarm.json` file."""
    side = Path(str(path).rsplit(".", 1)[0] + ".swarm.json")
    if side.is_file():
        return side.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".png":
        return None
    try:
        with Image.open(path) as image:
            return image.info.get("parameters")
    except (OSError, UnidentifiedImageError):
        return None


def write_side_metadata(path: Path, metadata: str) -> None:
    """Formats without a metadata chunk keep it in `<name>.swarm.json`."""
    Path(str(path).rsplit(".", 1)[0] + ".swarm.json").write_text(metadata, encoding="utf-8")


def list_images(root: Path, path: str, depth: int, sort_by: str, reverse: bool) -> dict:
    """`ListImages`: folders down to `depth`, files from all but the deepest level."""
    base = check_file_path(root, path)
    if base is None:
        return {"error": UNACCEPTABLE_PATH}
    scanned: list[str] = []  # folders whose files are listed (depth still > 0 below them)
    deepest: list[str] = []

    def add_dirs(folder: str, sub_depth: int) -> None:
        if folder:
            (deepest if sub_depth == 0 else scanned).append(folder)
        if sub_depth <= 0:
            return
        actual = base / folder if folder else base
        if not actual.is_dir():
            return
        subdirs = (d.name for d in actual.iterdir() if d.is_dir())
        for sub in sorted(subdirs, key=sort_key, reverse=True):
            if not sub.startswith("."):
                add_dirs(f"{folder}/{sub}" if folder else sub, sub_depth - 1)

    add_dirs("", depth)
    dirs = sorted(scanned, key=sort_key, reverse=True)
    if reverse:
        dirs.reverse()
    files = []
    for folder in [*dirs, ""]:
        actual = base / folder if folder else base
        if not actual.is_dir():
            continue
        prefix = f"{folder}/" if folder else ""
        for entry in os.scandir(actual):
            name = entry.name
            extension = name.rsplit(".", 1)[-1] if "." in name else ""
            if not entry.is_file() or name.startswith(".") or extension not in HISTORY_EXTENSIONS:
                continue
            if name.endswith((".swarmpreview.jpg", ".swarmpreview.webp")):
                continue
            files.append((prefix + name, entry.stat().st_mtime, Path(entry.path)))
    names = {f[0] for f in files}
    # A raw image that also exists under Starred/ is listed once, as the starred copy.
    files = [f for f in files if f[0].startswith("Starred/") or f"Starred/{f[0]}" not in names]
    if SORT_MODES[sort_by.lower()] == "Name":
        files.sort(key=lambda f: sort_key(f[0]), reverse=True)
    else:
        files.sort(key=lambda f: f[1], reverse=True)
    if reverse:
        files.reverse()
    return {
        "folders": [*dirs, *deepest],
        "files": [
            {"src": src, "metadata": read_metadata(full)}
            for src, _, full in files[:MAX_IMAGES_IN_HISTORY]
        ],
    }


def delete_image(root: Path, path: str) -> dict:
    target = check_file_path(root, path)
    if target is None:
        return {"error": UNACCEPTABLE_PATH}
    if not target.is_file():
        return {"error": "That file does not exist, cannot delete."}
    target.unlink()
    for suffix in SIDE_SUFFIXES:
        Path(str(target).rsplit(".", 1)[0] + suffix).unlink(missing_ok=True)
    return {"success": True}


def toggle_starred(root: Path, path: str) -> dict:
    """Copy to / delete from `Starred/<path>`; a `Starred/...` path is normalised first."""
    path = path.replace("\\", "/").strip("/")
    was_star = path.startswith("Starred/")
    if was_star:
        path = path.removeprefix("Starred/")
    raw = check_file_path(root, path)
    star = check_file_path(root, f"Starred/{path}")
    if raw is None or star is None:
        return {"error": UNACCEPTABLE_PATH}
    if not raw.is_file():
        if was_star and star.is_file():
            _move_with_sides(star, raw, move=True)
            return {"new_state": False}
        return {"error": "That file does not exist, cannot star."}
    if star.is_file():
        star.unlink()
        for suffix in SIDE_SUFFIXES:
            Path(str(star).rsplit(".", 1)[0] + suffix).unlink(missing_ok=True)
        return {"new_state": False}
    _move_with_sides(raw, star, move=False)
    return {"new_state": True}


def _move_with_sides(source: Path, target: Path, *, move: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    transfer = shutil.move if move else shutil.copyfile
    transfer(source, target)
    source_base, target_base = str(source).rsplit(".", 1)[0], str(target).rsplit(".", 1)[0]
    for suffix in SIDE_SUFFIXES:
        if Path(source_base + suffix).is_file():
            transfer(source_base + suffix, target_base + suffix)
