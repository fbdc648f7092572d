"""SwarmUI's filename cleaning and user-path checks (`Utilities.StrictFilenameClean`,
`WebServer.CheckFilePath`), used for output names, model names and history paths."""

from __future__ import annotations

import os
from pathlib import Path

_FORBIDDEN = set('<>:"\\|?*~&@;#$^')
_INVISIBLE = set(
    "\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062"
    "\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206e\u206f\ufeff\ufff9\ufffa\ufffb"
)
_RESERVED = (
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
UNACCEPTABLE_PATH = "Unacceptable path. If you are the server owner, check program console log."


def drop_forbidden(text: str) -> str:
    """Remove control characters and `< > : " \\ | ? * ~ & @ ; # $ ^`."""
    return "".join(c for c in text if ord(c) >= 32 and c not in _FORBIDDEN)


def strict_filename_clean(name: str) -> str:
    """Forbidden characters and every `.` dropped, `/` kept, parts trimmed, reserved names
    suffixed with `_`."""
    name = drop_forbidden(name.replace("\\", "/")).replace(".", "")
    name = "".join(c for c in name if c not in _INVISIBLE)
    while "//" in name:
        name = name.replace("//", "/")
    name = name.lstrip("/").strip()
    parts = [part.strip() for part in name.split("/") if part.strip()]
    return "/".join(f"{part}_" if part.lower() in _RESERVED else part for part in parts)


def check_file_path(root: Path, path: str) -> Path | None:
    """Resolve a user-given path under `root`; None if it would escape (SwarmUI: `bad_path`)."""
    path = drop_forbidden(path.replace("\\", "/").replace("%20", " "))
    while ".." in path:
        path = path.replace("..", "")
    joined = f"{root.as_posix()}/{path.strip()}"
    while "//" in joined:
        joined = joined.replace("//", "/")
    resolved = Path(os.path.abspath(joined.rstrip("/") or "/"))
    if resolved != root and root not in resolved.parents:
        return None
    return resolved
