"""Helpers for the model management tests: a local file server that hands out fake `.safetensors`
files (at a chosen pace), and the jobs an emulated RunPod received."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.processes import ServerProcess

CHUNK = 64 * 1024


def fake_safetensors(size: int) -> bytes:
    """A valid safetensors file of exactly `size` bytes (one U8 tensor fills it)."""
    for guess in range(size, 0, -1):
        header = json.dumps(
            {"__metadata__": {}, "w": {"dtype": "U8", "shape": [guess], "data_offsets": [0, guess]}}
        ).encode()
        header += b" " * (-len(header) % 8)
        if 8 + len(header) + guess == size:
            return len(header).to_bytes(8, "little") + header + b"\0" * guess
    raise ValueError(f"no safetensors file is {size} bytes")


class ModelFileServer:
    """`GET /<anything>.safetensors?size=N&pace=S`: a fake model, Content-Length set, one 64 KiB
    chunk every S seconds. Remembers each request's path and Authorization header."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, self.headers.get("Authorization")))
                query = parse_qs(urlsplit(self.path).query)
                body = fake_safetensors(int(query.get("size", [str(4 * CHUNK)])[0]))
                pace = float(query.get("pace", ["0"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), CHUNK):
                    try:
                        self.wfile.write(body[start : start + CHUNK])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return  # the downloader went away (a cancelled download)
                    if pace:
                        time.sleep(pace)  # the server's pace, not a test waiting for something

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, name: str, *, size: int = 4 * CHUNK, pace: float = 0) -> str:
        return f"{self.base_url}/files/{name}.safetensors?size={size}&pace={pace}"

    def start(self) -> ModelFileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def runpod_jobs(runpod: ServerProcess) -> list[dict]:
    """Every job the RunPod emulator received, with its input."""
    response = requests.get(f"{runpod.base_url}/emulator/state", timeout=5)
    response.raise_for_status()
    return response.json()["jobs"]
