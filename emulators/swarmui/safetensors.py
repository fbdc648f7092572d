"""Reading and writing the safetensors container: 8-byte LE header length, JSON header, data."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

MAX_HEADER = 100 * 1024 * 1024  # SwarmUI refuses headers longer than this


def read_header(path: Path) -> dict | None:
    """The JSON header, or None if the file is not a readable safetensors file."""
    try:
        with path.open("rb") as file:
            (length,) = struct.unpack("<q", file.read(8))
            if not 0 <= length <= MAX_HEADER:
                return None
            header = json.loads(file.read(length).decode("utf-8"))
    except (OSError, struct.error, ValueError):
        return None
    return header if isinstance(header, dict) else None


def tensor_hash(path: Path) -> str | None:
    """SwarmUI's tensor hash: `0x` + SHA-256 of everything after the header."""
    try:
        with path.open("rb") as file:
            (length,) = struct.unpack("<q", file.read(8))
            if not 0 <= length <= MAX_HEADER:
                return None
            file.seek(8 + length)
            return "0x" + hashlib.file_digest(file, "sha256").hexdigest()
    except (OSError, struct.error):
        return None


def write_model(path: Path, metadata: dict[str, str], data: bytes) -> None:
    """Write a one-tensor safetensors file (F32 vector) carrying `__metadata__`."""
    header = {
        "__metadata__": metadata,
        "emulator.weight": {
            "dtype": "F32",
            "shape": [len(data) // 4],
            "data_offsets": [0, len(data)],
        },
    }
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the format pads the header to 8 bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<q", len(encoded)) + encoded + data)
