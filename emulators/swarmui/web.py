"""Non-API paths: `/View/<user>/<path>` (and `/Output/`, `/ViewSpecial/`), `/`, `/Text2Image`
(reference §1.5, §3.2). Paths are matched case-insensitively, like ASP.NET routing."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from emulators.swarmui.filenames import UNACCEPTABLE_PATH, check_file_path
from emulators.swarmui.framework import json_response
from emulators.swarmui.models import SUBTYPE_FOLDERS
from emulators.swarmui.state import STATE_KEY, EmulatorState

CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "json": "application/json",
    "html": "text/html",
    "txt": "text/plain",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
}
FILE_ERROR = "Error reading file. If you are the server owner, check program console log."
NOT_FOUND = {"error": "404, file not found.", "error_id": "file_not_found"}
TEXT2IMAGE_PAGE = (
    "<!DOCTYPE html><html><head><title>SwarmUI emulator</title></head><body>"
    "<h1>SwarmUI emulator</h1><p>This is a protocol stand-in for the SwarmUI API; "
    "there is no user interface. See docs/emulators.md.</p></body></html>"
)


def _request_path(request: web.Request, prefix_length: int) -> str:
    """ASP.NET hands over a decoded path and `ViewOutput` unescapes it once more."""
    raw = request.raw_path.split("?", 1)[0][prefix_length:]
    return unquote(unquote(raw)).replace("\\", "/")


def _serve_file(root: Path, relative: str) -> web.StreamResponse:
    target = check_file_path(root, relative)
    if target is None:
        return json_response({"error": UNACCEPTABLE_PATH, "error_id": "bad_path"}, 400)
    if target.is_dir():
        return json_response(
            {"error": FILE_ERROR, "error_id": "file_error"},
            500,
        )
    if not target.is_file():
        return json_response(NOT_FOUND, 404)
    extension = target.name.rsplit(".", 1)[-1].lower() if "." in target.name else ""
    headers = {
        "Content-Type": CONTENT_TYPES.get(extension, "application/octet-stream"),
        "Cache-Control": "private, max-age=30",  # `OutputCacheSeconds`
    }
    return web.FileResponse(target, headers=headers)  # handles HTTP Range


def _view_special(state: EmulatorState, relative: str) -> web.Response:
    """`/ViewSpecial/<subtype>/<model name>`: the model's preview image bytes."""
    subtype, _, name = relative.partition("/")
    model = state.models.find(subtype, name) if subtype in SUBTYPE_FOLDERS else None
    if model is None or not (model.preview or "").startswith("data:"):
        return json_response(NOT_FOUND, 404)
    header, _, data = model.preview.partition(",")
    mime = header.removeprefix("data:").split(";")[0]
    return web.Response(body=base64.b64decode(data), content_type=mime)


def make_dispatcher(
    api: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """One catch-all handler, so `/API/`, `/api/` and `/View/` all route like in SwarmUI."""

    async def dispatch(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        path = request.path.lower()
        if path.startswith("/api/"):
            return await api(request)
        if request.method in ("GET", "HEAD"):
            if path.startswith("/view/"):
                return _serve_file(state.config.output_root, _request_path(request, 6))
            if path.startswith("/output/"):
                user_root = state.outputs.user_root(state.config.user)
                return _serve_file(user_root, _request_path(request, 8))
            if path.startswith("/viewspecial/"):
                return _view_special(state, _request_path(request, 13))
            if path == "/":
                return web.Response(status=302, headers={"Location": "/Text2Image"})
            if path == "/text2image":
                return web.Response(text=TEXT2IMAGE_PAGE, content_type="text/html")
        return web.Response(status=404, text="404, file not found.")

    return dispatch
