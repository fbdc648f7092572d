"""The job contract between the dashboard and the worker: input and output schemas per action.

Both sides import this module, so it depends on pydantic only (no runpod, no requests).
`parse_job_input(raw)` turns a RunPod job's `input` into one typed action model, or raises
`ContractError` whose text names the offending field(s): `steps: must be between 1 and 500`.

The wire shape is the original SwarmUI worker's: `action` (default `generate`) next to flat
parameters, e.g. `{"prompt": "a cat", "steps": 20}` or `{"action": "list_models", "depth": 3}`.
Every output model is what the handler returns on success; a failure is always `{"error": str}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

# SwarmUI model sub-types, exact spelling (swarmui-api.md §4.1). `Wildcards` is list/describe only.
MODEL_SUBTYPES = (
    "Stable-Diffusion",
    "VAE",
    "LoRA",
    "Embedding",
    "ControlNet",
    "Clip",
    "ClipVision",
)
LISTABLE_SUBTYPES = (*MODEL_SUBTYPES, "Wildcards")
SORT_MODES = ("Name", "Title", "DateCreated", "DateModified")
OUTPUT_MODES = ("auto", "inline", "volume", "bucket")
MAX_IMAGES_PER_JOB = 100


class ContractError(ValueError):
    """A job input that does not follow the contract; the text names the field(s)."""


class _EntryError(ValueError):
    """A problem with one entry of a free-form mapping; reported as `field.key: problem`."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# Field types with readable errors


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1; a number field given true/false is a caller mistake.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _between(low: float, high: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def _int_range(low: int, high: int) -> Any:
    return Annotated[
        int,
        BeforeValidator(_not_bool),
        AfterValidator(_between(low, high)),
        Field(json_schema_extra={"minimum": low, "maximum": high}),
    ]


def _float_range(low: float, high: float) -> Any:
    return Annotated[
        float,
        BeforeValidator(_not_bool),
        AfterValidator(_between(low, high)),
        Field(json_schema_extra={"minimum": low, "maximum": high}),
    ]


def _strict_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


Flag = Annotated[bool, BeforeValidator(_strict_bool)]

_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:)")


