"""The one emulated endpoint: its live settings, REST v2 shape and partial update (§5.2)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import MAX_EXECUTION_TIMEOUT_MS, MIN_EXECUTION_TIMEOUT_MS, Settings

FLASHBOOT_MODES = ("OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT")

# Container-level fields: changing any of them makes a new release (a new endpoint version),
# and idle workers on the old version are replaced (rolling release, §5.1).
RELEASE_FIELDS = (
    "image",
    "args",
    "disk",
    "ports",
    "env",
    "registry",
    "gpu",
    "dataCenterIds",
    "networkVolumes",
)
PATCHABLE_FIELDS = (*RELEASE_FIELDS, "name", "workers", "scaling", "timeout", "flashboot")


class PatchError(ValueError):
    """A PATCH body that fails validation; `errors` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def utc_iso(timestamp: float | None = None) -> str:
    """RFC 3339 UTC with a `Z`, as REST v2 writes date-times."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _default_gpu() -> dict[str, Any]:
    return {"pools": ["ADA_24"], "count": 1, "allowedCudaVersions": [], "minCudaVersion": None}


@dataclass
class Endpoint:
    """Live endpoint settings. `workers_*`, `timeout_ms` and `scaling` drive the scaler and jobs."""

    id: str
    name: str
    workers_min: int
    workers_max: int
    idle_timeout: int
    timeout_ms: int
    flashboot: str = "FLASHBOOT"
    scaling: dict[str, Any] = field(
        default_factory=lambda: {"type": "QUEUE_DELAY", "queueDelay": 4}
    )
    image: str = "swarmdeck/worker:emulator"
    args: str = ""
    disk: int = 20
    ports: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    registry: str | None = None
    gpu: dict[str, Any] = field(default_factory=_default_gpu)
    data_center_ids: list[str] = field(default_factory=lambda: ["EU-RO-1"])
    network_volumes: list[str] = field(default_factory=list)
    version: int = 1
    created_at: str = field(default_factory=utc_iso)

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoint:
        return cls(
            id=settings.endpoint_id,
            name=settings.endpoint_id,
            workers_min=settings.workers_min,
            workers_max=settings.workers_max,
            idle_timeout=settings.idle_timeout,
            timeout_ms=settings.execution_timeout_ms,
        )

    def view(self, base_url: str) -> dict[str, Any]:
        """The REST v2 endpoint object (§5.2); `base_url` is where the job API is served."""
        job_api = f"{base_url}/v2/{self.id}"
        workers: dict[str, Any] = {"min": self.workers_min, "max": self.workers_max}
        if self.scaling.get("type") != "REQUEST_COUNT":
            # The schema omits idleTimeout for request-count scaling.
            workers["idleTimeout"] = self.idle_timeout
        return {
            "id": self.id,
            "name": self.name,
            "type": "QUEUE",
            "requestUrls": {
                "run": f"{job_api}/run",
                "runSync": f"{job_api}/runsync",
                "status": f"{job_api}/status/{{job_id}}",
                "stream": f"{job_api}/stream/{{job_id}}",
                "cancel": f"{job_api}/cancel/{{job_id}}",
                "retry": f"{job_api}/retry/{{job_id}}",
                "purgeQueue": f"{job_api}/purge-queue",
                "health": f"{job_api}/health",
            },
            "image": self.image,
            "args": self.args,
            "disk": self.disk,
            "ports": list(self.ports),
            "env": dict(self.env),
            "registry": self.registry,
            "gpu": copy.deepcopy(self.gpu),
            "workers": workers,
            "scaling": dict(self.scaling),
            "dataCenterIds": list(self.data_center_ids),
            "networkVolumes": list(self.network_volumes),
            "timeout": self.timeout_ms,
            "flashboot": self.flashboot,
            "createdAt": self.created_at,
        }

    def apply_patch(self, body: Any) -> None:
        """Apply a partial update (only the fields sent change); on PatchError nothing changes."""
        changes = _validate_patch(body, self)
        if any(key in changes for key in RELEASE_FIELDS):
            self.version += 1
        for key, value in changes.items():
            if key == "workers":
                self.workers_min = value.get("min", self.workers_min)
                self.workers_max = value.get("max", self.workers_max)
                self.idle_timeout = value.get("idleTimeout", self.idle_timeout)
            elif key == "gpu":
                self.gpu = {**self.gpu, **value}
            elif key == "timeout":
                self.timeout_ms = value
            elif key == "dataCenterIds":
                self.data_center_ids = value
            elif key == "networkVolumes":
                self.network_volumes = value
            else:
                setattr(self, key, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _validate_patch(body: Any, current: Endpoint) -> dict[str, Any]:
    """Check a PATCH body against the v2 schema; return the accepted changes or raise PatchError."""
    if not isinstance(body, dict):
        raise PatchError(["body must be a JSON object"])
    errors: list[str] = []
    changes: dict[str, Any] = {}
    for key in body:
        if key not in PATCHABLE_FIELDS:
            errors.append(f"{key}: unknown or read-only field")

    def check(key: str, ok: bool, message: str) -> None:
        if key in body:
            if ok:
                changes[key] = copy.deepcopy(body[key])
            else:
                errors.append(f"{key}: {message}")

    check("name", isinstance(body.get("name"), str) and bool(body.get("name")), "non-empty string")
    check("image", isinstance(body.get("image"), str) and bool(body.get("image")), "string")
    check("args", isinstance(body.get("args"), str), "string")
    check("disk", _is_int(body.get("disk")) and body.get("disk", 0) >= 1, "integer >= 1")
    check("ports", _is_str_list(body.get("ports")), "array of strings")
    check(
        "env",
        isinstance(body.get("env"), dict)
        and all(isinstance(v, str) for v in body.get("env", {}).values()),
        "object of string values",
    )
    check("registry", body.get("registry") is None or isinstance(body["registry"], str), "string")
    check("dataCenterIds", _is_str_list(body.get("dataCenterIds")), "array of strings")
    check("networkVolumes", _is_str_list(body.get("networkVolumes")), "array of strings")
    check(
        "timeout",
        _is_int(body.get("timeout"))
        and MIN_EXECUTION_TIMEOUT_MS <= body["timeout"] <= MAX_EXECUTION_TIMEOUT_MS,
        f"integer milliseconds between {MIN_EXECUTION_TIMEOUT_MS} and {MAX_EXECUTION_TIMEOUT_MS}",
    )
    check(
        "flashboot",
        body.get("flashboot") in FLASHBOOT_MODES,
        f"one of {', '.join(FLASHBOOT_MODES)}",
    )
    if "gpu" in body:
        errors.extend(_gpu_errors(body["gpu"]))
        changes["gpu"] = copy.deepcopy(body["gpu"])
    if "scaling" in body:
        errors.extend(_scaling_errors(body["scaling"]))
        changes["scaling"] = copy.deepcopy(body["scaling"])
    if "workers" in body:
        errors.extend(_workers_errors(body["workers"]))
        changes["workers"] = copy.deepcopy(body["workers"])
    if not errors:
        errors.extend(_cross_field_errors(changes, current))
    if errors:
        raise PatchError(errors)
    return changes


def _workers_errors(workers: Any) -> list[str]:
    if not isinstance(workers, dict):
        return ["workers: must be an object with min, max and/or idleTimeout"]
    errors = [
        f"workers.{key}: unknown field"
        for key in workers
        if key not in ("min", "max", "idleTimeout")
    ]
    for key in ("min", "max"):
        if key in workers and not (_is_int(workers[key]) and workers[key] >= 0):
            errors.append(f"workers.{key}: must be an integer >= 0")
    if "idleTimeout" in workers and not (
        _is_int(workers["idleTimeout"]) and 1 <= workers["idleTimeout"] <= 3600
    ):
        errors.append("workers.idleTimeout: must be an integer between 1 and 3600 (seconds)")
    return errors


def _scaling_errors(scaling: Any) -> list[str]:
    if not isinstance(scaling, dict):
        return ["scaling: must be an object with type and its value"]
    kind = scaling.get("type")
    if kind == "QUEUE_DELAY":
        extra = [key for key in scaling if key not in ("type", "queueDelay")]
        value = scaling.get("queueDelay")
        ok = _is_number(value) and value >= 0.5
        return [f"scaling.{key}: unknown field" for key in extra] + (
            [] if ok else ["scaling.queueDelay: required, a number >= 0.5 (seconds)"]
        )
    if kind == "REQUEST_COUNT":
        extra = [key for key in scaling if key not in ("type", "requestCount")]
        value = scaling.get("requestCount")
        ok = _is_int(value) and value >= 1
        return [f"scaling.{key}: unknown field" for key in extra] + (
            [] if ok else ["scaling.requestCount: required, an integer >= 1"]
        )
    return ["scaling.type: must be QUEUE_DELAY or REQUEST_COUNT"]


def _gpu_errors(gpu: Any) -> list[str]:
    if not isinstance(gpu, dict):
        return ["gpu: must be an object"]
    known = ("pools", "count", "excludedTypes", "allowedCudaVersions", "minCudaVersion")
    errors = [f"gpu.{key}: unknown field" for key in gpu if key not in known]
    if "pools" in gpu and not (_is_str_list(gpu["pools"]) and gpu["pools"]):
        errors.append("gpu.pools: must be a non-empty array of strings")
    if "count" in gpu and not (_is_int(gpu["count"]) and gpu["count"] >= 1):
        errors.append("gpu.count: must be an integer >= 1")
    for key in ("excludedTypes", "allowedCudaVersions"):
        if key in gpu and not _is_str_list(gpu[key]):
            errors.append(f"gpu.{key}: must be an array of strings")
    if "minCudaVersion" in gpu and not isinstance(gpu["minCudaVersion"], str):
        errors.append("gpu.minCudaVersion: must be a string")
    return errors


def _cross_field_errors(changes: dict[str, Any], current: Endpoint) -> list[str]:
    errors: list[str] = []
    workers = changes.get("workers", {})
    new_min = workers.get("min", current.workers_min)
    new_max = workers.get("max", current.workers_max)
    if new_min > new_max:
        errors.append(f"workers.min ({new_min}) must not exceed workers.max ({new_max})")
    scaling_type = changes.get("scaling", current.scaling).get("type")
    if scaling_type == "REQUEST_COUNT" and "idleTimeout" in workers:
        errors.append("workers.idleTimeout: not applicable with REQUEST_COUNT scaling")
    return errors
