"""`download_model`: DoModelDownloadWS with progress, cancel, and SwarmUI's naming applied.

SwarmUI stores a download as `<name>.safetensors` (`.gguf` for GGUF URLs) after replacing spaces
with `_` and dropping `.` and a few other characters from the name (swarmui-api.md §4.6), so
`sd_xl_base_1.0` would land as `sd_xl_base_10.safetensors`. We apply the same rules up front and
return the name the file really has, so the caller can find it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from worker.contract import DownloadModelInput, DownloadModelOutput
from worker.runtime import ActionError, JobContext

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
            message=f"{progress.per_second / 1_000_000:.1f} MB/s",
        )
    final = f"{name}{extension}"
    return DownloadModelOutput(
        model_name=final,
        subtype=request.model_type,
        requested_name=request.model_name,
        renamed=final != _strip_extension(request.model_name) + extension,
        url=request.url,
    )


def swarm_download_name(requested: str, url: str) -> tuple[str, str]:
    """(name SwarmUI will store, extension it will add) for a requested model name."""
    extension = (
        ".gguf" if urlsplit(url.split("#", 1)[0]).path.lower().endswith(".gguf") else ".safetensors"
    )
    segments = []
    for segment in _strip_extension(requested).split("/"):
        cleaned = _CLEANED.sub("", segment.replace(" ", "_"))
        if not cleaned:
            raise ActionError(
                f"model_name: {requested!r} has a part that SwarmUI's name rules leave empty"
            )
        segments.append(cleaned)
    return "/".join(segments), extension


def _strip_extension(name: str) -> str:
    lowered = name.lower()
    for extension in MODEL_EXTENSIONS:
        if lowered.endswith(extension):
            return name[: -len(extension)]
    return name
