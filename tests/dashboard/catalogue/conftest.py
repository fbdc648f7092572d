"""Catalogue fixtures: a SwarmUI-like volume in moto, reached through a proxy that can misbehave
like RunPod's S3 (502s, repeated continuation tokens, small pages), and model rows for pages."""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from dashboard.catalogue.models import ModelFile
from tests.dashboard import factories

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")


@dataclass
class ListRequest:
    prefix: str
    delimiter: str | None
    token: str | None
    status: int = 0


@dataclass
class FaultyS3Proxy:
    """Real HTTP in front of moto. On command it answers 502 to the next list requests, repeats
    the continuation token it was sent (runpod-python#505), or lists in small pages."""

    upstream: str
    fail_lists: int = 0
    fail_lists_in: str | None = None  # only list requests for this folder fail
    repeat_tokens_in: str | None = None
    page_size: int | None = None
    lists: list[ListRequest] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        with self._lock:
            self.fail_lists, self.fail_lists_in = 0, None
            self.repeat_tokens_in, self.page_size = None, None
            self.lists.clear()
            self.gets.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one write: no Nagle/delayed-ACK stall per request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                listing = self.command == "GET" and query.get("list-type") == ["2"]
                path = self.path
                if listing:
                    request = ListRequest(
                        prefix=query.get("prefix", [""])[0],
                        delimiter=query.get("delimiter", [None])[0],
                        token=query.get("continuation-token", [None])[0],
                    )
                    with proxy._lock:
                        proxy.lists.append(request)
                        failing = proxy.fail_lists > 0 and (
                            proxy.fail_lists_in is None or proxy.fail_lists_in == request.prefix
                        )
                        proxy.fail_lists -= 1 if failing else 0
                        if proxy.page_size:
                            query["max-keys"] = [str(proxy.page_size)]
                            path = f"{url.path}?{urlencode(query, doseq=True)}"
                    if failing:
                        request.status = 502
                        return self._send(502, b"<html>502 Bad Gateway</html>", "text/html")
                elif self.command == "GET":
                    with proxy._lock:
                        proxy.gets.append(url.path)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, path, body=body or None, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                connection.close()
                if listing:
                    request.status = answer.status
                    if request.token and proxy.repeat_tokens_in == request.prefix:
                        payload = TOKEN.sub(
                            b"<NextContinuationToken>"
                            + request.token.encode()
                            + b"</NextContinuationToken>",
                            payload,
                        )
                passed = {
                    k: v
                    for k, v in answer.getheaders()
                    if k.lower() not in HOP_BY_HOP | {"content-length"}
                }
                return self._send(answer.status, payload, None, passed)

            def _send(self, status, payload, content_type, headers=None):
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="session")
def s3_proxy(moto_s3):
    proxy = FaultyS3Proxy(moto_s3.base_url)
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty_s3(s3_proxy):
    """The proxy with every fault off and its request log empty."""
    s3_proxy.reset()
    yield s3_proxy
    s3_proxy.reset()


# --- a SwarmUI-like volume ------------------------------------------------------------------------
PREVIEW_PNG = factories.png_bytes(32, 32, color=(10, 120, 200))
EMBEDDED_PNG = factories.png_bytes(16, 16, color=(250, 200, 0))
SD_ROOT = "SwarmUI/Models/Stable-Diffusion/"
LORA_ROOT = "SwarmUI/Models/Lora/"
SPECIAL_NAME = "Flux/flux1 dev+fp8 #2 ünï.safetensors"
LORA_WEIGHTS = b"lora-weights" * 100

