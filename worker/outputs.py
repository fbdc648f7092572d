"""Turn SwarmUI's generated images into the job result: inline base64, volume paths or bucket keys.

RunPod fails to store results of roughly 20 MB of base64 (worker-comfyui#129, runpod.md §1.5), so
`auto` inlines only while the whole result stays under OUTPUT_INLINE_MAX_MB and otherwise returns
paths on the network volume, which the dashboard reads through the volume's S3 API (key = path
relative to the volume root, runpod.md §7). `inline`, `volume` and `bucket` force one mode.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import struct
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from worker.config import BucketConfig, WorkerConfig
from worker.contract import ImageOutput
from worker.swarmui_client import SwarmUIClient

log = logging.getLogger(__name__)

_FLUSH_WAIT_SECONDS = 30.0
_PER_IMAGE_OVERHEAD = 512  # JSON keys and small fields around each image


class OutputError(Exception):
    """The result cannot be delivered in the requested mode (the text says what to change)."""


@dataclass(frozen=True)
class GeneratedImage:
    """One `image` message of a generation: a `View/...` path or a `data:` URL, plus metadata."""

    swarm_path: str
    metadata: str | None
    batch_index: str = "0"


@dataclass
class _Loaded:
    image: GeneratedImage
    content: bytes
    filename: str
    mime: str
    metadata: dict[str, Any] | None


class OutputWriter:
    """Delivers generated images in one of the output modes."""

    def __init__(self, config: WorkerConfig, client: SwarmUIClient) -> None:
        self._config = config
        self._client = client
        self._buckets: dict[BucketConfig, Any] = {}

    def deliver(
        self,
        job_id: str,
        images: list[GeneratedImage],
        *,
        mode: str,
        base_size: int = 0,
        bucket: BucketConfig | None = None,
    ) -> tuple[str, list[ImageOutput]]:
        """Return (effective mode, one ImageOutput per image), in the order given.

        `base_size` is the size of the rest of the result, counted against the inline cap.
        """
        bucket = bucket or self._config.bucket
        if mode == "inline":
            return "inline", [self._inline(self._load(job_id, i, n)) for n, i in enumerate(images)]
        if mode == "volume":
            return "volume", [
                self._to_volume(job_id, self._load(job_id, i, n)) for n, i in enumerate(images)
            ]
        if mode == "bucket":
            return "bucket", [
                self._to_bucket(job_id, self._load(job_id, i, n), bucket)
                for n, i in enumerate(images)
            ]
        return self._auto(job_id, images, base_size=base_size, bucket=bucket)

    def _auto(
        self, job_id: str, images: list[GeneratedImage], *, base_size: int, bucket: BucketConfig
    ) -> tuple[str, list[ImageOutput]]:
        cap = self._config.output_inline_max_bytes
        total = base_size
        inline: list[ImageOutput] = []
        for index, image in enumerate(images):
            loaded = self._load(job_id, image, index)
            output = self._inline(loaded)
            total += len(output.data or "") + len(json.dumps(output.metadata)) + _PER_IMAGE_OVERHEAD
            if total > cap:
                log.info(
                    "result would be %d bytes (cap %d): returning references instead", total, cap
                )
                return self._fallback(job_id, images, total=total, bucket=bucket)
            inline.append(output)
        return "inline", inline

    def _fallback(
        self, job_id: str, images: list[GeneratedImage], *, total: int, bucket: BucketConfig
    ) -> tuple[str, list[ImageOutput]]:
        if self._config.volume_path.is_dir():
            return self.deliver(job_id, images, mode="volume")
        if bucket.configured:
            return self.deliver(job_id, images, mode="bucket", bucket=bucket)
        raise OutputError(
            f"the result is over {total // 1_000_000} MB, above the inline cap of "
            f"{self._config.output_inline_max_bytes // 1_000_000} MB (OUTPUT_INLINE_MAX_MB), and "
            f"there is no network volume at {self._config.volume_path} (VOLUME_PATH) and no "
            "bucket (BUCKET_NAME) to put it in"
        )

    # -- loading ----------------------------------------------------------------------------

    def _load(self, job_id: str, image: GeneratedImage, index: int) -> _Loaded:
        if image.swarm_path.startswith("data:"):
            mime, content = _decode_data_url(image.swarm_path)
            extension = mimetypes.guess_extension(mime) or ".bin"
            filename = f"{job_id}-{index}{extension}"
        else:
            content = self._client.get_file(image.swarm_path)
            filename = unquote(PurePosixPath(image.swarm_path).name)
            mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return _Loaded(image, content, filename, mime, _parse_metadata(image.metadata))

    def _describe(self, loaded: _Loaded, **where: Any) -> ImageOutput:
        params = (loaded.metadata or {}).get("sui_image_params") or {}
        width, height = _png_size(loaded.content)
        return ImageOutput(
            filename=loaded.filename,
            mime=loaded.mime,
            size_bytes=len(loaded.content),
            seed=_int_or_none(params.get("seed")),
            width=_int_or_none(params.get("width")) or width,
            height=_int_or_none(params.get("height")) or height,
            metadata=loaded.metadata,
            swarm_path=None
            if loaded.image.swarm_path.startswith("data:")
            else loaded.image.swarm_path,
            **where,
        )

    # -- the three destinations -------------------------------------------------------------

    def _inline(self, loaded: _Loaded) -> ImageOutput:
        return self._describe(
            loaded, type="base64", data=base64.b64encode(loaded.content).decode("ascii")
        )

    def _to_volume(self, job_id: str, loaded: _Loaded) -> ImageOutput:
        volume = self._config.volume_path
        if not volume.is_dir():
            raise OutputError(
                f"OUTPUT_MODE=volume needs the network volume, but {volume} (VOLUME_PATH) is "
                "not a directory"
            )
        on_disk = self._swarm_file(loaded)
        if on_disk is not None and _is_within(on_disk, volume):
            _wait_until_written(on_disk, len(loaded.content))
            path = on_disk
        else:
            # A data URL (donotsave) or an output folder outside the volume: copy it there.
            path = volume / self._config.volume_output_dir / job_id / loaded.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(loaded.content)
        relative = path.resolve().relative_to(volume.resolve()).as_posix()
        return self._describe(loaded, type="volume", path=relative)

    def _swarm_file(self, loaded: _Loaded) -> Path | None:
        """Where SwarmUI saved an output: `View/<user>/x` → `Output/<user>/x` (§3.2)."""
        parts = PurePosixPath(unquote(loaded.image.swarm_path)).parts
        if (len(parts) >= 3 and parts[0] == "View") or (len(parts) >= 2 and parts[0] == "Output"):
            relative = PurePosixPath(*parts[1:])
        else:
            return None
        if ".." in relative.parts:
            return None
        return self._config.swarmui_dir / "Output" / relative

    def _to_bucket(self, job_id: str, loaded: _Loaded, bucket: BucketConfig) -> ImageOutput:
        if not bucket.configured:
            raise OutputError("OUTPUT_MODE=bucket needs BUCKET_NAME and the bucket's credentials")
        key = f"{bucket.prefix}{job_id}/{loaded.filename}"
        try:
            self._s3(bucket).put_object(
                Bucket=bucket.name, Key=key, Body=loaded.content, ContentType=loaded.mime
            )
        except Exception as error:  # botocore raises many unrelated types
            raise OutputError(f"uploading {key} to bucket {bucket.name} failed: {error}") from error
        return self._describe(loaded, type="bucket", bucket=bucket.name, key=key)

    def _s3(self, bucket: BucketConfig) -> Any:
        if bucket not in self._buckets:
            import boto3
            from botocore.config import Config

            self._buckets[bucket] = boto3.client(
                "s3",
                endpoint_url=bucket.endpoint_url,
                aws_access_key_id=bucket.access_key_id,
                aws_secret_access_key=bucket.secret_access_key,
                region_name=bucket.region or "us-east-1",
                # Non-AWS S3 services choke on boto3's default CRC32 checksums (runpod.md §7).
                config=Config(
                    retries={"max_attempts": 5, "mode": "standard"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        return self._buckets[bucket]


def bucket_from_s3_config(s3_config: Any, default: BucketConfig) -> BucketConfig:
    """A job's RunPod `s3Config` (`accessId`, `accessSecret`, `bucketName`, `endpointUrl`)."""
    if not isinstance(s3_config, dict) or not s3_config.get("bucketName"):
        return default
    return BucketConfig(
        endpoint_url=s3_config.get("endpointUrl") or default.endpoint_url,
        access_key_id=s3_config.get("accessId"),
        secret_access_key=s3_config.get("accessSecret"),
        name=str(s3_config["bucketName"]),
        region=default.region,
        prefix=default.prefix,
    )


def _decode_data_url(url: str) -> tuple[str, bytes]:
    header, _, payload = url.partition(",")
    mime = header.removeprefix("data:").split(";")[0] or "application/octet-stream"
    try:
        return mime, base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as error:
        raise OutputError(f"SwarmUI returned an unreadable data URL: {error}") from None


def _parse_metadata(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        log.warning("image metadata is not JSON: %r", text[:200])
        return None
    return value if isinstance(value, dict) else None


def _png_size(content: bytes) -> tuple[int | None, int | None]:
    if content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR":
        width, height = struct.unpack(">II", content[16:24])
        return width, height
    return None, None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _wait_until_written(path: Path, size: int) -> None:
    """SwarmUI may announce an image before the file is complete on disk (§3.2)."""
    deadline = time.monotonic() + _FLUSH_WAIT_SECONDS
    while True:
        try:
            if path.stat().st_size >= size:
                return
        except FileNotFoundError:
            pass
        if time.monotonic() >= deadline:
            raise OutputError(
                f"SwarmUI did not finish writing {path} within {_FLUSH_WAIT_SECONDS:g}s"
            )
        time.sleep(0.02)
