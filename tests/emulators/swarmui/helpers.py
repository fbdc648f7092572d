"""A raw HTTP/WebSocket client for the SwarmUI emulator, shaped like the wire, not like our client.

Answers come back as `requests.Response` objects or parsed JSON, never reshaped, so the tests check
what real SwarmUI sends (shared/reference/swarmui-api.md). WebSockets use `websocket-client`.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import struct
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import websocket
from PIL import Image

from tests.support.processes import ServerProcess

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0"
SDXL_FILE = f"{SDXL}.safetensors"
SDXL_IN_FILENAMES = "OfficialStableDiffusionsd_xl_base_10"  # §3.2: folder slash and dots dropped
SDXL_ARCH = "stable-diffusion-xl-v1-base"
# Small and fast: 64 is the minimum width/height (§3.1).
GENERATION = {"prompt": "a cat", "model": SDXL, "width": 64, "height": 64, "steps": 4, "seed": 7}
WS_DEADLINE = 30.0

# Framework error bodies of §1.3, byte for byte (compact, keys in the emitted order).
WRONG_CONTENT_TYPE = '{"error_id":"basic_api","error":"Wrong content type"}'
BAD_CONTENT_LENGTH = '{"error_id":"basic_api","error":"bad content length"}'
INTERNAL_ERROR = '{"error_id":"internal_error","error":"An internal error occurred"}'
MISSING_SESSION = '{"error_id":"basic_api","error":"missing session id"}'
INVALID_SESSION = (
    '{"error":"Invalid session ID. You may need to refresh the page.",'
    '"error_id":"invalid_session_id"}'
)
BAD_ROUTE = '{"error_id":"bad_route","error":"Unknown API route"}'
NEEDS_WEBSOCKET = (
    '{"error_id":"bad_request_method","error":"API route needs websocket, request is HTTP"}'
)
NEEDS_HTTP = {
    "error_id": "bad_request_method",
    "error": "API route needs HTTP, request is websocket",
}


class SwarmSocket:
    """One WebSocket to `/API/<route>`: send JSON, read JSON messages, see how it ended.

    `close_code` is the server's close status once closed, or None when the connection was lost
    without a close frame (`dropped`).
    """

    def __init__(
        self,
        base_url: str,
        route: str,
        *,
        timeout: float = WS_DEADLINE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.messages: list[dict[str, Any]] = []
        self.closed = False
        self.dropped = False
        self.close_code: int | None = None
        self.ws = websocket.create_connection(
            f"ws://{urlsplit(base_url).netloc}/API/{route}",
            timeout=timeout,
            header=[f"{name}: {value}" for name, value in (headers or {}).items()],
        )

    def __enter__(self) -> SwarmSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.ws.close(timeout=1)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def send_bytes(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def receive(self) -> dict[str, Any] | None:
        """The next JSON message, or None once the socket has ended (cleanly or not)."""
        deadline = time.monotonic() + self.timeout
        while not self.closed:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                opcode, frame = self.ws.recv_data_frame(True)
            except websocket.WebSocketTimeoutException as error:
                raise AssertionError(
                    f"no message within {self.timeout}s; so far: {self.messages}"
                ) from error
            except (websocket.WebSocketConnectionClosedException, OSError):
                self.closed = self.dropped = True
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = True
                self.close_code = struct.unpack("!H", frame.data[:2])[0] if frame.data else 1005
                break
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                message = json.loads(frame.data)
                self.messages.append(message)
                return message
        return None

    def receive_until(self, key: str) -> dict[str, Any]:
        """Read until a message carrying top-level `key` arrives and return it."""
        while (message := self.receive()) is not None:
            if key in message:
                return message
        raise AssertionError(f"socket ended without a {key!r} message: {self.messages}")

    def read_to_end(self) -> list[dict[str, Any]]:
        """Read every remaining message until the socket ends; return all messages seen."""
        while self.receive() is not None:
            pass
        return self.messages


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    """Each message named by its first key, repeats of one kind in a row folded into one."""
    folded: list[str] = []
    for message in messages:
        kind = next(iter(message))
        if not folded or folded[-1] != kind:
            folded.append(kind)
    return folded


class SwarmAPI:
    """The emulator's API as a client sees it; one lazily created session per instance."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.base_url = server.base_url
        self.volume: Path = server.volume
        self.http = requests.Session()
        self._session_id: str | None = None

    def same_session_client(self) -> SwarmAPI:
        """Another client (own connection pool, usable from another thread) on this session."""
        other = SwarmAPI(self.server)
        other._session_id = self.session_id
        return other

    # raw HTTP -----------------------------------------------------------------------------------
    def post(self, route: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """POST `body` (as JSON) to /API/<route> exactly as given: no session added."""
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("allow_redirects", False)
        return self.http.post(f"{self.base_url}/API/{route}", json=body, **kwargs)

    def view(self, path: str, **kwargs: Any) -> requests.Response:
        """GET an output by the path an API answer gave (`View/local/...`), percent-encoded."""
        kwargs.setdefault("timeout", 30)
        return self.http.get(f"{self.base_url}/{quote(path, safe='/')}", **kwargs)

    # sessions and calls -------------------------------------------------------------------------
    def new_session(self) -> dict[str, Any]:
        response = self.post("GetNewSession", {})
        assert response.status_code == 200, f"GetNewSession: {response.status_code} {response.text}"
        return response.json()

    @property
    def session_id(self) -> str:
        if self._session_id is None:
            self._session_id = self.new_session()["session_id"]
        return self._session_id

    def call(self, route: str, **params: Any) -> dict[str, Any]:
        """POST params plus this session's id; the answer must be HTTP 200 JSON (maybe an error)."""
        response = self.post(route, {"session_id": self.session_id, **params})
        assert response.status_code == 200, f"{route}: {response.status_code} {response.text}"
        return response.json()

    def ok(self, route: str, **params: Any) -> dict[str, Any]:
        """Like `call`, but the answer must not be an error."""
        answer = self.call(route, **params)
        assert "error" not in answer, f"{route} failed: {answer}"
        return answer

    def still_serves(self) -> bool:
        """A fresh session and a real call both work."""
        session = self.new_session()["session_id"]
        response = self.post("GetCurrentStatus", {"session_id": session})
        return response.status_code == 200 and "status" in response.json()

    # generation ---------------------------------------------------------------------------------
    def generate(self, **params: Any) -> dict[str, Any]:
        """GenerateText2Image with the small defaults, `params` on top; the raw answer."""
        return self.call("GenerateText2Image", **self.generation_request(**params))

    def generate_one(self, **params: Any) -> str:
        """Generate one image and return its `View/...` path."""
        answer = self.generate(**params)
        assert "error" not in answer, answer
        assert len(answer["images"]) == 1, answer
        return answer["images"][0]

    def output_file(self, image_path: str) -> Path:
        """Where a `View/<user>/<path>` output lives on the volume (§3.2)."""
        _, user, relative = image_path.split("/", 2)
        return self.volume / "SwarmUI" / "Output" / user / relative

    def socket(self, route: str, **options: Any) -> SwarmSocket:
        """A WebSocket to /API/<route> (`timeout=`, handshake `headers=`)."""
        return SwarmSocket(self.base_url, route, **options)

    def generation_request(self, **params: Any) -> dict[str, Any]:
        """A full generation body: session, `images: 1`, the small defaults, `params` on top."""
        return {"session_id": self.session_id, "images": 1, **GENERATION, **params}

    def generate_ws(self, **params: Any) -> SwarmSocket:
        """Open GenerateText2ImageWS and send one generation request."""
        sock = self.socket("GenerateText2ImageWS")
        sock.send(self.generation_request(**params))
        return sock

    # emulator switches (not SwarmUI; docs/emulators.md) ----------------------------------------
    def emulator(self, method: str, path: str = "faults", **body: Any) -> dict[str, Any]:
        """An emulator-only call on `/emulator/<path>` (never session-checked); must answer 200."""
        url = f"{self.base_url}/emulator/{path}"
        response = self.http.request(method, url, json=body, timeout=10)
        assert response.status_code == 200, (
            f"{method} {url}: {response.status_code} {response.text}"
        )
        return response.json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Change some fault switches; answers the whole fault state."""
        return self.emulator("POST", "faults", **faults)

    # paths on the volume -----------------------------------------------------------------------
    @property
    def models(self) -> Path:
        return self.volume / "SwarmUI" / "Models"

    @property
    def outputs(self) -> Path:
        return self.volume / "SwarmUI" / "Output" / "local"


def raw_http(
    base_url: str, request: bytes, *, timeout: float = 10.0
) -> tuple[int, dict[str, str], str]:
    """Send hand-written request bytes; return (status, headers, body) of the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read().decode(errors="replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def api_request(route: str, *, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Raw `POST /API/<route>` bytes with exactly the given headers (no Content-Length added)."""
    lines = [f"POST /API/{route} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes) -> bytes:
    """`body` in HTTP/1.1 chunked transfer encoding (one chunk)."""
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def write_safetensors(path: Path, metadata: dict[str, str] | None = None, size: int = 64) -> Path:
    """A small valid safetensors file: u64 header length, JSON header, then `size` data bytes."""
    tensor = {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}
    header = json.dumps({"__metadata__": metadata or {}, "w": tensor}).encode()
    header += b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(i % 256 for i in range(size)))
    return path


def read_safetensors_header(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length])


def image_bytes(api: SwarmAPI, image: str) -> bytes:
    """The bytes of an output: decoded from a `data:` URL, else fetched through GET /View."""
    if image.startswith("data:"):
        return base64.b64decode(image.split(",", 1)[1])
    response = api.view(image)
    assert response.status_code == 200, f"GET {image}: {response.status_code} {response.text}"
    return response.content


def open_image(api: SwarmAPI, image: str) -> Image.Image:
    picture = Image.open(io.BytesIO(image_bytes(api, image)))
    picture.load()
    return picture


def pixels(api: SwarmAPI, image: str) -> bytes:
    return open_image(api, image).convert("RGB").tobytes()


def png_metadata(api: SwarmAPI, image: str) -> dict[str, Any]:
    """The SwarmUI metadata JSON an output carries in its `parameters` PNG text chunk."""
    return json.loads(open_image(api, image).text["parameters"])


def image_params(api: SwarmAPI, image: str) -> dict[str, Any]:
    return png_metadata(api, image)["sui_image_params"]