def _relative_name(value: Any, *, allow_empty: bool) -> str:
    """A model or folder name inside SwarmUI's model tree: relative, no `..`, forward slashes."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    name = value.strip().replace("\\", "/")
    if not name:
        if allow_empty:
            return ""
        raise ValueError("must not be empty")
    if _ABSOLUTE.match(name):
        raise ValueError("must be a relative name, not an absolute path")
    if any(ord(char) < 32 for char in name):
        raise ValueError("must not contain control characters")
    parts = name.rstrip("/").split("/") if allow_empty else name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("must not contain '..', '.' or empty path segments")
    return "/".join(parts)


ModelName = Annotated[
    str,
    BeforeValidator(lambda value: _relative_name(value, allow_empty=False)),
    WithJsonSchema({"type": "string", "minLength": 1}),
]
FolderPath = Annotated[
    str,
    BeforeValidator(lambda value: _relative_name(value, allow_empty=True)),
    WithJsonSchema({"type": "string"}),
]


def _choice(allowed: tuple[str, ...]) -> Any:
    """A case-insensitive choice normalised to SwarmUI's exact spelling."""
    lookup = {option.lower(): option for option in allowed}

    def check(value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in lookup:
            return lookup[value.strip().lower()]
        raise ValueError(f"must be one of {', '.join(allowed)}")

    return Annotated[str, BeforeValidator(check), WithJsonSchema({"enum": list(allowed)})]


Subtype = _choice(MODEL_SUBTYPES)
ListableSubtype = _choice(LISTABLE_SUBTYPES)
SortMode = _choice(SORT_MODES)
OutputMode = _choice(OUTPUT_MODES)


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    url = value.strip()
    parts = urlsplit(url)
    # SwarmUI itself only accepts http(s) (swarmui-api.md §4.6); never file://, ftp:// or data:.
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in url:
        raise ValueError("must be an http:// or https:// URL")
    return url


HttpUrl = Annotated[str, BeforeValidator(_http_url), WithJsonSchema({"type": "string"})]

Dimension = _int_range(64, 16384)
Steps = _int_range(1, 500)
CfgScale = _float_range(0, 100)
Seed = _int_range(-1, 2**63 - 1)
ImageCount = _int_range(1, MAX_IMAGES_PER_JOB)
Depth = _int_range(1, 20)
StandardSize = _int_range(0, 16384)
KeepAliveSeconds = _float_range(1, 7 * 24 * 3600)
PingInterval = _float_range(1, 3600)
WarmupDimension = _int_range(64, 2048)
WarmupSteps = _int_range(1, 10)

_SCALARS = (str, int, float, bool)


def _swarm_params(value: Any) -> dict[str, Any]:
    """Flat SwarmUI parameters passed through: keys must normalise to an id, values be JSON."""
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    for key, item in value.items():
        if not normalize_param_id(key):
            raise _EntryError(key, "is not a SwarmUI parameter name (ids are made of letters)")
        is_list = isinstance(item, list) and all(isinstance(x, _SCALARS) for x in item)
        if not (item is None or isinstance(item, (*_SCALARS, dict)) or is_list):
            raise _EntryError(key, "must be a string, number, true/false, object or list")
    return {key: item for key, item in value.items() if item is not None}


def _extra_metadata(value: Any) -> dict[str, Any]:
    """SwarmUI copies `extra_metadata` into the image metadata: string keys, string/list values."""
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    for key, item in value.items():
        is_list = isinstance(item, list) and all(isinstance(x, str) for x in item)
        if not (isinstance(item, _SCALARS) or is_list):
            raise _EntryError(key, "must be a string, number, true/false or a list of strings")
    return value


def normalize_param_id(key: str) -> str:
    """SwarmUI's parameter id: lower-cased, every character except a-z removed (§3.1)."""
    return re.sub(r"[^a-z]", "", str(key).lower())


# ---------------------------------------------------------------------------------------------
# Inputs, one model per action


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_job_input(self) -> dict[str, Any]:
        """The flat `input` dict to send to the worker for this action."""
        return self.model_dump(mode="json", exclude_none=True)


# Keys of the original worker that are control flags, never SwarmUI parameters.
_GENERATE_CONTROL_KEYS = {"install_only", "interval", "duration", "session_id"}


class GenerateInput(_Input):
    """Text-to-image through SwarmUI; unknown flat keys are SwarmUI parameters passed through."""

    action: Literal["generate"] = "generate"
    prompt: str = "a beautiful landscape"
    negative_prompt: str | None = None
    model: ModelName | None = None
    width: Dimension | None = None
    height: Dimension | None = None
    steps: Steps | None = None
    cfg_scale: CfgScale | None = None
    seed: Seed | None = None
    images: ImageCount = 1
    raw_input: dict[str, Any] | None = Field(default=None, alias="rawInput")
    extra_metadata: Annotated[dict[str, Any], BeforeValidator(_extra_metadata)] | None = None
    output_mode: OutputMode | None = None
    swarm_params: Annotated[dict[str, Any], BeforeValidator(_swarm_params)] = Field(
        default_factory=dict
    )

    @model_validator(mode="before")
    @classmethod
    def _collect_flat_params(cls, data: Any) -> Any:
        """Move flat keys that are not fields into `swarm_params` (the original's flat shape)."""
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields) | {"rawInput"}
        kept = {k: v for k, v in data.items() if k in known}
        extra = {
            k: v for k, v in data.items() if k not in known and k not in _GENERATE_CONTROL_KEYS
        }
        if extra:
            given = data.get("swarm_params")
            kept["swarm_params"] = {**extra, **given} if isinstance(given, dict) else extra
        return kept

    def to_job_input(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True, by_alias=False)
        return {**data.pop("swarm_params", {}), **data}


class ListModelsInput(_Input):
    action: Literal["list_models"]
    path: FolderPath = ""
    depth: Depth = 2
    subtype: ListableSubtype = "Stable-Diffusion"
    allow_remote: Flag = True
    sort_by: SortMode | None = None
    sort_reverse: Flag | None = None
    data_images: Flag | None = None


class DescribeModelInput(_Input):
    action: Literal["describe_model"]
    model_name: ModelName
    subtype: ListableSubtype = "Stable-Diffusion"


