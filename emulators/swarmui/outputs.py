"""Where generated images go: output path format, per-minute counter, collisions (§3.2)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

from emulators.swarmui.csharp import csharp_double
from emulators.swarmui.filenames import strict_filename_clean
from emulators.swarmui.params import find_param
from emulators.swarmui.request_params import GenerationRequest

DEFAULT_FORMAT = "raw/[year]-[month]-[day]/[hour][minute][request_time_inc]-[prompt]-[model]"
MAX_LEN_PER_PART = 40
IMAGE_EXTENSIONS = {"PNG": "png", "JPG": "jpg", "WEBP": "webp"}
_TAG = re.compile(r"\[([^\[\]]*)\]")


def simplify_model(name: str) -> str:
    """`SimplifyModel`: model name without its extension (folders kept)."""
    name = name.replace("\\", "/").strip()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension in ("ckpt", "safetensors", "sft", "engine", "gguf"):
        name = name.rsplit(".", 1)[0]
    return name


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return csharp_double(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class OutputStore:
    """Saves images under `Output/<user>/` and hands out `View/<user>/...` URLs."""

    def __init__(self, output_root: Path) -> None:
        self.root = output_root
        self._minute = -1
        self._counter = 0

    def user_root(self, user: str) -> Path:
        return self.root / user

    def next_request_ref(self, when: datetime) -> int:
        """`request_time_inc`: a per-minute counter 1..999, one value per request."""
        if when.minute != self._minute or self._counter > 998:
            self._minute, self._counter = when.minute, 0
        self._counter += 1
        return self._counter

    def build_path(
        self, request: GenerationRequest, *, request_ref: int, user: str, batch_index: int
    ) -> str:
        """`BuildImageOutputPath`: fill the format, each part cut to 40 chars and cleaned."""
        when = request.request_time

        def fill(part: str) -> str | None:
            fixed = {
                "year": f"{when.year:04}",
                "month": f"{when.month:02}",
                "month_name": when.strftime("%B"),
                "day": f"{when.day:02}",
                "day_name": when.strftime("%A"),
                "hour": f"{when.hour:02}",
                "minute": f"{when.minute:02}",
                "second": f"{when.second:02}",
                "millisecond": f"{when.microsecond // 1000:03}",
                "request_time_inc": f"{request_ref:03}",
                "prompt": request.get("prompt", ""),
                "prompthash": _quick_hash(request.get("prompt", "")),
                "negative_prompt": request.get("negativeprompt", ""),
                "negativeprompthash": _quick_hash(request.get("negativeprompt", "")),
                "seed": str(request.get("seed")),
                "cfg_scale": _param_text(request.get("cfgscale", 7.0)),
                "width": str(request.get("width", 512)),
                "height": str(request.get("height", 512)),
                "steps": str(request.get("steps", 20)),
                "model": simplify_model(request.model_name or "unknown"),
                "loras": "-".join(simplify_model(x) for x in request.get("loras", [])),
                "batch_id": str(batch_index),
                "user_name": user,
                "number": "[number]",
            }
            if part in fixed:
                return fixed[part]
            param = find_param(part)
            if param is not None:
                value = request.get(param.id)
                if value is None:
                    return ""
                text = _param_text(value)
                return simplify_model(text) if param.type == "model" else text
            extra = request.extra_meta.get(part)
            return None if extra is None else _param_text(extra)

        def build_part(match: re.Match) -> str:
            part = match.group(1)
            data = fill(part)
            data = f"[{part}]" if data is None else data
            data = data[:MAX_LEN_PER_PART].replace("\\", "/").replace("/", "")
            return strict_filename_clean(data)

        template = request.get("overrideoutpathformat") or DEFAULT_FORMAT
        return strict_filename_clean(_TAG.sub(build_part, template))

    def save(self, user: str, raw_path: str, extension: str, data: bytes) -> tuple[str, Path]:
        """Write the file, adding `-1`, `-2`, ... on a name collision; (URL, file)."""
        root = self.user_root(user)
        image_path = raw_path.replace("[number]", "1")
        number = 0
        while (root / f"{image_path}.{extension}").exists():
            number += 1
            if "[number]" in raw_path:
                image_path = raw_path.replace("[number]", str(number))
            else:
                image_path = f"{raw_path}-{number}"
        target = root / f"{image_path}.{extension}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"View/{user}/{image_path}.{extension}", target


def image_extension(request: GenerationRequest) -> str:
    return IMAGE_EXTENSIONS.get(request.get("imageformat", "PNG"), "png")


def _quick_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8].upper()
