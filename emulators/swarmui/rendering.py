"""Deterministic stand-in images: a colour field derived from what SwarmUI would condition on.

Same (prompt, negative prompt, model, seed, width, height) ⇒ same pixels; any change ⇒ different.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass

from PIL import Image
from PIL.PngImagePlugin import PngInfo

GRID = 8  # the colour field is an 8x8 grid, smoothly upscaled
PREVIEW_SIDE = 128
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


@dataclass(frozen=True)
class ImageSpec:
    prompt: str
    negative_prompt: str
    model: str
    seed: int
    width: int
    height: int

    def _grid(self) -> Image.Image:
        key = json.dumps(
            [self.prompt, self.negative_prompt, self.model, self.seed, self.width, self.height]
        )
        cells = hashlib.shake_256(key.encode("utf-8")).digest(GRID * GRID * 3)
        return Image.frombytes("RGB", (GRID, GRID), cells)

    def render(self) -> Image.Image:
        return self._grid().resize((self.width, self.height), Image.Resampling.BICUBIC)

    def preview_data_url(self, fraction: float) -> str:
        """A small JPEG that fades from grey to the final colours as sampling progresses."""
        scale = PREVIEW_SIDE / max(self.width, self.height)
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        final = self._grid().resize(size, Image.Resampling.BICUBIC)
        grey = Image.new("RGB", size, (128, 128, 128))
        buffer = io.BytesIO()
        Image.blend(grey, final, min(max(fraction, 0.0), 1.0)).save(buffer, "JPEG", quality=50)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def encode(image: Image.Image, extension: str, metadata: str | None) -> bytes:
    """Encode as png/jpg/webp; PNGs carry the metadata in a `parameters` text chunk."""
    buffer = io.BytesIO()
    if extension == "png":
        info = PngInfo()
        if metadata:
            info.add_text("parameters", metadata)
        image.save(buffer, "PNG", pnginfo=info, compress_level=4)
    else:
        image.save(buffer, PIL_FORMATS[extension], quality=90)
    return buffer.getvalue()


def data_url(data: bytes, extension: str) -> str:
    mime = "image/jpeg" if extension == "jpg" else f"image/{extension}"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
