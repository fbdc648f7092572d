"""Image bytes from the worker → what we store: verified dimensions, SHA-256, a WebP thumbnail."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


class ImageDataError(ValueError):
    """Bytes that are not an image we can store."""


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    mime: str
    extension: str
    embedded_metadata: dict


def _embedded_metadata(image: Image.Image) -> dict:
    """SwarmUI writes its metadata as JSON text in the PNG `parameters` chunk."""
    text = image.info.get("parameters") if hasattr(image, "info") else None
    if not isinstance(text, str):
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"parameters": text}
    return parsed if isinstance(parsed, dict) else {"parameters": parsed}


def decode_base64(data: str) -> bytes:
    """Base64 with or without a `data:...;base64,` prefix."""
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDataError("the image data is not valid base64") from exc


def prepare_image(content: bytes, *, thumbnail_size: int) -> PreparedImage:
    """Decode once (which also rejects truncated or corrupt data), then make the thumbnail.

    This runs while a webhook or a poll waits, so it favours speed: WebP method 0.
    """
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            image_format = image.format or "PNG"
            width, height = image.size
            embedded = _embedded_metadata(image)
            thumb = (
                image
                if image.mode in ("RGB", "RGBA")
                else image.convert("RGBA" if image.mode in ("LA", "P", "PA") else "RGB")
            )
            thumb.thumbnail((thumbnail_size, thumbnail_size), reducing_gap=2.0)
            buffer = io.BytesIO()
            thumb.save(buffer, "WEBP", quality=80, method=0)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageDataError(f"the worker returned bytes that are not an image ({exc})") from exc
    return PreparedImage(
        content=content,
        thumbnail=buffer.getvalue(),
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
        mime=MIME_TYPES.get(image_format, "application/octet-stream"),
        extension=EXTENSIONS.get(image_format, "bin"),
        embedded_metadata=embedded,
    )