SWARMUI_TREE: dict[str, bytes] = {
    # Empty directories are listed as objects (runpod.md §7).
    SD_ROOT: b"",
    f"{SD_ROOT}OfficialStableDiffusion/": b"",
    f"{SD_ROOT}OfficialStableDiffusion/sd_xl_base_1.0.safetensors": b"s" * 4096,
    f"{SD_ROOT}OfficialStableDiffusion/sd_xl_base_1.0.swarm.json": json.dumps(
        {
            "modelspec.title": "SDXL 1.0 Base",
            "modelspec.architecture": "stable-diffusion-xl-v1-base",
            "modelspec.description": "The SDXL base model.",
            "modelspec.author": "Stability AI",
        }
    ).encode(),
    f"{SD_ROOT}OfficialStableDiffusion/sd_xl_base_1.0.preview.png": PREVIEW_PNG,
    f"{SD_ROOT}{SPECIAL_NAME}": b"f" * 2048,
    f"{SD_ROOT}old.ckpt": b"c" * 1000,
    f"{SD_ROOT}notes.txt": b"not a model",
    f"{SD_ROOT}.hidden/secret.safetensors": b"h" * 10,
    "SwarmUI/Models/diffusion_models/wan2.1.gguf": b"g" * 3000,
    f"{LORA_ROOT}styles/pixel-art.safetensors": LORA_WEIGHTS,
    f"{LORA_ROOT}styles/pixel-art.swarm.json": json.dumps(
        {
            "title": "Pixel Art",
            "architecture": "stable-diffusion-xl-v1-base/lora",
            "trigger_phrase": "pixel art",
            "modelspec.preview_image": "data:image/png;base64,"
            + base64.b64encode(EMBEDDED_PNG).decode(),
        }
    ).encode(),
    f"{LORA_ROOT}copy-of-pixel-art.safetensors": LORA_WEIGHTS,
    f"{LORA_ROOT}empty/": b"",
    "SwarmUI/Models/VAE/ae.safetensors": b"v" * 500,
    "SwarmUI/Models/VAE/ae.jpg": factories.png_bytes(8, 8),  # a PNG under a .jpg name
    "SwarmUI/Models/upscale_models/4x.pth": b"u" * 700,
    "SwarmUI/Models/checkpoints/wrong-folder.safetensors": b"w" * 100,
    "SwarmUI/Output/local/raw/2026-11-29/1-a cat.png": b"o" * 300,
    "SwarmUI/Data/Settings.fds": b"IsInstalled: true\n",
    "ComfyUI/models/checkpoints/other.safetensors": b"x" * 900,
    # RunPod's multipart staging folder (runpod.md §7): never counted, never a model.
    ".s3compat_uploads/upload-1/part-00001": b"p" * 5000,
    f"{LORA_ROOT}.s3compat_uploads/upload-2/part-00001": b"p" * 5000,
    "readme.txt": b"volume notes",
}


@dataclass
class Volume:
    bucket: str
    s3: object

    def put(self, key: str, body: bytes = b"") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture
def volume(volume_bucket):
    """A fresh bucket (= volume id) seeded with SWARMUI_TREE, written to moto directly."""
    seeded = Volume(*volume_bucket)
    for key, body in SWARMUI_TREE.items():
        seeded.put(key, body)
    return seeded


@pytest.fixture
def volume_endpoint(team, volume, faulty_s3):
    """The team's endpoint, its volume's S3 API reached through the faulty proxy."""
    endpoint = factories.make_endpoint(
        team,
        name="volume",
        volume_id=volume.bucket,
        volume_s3_endpoint_url=faulty_s3.base_url,
        volume_s3_region="EU-RO-1",
    )
    endpoint.set_volume_credentials("user_test", "rps_test")
    endpoint.save()
    return endpoint


# --- rows for page and API tests ------------------------------------------------------------------
def make_model(endpoint, name: str, *, subtype: str = "Stable-Diffusion", **fields) -> ModelFile:
    folder = {"Stable-Diffusion": "Stable-Diffusion", "LoRA": "Lora", "VAE": "VAE"}[subtype]
    path = fields.pop("path", f"SwarmUI/Models/{folder}/{name}")
    return ModelFile.objects.create(
        endpoint=endpoint,
        path=path,
        folder=path.rsplit("/", 1)[0] + "/",
        subtype=subtype,
        name=name,
        **{"size": 1000, "etag": uuid.uuid4().hex, **fields},
    )


# --- model management (test_model_actions, test_manage_pages, test_manage_api) -------------------
@pytest.fixture
def admin(team):
    from dashboard.accounts.models import Role

    return factories.make_member(team, Role.ADMIN)


@pytest.fixture
def other_team_model(db):
    """A model of another team, with an admin of that team."""
    from dashboard.accounts.models import Role

    other = factories.make_team("Other Studio")
    factories.make_member(other, Role.OWNER)
    return make_model(factories.make_endpoint(other, name="theirs"), "Theirs/secret.safetensors")


@pytest.fixture(scope="module")
def queued_runpod(tmp_path_factory):
    """A RunPod emulator without workers: jobs stay queued, and its state shows what was sent."""
    from tests.support.emulators import runpod_server

    server = runpod_server(
        tmp_path_factory.mktemp("runpod-queue"), "--endpoint", "local", "--api-key", "local-dev-key"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def queued_endpoint(team, queued_runpod):
    return factories.make_endpoint(team, name="queued", api_base_url=f"{queued_runpod.base_url}/v2")


@pytest.fixture(scope="module")
def model_server():
    """A local HTTP server handing out fake .safetensors files (see manage_support)."""
    from tests.dashboard.catalogue.manage_support import ModelFileServer

    server = ModelFileServer().start()
    yield server
    server.stop()


@pytest.fixture
def local_downloads(settings):
    """Downloads from this machine (127.0.0.1) allowed, as `make dev` does."""
    settings.MODEL_DOWNLOAD_ALLOWED_HOSTS = []
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1"]


@pytest.fixture
def fast_passwords(settings):
    """Users are made and signed in many times here; the default hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