class DownloadKeys(BaseModel):
    """Upstream tokens for one download, handed to SwarmUI with SetAPIKey (swarmui-api.md §7).

    SwarmUI itself decides which host gets which key; the worker removes them again afterwards.
    """

    model_config = ConfigDict(extra="forbid")

    huggingface_api: str | None = Field(default=None, min_length=1, max_length=500)
    civitai_api: str | None = Field(default=None, min_length=1, max_length=500)


class DownloadModelInput(_Input):
    action: Literal["download_model"]
    url: HttpUrl
    model_name: ModelName = Field(description="target name without extension, may hold folders")
    model_type: Subtype = Field(default="Stable-Diffusion", alias="subtype")
    metadata: dict[str, Any] | str | None = None
    api_keys: DownloadKeys | None = Field(
        default=None, description="secrets: tokens for this download only; never echoed back"
    )


class ModelMetadata(BaseModel):
    """Fields of SwarmUI's EditModelMetadata (§4.4); any subset, the rest is kept as it is."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    author: str | None = None
    type: str | None = Field(
        default=None, description="architecture id, e.g. stable-diffusion-xl-v1-base"
    )
    description: str | None = None
    standard_width: StandardSize | None = None
    standard_height: StandardSize | None = None
    usage_hint: str | None = None
    date: str | None = None
    license: str | None = None
    trigger_phrase: str | None = None
    prediction_type: str | None = None
    tags: list[str] | str | None = None
    preview_image: str | None = Field(default=None, description="data URL, or 'clear'")
    preview_image_metadata: str | None = None
    is_negative_embedding: Flag | None = None
    lora_default_weight: str | None = None
    lora_default_confinement: str | None = None


class EditModelMetadataInput(_Input):
    action: Literal["edit_model_metadata"]
    model_name: ModelName
    subtype: Subtype = "Stable-Diffusion"
    metadata: ModelMetadata


class DeleteModelInput(_Input):
    action: Literal["delete_model"]
    model_name: ModelName
    subtype: Subtype = "Stable-Diffusion"


class RenameModelInput(_Input):
    action: Literal["rename_model"]
    model_name: ModelName
    new_name: ModelName = Field(description="may hold folders; SwarmUI keeps the extension")
    subtype: Subtype = "Stable-Diffusion"


class KeepAliveInput(_Input):
    action: Literal["keep_alive"]
    duration_seconds: KeepAliveSeconds = Field(default=60, alias="duration")
    interval_seconds: PingInterval = Field(default=10, alias="interval")


class WarmupInput(_Input):
    action: Literal["warmup"]
    model: ModelName | None = None
    width: WarmupDimension = 256
    height: WarmupDimension = 256
    steps: WarmupSteps = 1


class HealthInput(_Input):
    action: Literal["health"]


ActionInput = (
    GenerateInput
    | ListModelsInput
    | DescribeModelInput
    | DownloadModelInput
    | EditModelMetadataInput
    | DeleteModelInput
    | RenameModelInput
    | KeepAliveInput
    | WarmupInput
    | HealthInput
)

ACTIONS: dict[str, type[_Input]] = {
    "generate": GenerateInput,
    "list_models": ListModelsInput,
    "describe_model": DescribeModelInput,
    "download_model": DownloadModelInput,
    "edit_model_metadata": EditModelMetadataInput,
    "delete_model": DeleteModelInput,
    "rename_model": RenameModelInput,
    "keep_alive": KeepAliveInput,
    "warmup": WarmupInput,
    "health": HealthInput,
}


def parse_job_input(raw: Any) -> ActionInput:
    """Validate a job's `input` and return the typed model of its action.

    Accepts the dict (or its JSON text, as worker-comfyui does); `action` defaults to `generate`.
    Raises ContractError with one readable line naming every bad field.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ContractError("input: must be a JSON object") from None
    if not isinstance(raw, dict):
        raise ContractError("input: must be a JSON object")
    action = raw.get("action", "generate")
    model = ACTIONS.get(action) if isinstance(action, str) else None
    if model is None:
        raise ContractError(
            f"action: unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
        )
    data = {**raw, "action": action}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ContractError(format_validation_error(error, action)) from None


