"""Read files from a RunPod network volume over its S3-compatible API (reference/runpod.md §7).

Bucket = the volume id, region = the datacenter id, object key = the file's path on the volume.
The API has no presigned URLs, so the dashboard fetches objects itself.
"""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Where workers see the volume; a path under one of them maps to the same key.
MOUNT_POINTS = ("/runpod-volume/", "/workspace/")


class VolumeError(Exception):
    """The volume could not be read (unreachable, bad credentials, or RunPod's S3 failed)."""


class VolumeFileMissing(VolumeError):
    """No object at that key."""


def volume_key(path: str) -> str:
    """The S3 key of a path the worker reported: mount point stripped, no leading slash."""
    for mount in MOUNT_POINTS:
        if path.startswith(mount):
            return path[len(mount) :]
    return path.lstrip("/")


class VolumeReader:
    """One network volume, read with one S3 API key."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        volume_id: str,
        access_key: str,
        secret_key: str,
        max_attempts: int = 10,
    ):
        self.volume_id = volume_id
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                retries={"max_attempts": max_attempts, "mode": "standard"},  # RunPod's S3 502s
                connect_timeout=5,
                read_timeout=60,
                # boto3 ≥ 1.36 checksums by default, which third-party S3 services often reject.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"},
            ),
        )

    def __repr__(self) -> str:
        return f"VolumeReader(volume_id={self.volume_id!r})"

    def read(self, path: str, *, bucket: str | None = None) -> bytes:
        """The bytes of the file at `path` (a key, or a path under the worker's mount point).

        `bucket` reads another bucket with the same credentials (the worker's bucket output mode).
        """
        key = volume_key(path)
        try:
            response = self._s3.get_object(Bucket=bucket or self.volume_id, Key=key)
            return response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise VolumeFileMissing(f"no file '{key}' on volume {self.volume_id}") from exc
            raise VolumeError(
                f"reading '{key}' from volume {self.volume_id} failed: {code}"
            ) from exc
        except BotoCoreError as exc:
            raise VolumeError(f"cannot reach volume {self.volume_id}: {exc}") from exc

    def list_folder(
        self, prefix: str, *, continuation_token: str | None = None, max_keys: int = 1000
    ) -> dict:
        """One page of the folder `prefix` ('' = the root, else ending in '/') with
        Delimiter='/': ListObjectsV2's answer (Contents, CommonPrefixes, NextContinuationToken).

        Recursive listings repeat continuation tokens on RunPod (runpod-python#505); one folder at
        a time works, so that is the only listing offered here.
        """
        params = {"Bucket": self.volume_id, "Prefix": prefix, "Delimiter": "/", "MaxKeys": max_keys}
        if continuation_token:
            params["ContinuationToken"] = continuation_token
        try:
            return self._s3.list_objects_v2(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise VolumeError(
                f"listing '{prefix or '/'}' on volume {self.volume_id} failed: {code}"
            ) from exc
        except BotoCoreError as exc:
            raise VolumeError(f"cannot reach volume {self.volume_id}: {exc}") from exc
