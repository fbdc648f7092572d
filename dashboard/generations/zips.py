"""Zip downloads of stored images, streamed: the archive is never whole in memory.

Each file is read from Django storage in chunks while the response is sent; `metadata.json`,
written last, lists every member with its generation's parameters (and any file that was missing
from storage, whose member is then empty).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from zipstream import ZIP_STORED, ZipStream

from dashboard.generations.models import GeneratedImage

logger = logging.getLogger(__name__)
CHUNK_SIZE = 256 * 1024
_EXTENSION = re.compile(r"[a-z0-9]{1,5}")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def member_name(image: GeneratedImage) -> str:
    """`<generation id>-<index>-<seed>.<ext>`: unique in the zip (one image per index) and safe."""
    extension = image.file.name.rsplit(".", 1)[-1].lower() if image.file else ""
    if not _EXTENSION.fullmatch(extension):
        extension = "png"
    seed = image.seed if image.seed is not None else image.generation.seed
    return f"{image.generation_id}-{image.index}-{seed}.{extension}"


def _file_chunks(image: GeneratedImage, missing: list[int]) -> Iterator[bytes]:
    handle = None
    try:
        handle = image.file.storage.open(image.file.name, "rb")
        chunk = handle.read(CHUNK_SIZE)
    except Exception:  # each storage says "not there" its own way (OSError, botocore's errors)
        # Nothing of this member is sent yet: it stays empty and the manifest says why. A
        # failure later in the file cannot be taken back and ends the download instead.
        logger.warning("zip: stored file of image %s is unreadable", image.pk, exc_info=True)
        missing.append(image.pk)
        if handle is not None:
            handle.close()
        return
    with handle:
        while chunk:
            yield chunk
            chunk = handle.read(CHUNK_SIZE)


def _manifest_entry(image: GeneratedImage) -> dict:
    generation = image.generation
    return {
        "file": member_name(image),
        "image_id": image.pk,
        "generation_id": generation.pk,
        "index": image.index,
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "mime": image.mime,
        "bytes": image.bytes,
        "sha256": image.sha256,
        "user": generation.user.get_username() if generation.user else None,
        "created_at": generation.created_at.isoformat(),
        "parameters": generation.parameters(),
    }


def _manifest(images: list[GeneratedImage], missing: list[int]) -> Iterator[bytes]:
    # A generator, so it runs after every image was streamed and knows which files were missing.
    entries = [{**_manifest_entry(image), "missing": image.pk in missing} for image in images]
    yield json.dumps({"images": entries}, indent=2, ensure_ascii=False).encode()


def zip_stream(images: Iterable[GeneratedImage]) -> Iterator[bytes]:
    """The zip of `images` (with their generations loaded), chunk by chunk."""
    images = list(images)
    missing: list[int] = []
    # Images are already compressed: storing them costs no size and saves CPU.
    archive = ZipStream(compress_type=ZIP_STORED)
    for image in images:
        archive.add(_file_chunks(image, missing), member_name(image))
    archive.add(_manifest(images, missing), "metadata.json")
    return iter(archive)


def zip_response(images: Iterable[GeneratedImage], filename: str) -> StreamingHttpResponse:
    """A streamed `application/zip` download of `images`, saved as `filename`."""
    safe = _UNSAFE_FILENAME.sub("-", filename).strip("-.") or "images"
    if not safe.lower().endswith(".zip"):
        safe += ".zip"
    response = StreamingHttpResponse(zip_stream(images), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, safe)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
