"""`download_model`: DoModelDownloadWS with progress, cancel, and SwarmUI's naming applied.

SwarmUI stores a download as `<name>.safetensors` (`.gguf` for GGUF URLs) after replacing spaces
with `_` and dropping `.` and a few other characters from the name (swarmui-api.md §4.6), so
`sd_xl_base_1.0` would land as `sd_xl_base_10.safetensors`. We apply the same rules up front and
return the name the file really has, so the caller can find it.

Tokens given with the job (`api_keys`, a team's Hugging Face / CivitAI tokens) are set in SwarmUI
for this download only and replaced by the worker's own (or removed) afterwards.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from worker.contract import DownloadKeys, DownloadModelInput, DownloadModelOutput
from worker.runtime import ActionError, JobContext
from worker.swarmui_client import SwarmUIError

log = logging.getLogger(__name__)

MODEL_EXTENSIONS = (".safetensors", ".sft", ".gguf", ".ckpt", ".pt", ".pth", ".bin")
# Characters SwarmUI's filename cleaner removes, besides control characters (§3.2, §4.6).
_CLEANED = re.compile(r'[<>:"\\|?*~&@;#$^.\x00-\x1f]')


def run(ctx: JobContext, request: DownloadModelInput) -> DownloadModelOutput:
    name, extension = swarm_download_name(request.model_name, request.url)
    ctx.wait_for_swarmui("download_model", need_backend=False)
    ctx.runtime.ensure_download_keys(request.url)
    metadata = request.metadata
    if isinstance(metadata, dict):
        metadata = json.dumps(metadata)
    ctx.report("download_model", "downloading", percent=0.0, message=request.url)
    with _job_keys(ctx, request.api_keys):
        for progress in ctx.client.download_model(
            url=request.url,
            model_type=request.model_type,
            name=name,
            metadata=metadata,
            timeout=ctx.config.download_timeout,
            cancel=ctx.cancel,
        ):
            percent = None if progress.fraction is None else round(100.0 * progress.fraction, 1)
            ctx.report(
                "download_model",
                "downloading",
                percent=percent,
                bytes_per_second=progress.per_second,
                message=f"{progress.per_second / 1_000_000:.1f} MB/s",
            )
    final = f"{name}{extension}"
    return DownloadModelOutput(
        model_name=final,
        subtype=request.model_type,
        requested_name=request.model_name,
        renamed=final != strip_extension(request.model_name) + extension,
        url=request.url,
    )


@contextmanager
def _job_keys(ctx: JobContext, keys: DownloadKeys | None) -> Iterator[None]:
    """SwarmUI keeps upstream keys until replaced (§7): put the worker's own back (or none)
    afterwards, so that one team's token never serves a later job."""
    given = {key_type: token for key_type, token in (keys or DownloadKeys()) if token}
    own = {
        "huggingface_api": ctx.config.huggingface_api_token,
        "civitai_api": ctx.config.civitai_api_token,
    }
    try:
        for key_type, token in given.items():
            ctx.client.set_api_key(key_type, token)
        yield
    finally:
        for key_type in given:
            try:
                ctx.client.set_api_key(key_type, own[key_type] or "none")
            except SwarmUIError as error:
                log.warning(
                    "could not take the job's %s key back from SwarmUI: %s", key_type, error
                )


def swarm_download_name(requested: str, url: str) -> tuple[str, str]:
    """(name SwarmUI will store, extension it will add) for a requested model name."""
    extension = (
        ".gguf" if urlsplit(url.split("#", 1)[0]).path.lower().endswith(".gguf") else ".safetensors"
    )
    return clean_model_name(strip_extension(requested), field="model_name"), extension


def clean_model_name(name: str, *, field: str) -> str:
    """`name` as SwarmUI's filename cleaning leaves it (spaces to `_`, dots and others dropped)."""
    segments = []
    for segment in name.split("/"):
        cleaned = _CLEANED.sub("", segment.replace(" ", "_"))
        if not cleaned:
            raise ActionError(f"{field}: {name!r} has a part that SwarmUI's name rules leave empty")
        segments.append(cleaned)
    return "/".join(segments)


def strip_extension(name: str) -> str:
    lowered = name.lower()
    for extension in MODEL_EXTENSIONS:
        if lowered.endswith(extension):
            return name[: -len(extension)]
    return name
