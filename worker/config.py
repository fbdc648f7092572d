"""The worker's configuration: one frozen object read from the environment once.

Every variable is listed, with its default, in worker/README.md. Nothing else in the worker
reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MEGABYTE = 1024 * 1024


class ConfigError(ValueError):
    """An environment variable holds a value the worker cannot use."""


@dataclass(frozen=True)
class BucketConfig:
    """An S3-compatible bucket for `OUTPUT_MODE=bucket` (same variables as worker-comfyui)."""

    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None
    name: str | None
    region: str | None
    prefix: str

    @property
    def configured(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True)
class WorkerConfig:
    swarmui_api_url: str = "http://127.0.0.1:7801"
    startup_timeout: float = 1800.0
    backend_down_grace: float = 15.0
    generation_timeout: float = 600.0
    request_timeout: float = 30.0
    ws_idle_timeout: float = 90.0
    ws_reconnect_attempts: int = 1
    download_timeout: float = 3600.0
    huggingface_api_token: str | None = None
    civitai_api_token: str | None = None
    volume_path: Path = Path("/runpod-volume")
    swarmui_dir: Path = Path("/runpod-volume/SwarmUI")
    swarmui_pid_file: Path | None = Path("/tmp/swarmui.pid")  # noqa: S108 - start.sh writes it
    default_model: str = "OfficialStableDiffusion/sd_xl_base_1.0"
    output_mode: str = "auto"
    output_inline_max_bytes: int = 8 * MEGABYTE
    volume_output_dir: str = "swarmdeck-outputs"
    bucket: BucketConfig = field(
        default_factory=lambda: BucketConfig(None, None, None, None, None, "")
    )
    progress_interval: float = 1.0
    keep_alive_max_seconds: float = 3600.0
    validate_params: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """Build the configuration from `environ` (default: os.environ)."""
        env = _Env(os.environ if environ is None else environ)
        volume = Path(env.text("VOLUME_PATH", "/runpod-volume"))
        output_mode = env.text("OUTPUT_MODE", "auto").lower()
        if output_mode not in ("auto", "inline", "volume", "bucket"):
            raise ConfigError("OUTPUT_MODE must be one of auto, inline, volume, bucket")
        # Set but empty: SwarmUI runs elsewhere, there is no process to watch.
        pid_file = env.raw("SWARMUI_PID_FILE", "/tmp/swarmui.pid")  # noqa: S108
        bucket = BucketConfig(
            endpoint_url=env.optional("BUCKET_ENDPOINT_URL"),
            access_key_id=env.optional("BUCKET_ACCESS_KEY_ID"),
            secret_access_key=env.optional("BUCKET_SECRET_ACCESS_KEY"),
            name=env.optional("BUCKET_NAME"),
            region=env.optional("BUCKET_REGION"),
            prefix=env.text("BUCKET_PREFIX", ""),
        )
        if output_mode == "bucket" and not bucket.configured:
            raise ConfigError(
                "OUTPUT_MODE=bucket needs BUCKET_NAME (and usually the endpoint/keys)"
            )
        return cls(
            swarmui_api_url=env.text("SWARMUI_API_URL", "http://127.0.0.1:7801").rstrip("/"),
            startup_timeout=env.number("STARTUP_TIMEOUT", 1800),
            backend_down_grace=env.number("BACKEND_DOWN_GRACE_SECONDS", 15),
            generation_timeout=env.number("GENERATION_TIMEOUT", 600),
            request_timeout=env.number("SWARMUI_REQUEST_TIMEOUT", 30),
            ws_idle_timeout=env.number("SWARMUI_WS_IDLE_TIMEOUT", 90),
            ws_reconnect_attempts=int(env.number("SWARMUI_WS_RECONNECT_ATTEMPTS", 1, minimum=0)),
            download_timeout=env.number("DOWNLOAD_TIMEOUT", 3600),
            huggingface_api_token=env.optional("HUGGINGFACE_API_TOKEN"),
            civitai_api_token=env.optional("CIVITAI_API_TOKEN"),
            volume_path=volume,
            swarmui_dir=Path(env.text("SWARMUI_DIR", str(volume / "SwarmUI"))),
            swarmui_pid_file=Path(pid_file.strip()) if pid_file.strip() else None,
            default_model=env.text("DEFAULT_MODEL", "OfficialStableDiffusion/sd_xl_base_1.0"),
            output_mode=output_mode,
            output_inline_max_bytes=int(env.number("OUTPUT_INLINE_MAX_MB", 8) * MEGABYTE),
            volume_output_dir=env.text("VOLUME_OUTPUT_DIR", "swarmdeck-outputs").strip("/"),
            bucket=bucket,
            progress_interval=env.number("PROGRESS_INTERVAL_SECONDS", 1.0),
            keep_alive_max_seconds=env.number("KEEP_ALIVE_MAX_SECONDS", 3600),
            validate_params=env.flag("VALIDATE_SWARM_PARAMS", True),
        )


class _Env:
    """Typed reads of environment variables with errors that name the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str, default: str) -> str:
        return self._environ.get(name, default)

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        value = self._environ.get(name)
        return default if value is None or not value.strip() else value.strip()

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.optional(name)
        if raw is None:
            return float(default)
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