_TYPE_MESSAGES = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def format_validation_error(error: ValidationError, action: str = "") -> str:
    """One line, `field: problem` per error, joined with `; `."""
    lines: list[str] = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"] if not _is_union_member(part)]
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, _EntryError):
            # Flat SwarmUI parameters arrive at the top level, so name them as the caller sent them.
            loc = [*loc[:-1], cause.key] if loc == ["swarm_params"] else [*loc, cause.key]
        field = ".".join(loc) or "input"
        kind = item["type"]
        if kind == "extra_forbidden":
            message = f"is not a known field of action '{action}'" if action else "is not known"
        elif kind == "literal_error":
            message = f"must be {item.get('ctx', {}).get('expected', 'one of the allowed values')}"
        elif kind in _TYPE_MESSAGES:
            message = _TYPE_MESSAGES[kind]
        elif isinstance(cause, _EntryError):
            message = cause.problem
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        line = f"{field}: {message}"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _is_union_member(part: Any) -> bool:
    # pydantic names union branches in the location ("tags.list[str]"); callers do not care.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


# ---------------------------------------------------------------------------------------------
# Outputs


class _Output(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageOutput(_Output):
    """One generated image: inline base64, a path on the network volume, or a bucket key."""

    filename: str
    mime: str
    size_bytes: int
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="SwarmUI image metadata")
    type: Literal["base64", "volume", "bucket"]
    data: str | None = Field(default=None, description="base64 bytes when type is base64")
    path: str | None = Field(
        default=None,
        description="path relative to the volume root (= its S3 key) when type is volume",
    )
    bucket: str | None = None
    key: str | None = Field(default=None, description="object key when type is bucket")
    swarm_path: str | None = Field(default=None, description="SwarmUI's own View/... path")


class GenerateOutput(_Output):
    images: list[ImageOutput]
    output_mode: Literal["inline", "volume", "bucket"]
    parameters: dict[str, Any]
    elapsed_seconds: float


class ListModelsOutput(_Output):
    models: list[dict[str, Any]]
    folders: list[str]


class DescribeModelOutput(_Output):
    model: dict[str, Any]


class DownloadModelOutput(_Output):
    model_name: str = Field(description="the name SwarmUI stored it under, with extension")
    subtype: str
    requested_name: str
    renamed: bool = Field(description="true when SwarmUI's name rules changed the requested name")
    url: str


class EditModelMetadataOutput(_Output):
    model_name: str
    metadata: dict[str, Any] = Field(description="every field as sent to SwarmUI")


class DeleteModelOutput(_Output):
    model_name: str
    deleted: bool


class RenameModelOutput(_Output):
    model_name: str = Field(description="the name it had, with extension")
    new_model_name: str = Field(description="the name SwarmUI stored it under, with extension")


class KeepAliveOutput(_Output):
    pings: int
    failed_pings: int
    duration_seconds: float
    requested_seconds: float
    interval_seconds: float
    clamped: bool
    last_error: str | None = None


class WarmupOutput(_Output):
    model: str
    was_loaded: bool | None
    load_seconds: float
    total_seconds: float


class BackendState(_Output):
    id: str
    type: str | None = None
    status: str
    title: str | None = None
    current_model: str | None = None


class HealthOutput(_Output):
    worker_version: str
    ready: bool
    swarmui_version: str | None = None
    server_id: str | None = None
    backends: list[BackendState] = Field(default_factory=list)
    backend_status: str | None = None
    model_count: int | None = None
    swarmui_pid: int | None = None
    swarmui_alive: bool | None = None
    problem: str | None = None


class ProgressUpdate(_Output):
    """What `/status` shows as `output` while a job runs (sent at most once a second)."""

    action: str
    stage: str
    percent: float | None = Field(default=None, description="0..100")
    images_done: int | None = None
    images_total: int | None = None
    bytes_per_second: int | None = Field(default=None, description="downloads: current speed")
    message: str | None = None


OUTPUTS: dict[str, type[_Output]] = {
    "generate": GenerateOutput,
    "list_models": ListModelsOutput,
    "describe_model": DescribeModelOutput,
    "download_model": DownloadModelOutput,
    "edit_model_metadata": EditModelMetadataOutput,
    "delete_model": DeleteModelOutput,
    "rename_model": RenameModelOutput,
    "keep_alive": KeepAliveOutput,
    "warmup": WarmupOutput,
    "health": HealthOutput,
}
