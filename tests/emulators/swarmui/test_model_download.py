"""DoModelDownloadWS from a real local HTTP server (reference §4.6, §9 item 8)."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.emulators.swarmui.helpers import write_safetensors
from tests.support.processes import wait_until

PROGRESS_KEYS = {"current_percent", "overall_percent", "per_second"}
METADATA = {"title": "Downloaded Style", "author": "Test"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def files(tmp_path) -> str:
    """Base URL of an HTTP server with `lora.safetensors` (1 MiB) and `model.gguf` (200 KiB)."""
    root = tmp_path / "served"
    write_safetensors(root / "lora.safetensors", METADATA, size=1024 * 1024)
    (root / "model.gguf").write_bytes(b"GGUF" + bytes(200 * 1024))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def download_request(api, url: str, *, name: str = "my lora", model_type: str = "LoRA") -> dict:
    return {
        "session_id": api.session_id,
        "url": url,
        "type": model_type,
        "name": name,
        "metadata": json.dumps(METADATA),
    }


def download(api, url: str, **options: str):
    """Run one download to the end; the socket (messages, close code) afterwards."""
    with api.socket("DoModelDownloadWS") as sock:
        sock.send(download_request(api, url, **options))
        sock.read_to_end()
    return sock


def leftovers(api) -> list[Path]:
    return [path for path in api.models.rglob("*") if path.name.endswith(".download.tmp")]


def test_download_reports_fraction_progress_then_success_and_closes_1000(api, files):
    sock = download(api, f"{files}/lora.safetensors")

    *progress, last = sock.messages
    assert last == {"success": True}
    assert progress
    for message in progress:
        assert set(message) == PROGRESS_KEYS
        assert message["overall_percent"] == 0.2
        assert 0 <= message["current_percent"] <= 1
        assert type(message["per_second"]) is int
    assert progress[0]["current_percent"] == 0
    assert progress[-1]["current_percent"] == 1
    assert sock.close_code == 1000


def test_download_lands_in_the_type_folder_with_metadata_side_file(api, files, tmp_path):
    download(api, f"{files}/lora.safetensors")

    target = api.models / "Lora" / "my_lora.safetensors"
    assert target.read_bytes() == (tmp_path / "served" / "lora.safetensors").read_bytes()
    assert json.loads(target.with_suffix(".swarm.json").read_text())["title"] == "Downloaded Style"
    assert leftovers(api) == []


def test_downloaded_model_is_listed_right_away(api, files):
    download(api, f"{files}/lora.safetensors")

    listed = api.ok("ListModels", path="", depth=5, subtype="LoRA")["files"]
    assert "my_lora.safetensors" in [model["name"] for model in listed]
    assert api.ok("DescribeModel", modelName="my_lora", subtype="LoRA")["model"]
    loras = api.ok("ListT2IParams")["models"]["LoRA"]
    assert "my_lora.safetensors" in [name for name, _ in loras]


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("foo.safetensors", "foosafetensors.safetensors"),
        ("v1.5 <best>", "v15_best.safetensors"),
        ("Styles/my new lora", "Styles/my_new_lora.safetensors"),
    ],
)
def test_download_name_is_cleaned(api, files, name, saved_as):
    assert download(api, f"{files}/lora.safetensors", name=name).messages[-1] == {"success": True}

    assert (api.models / "Lora" / saved_as).is_file()


def test_gguf_url_keeps_gguf_and_stable_diffusion_goes_to_diffusion_models(api, files):
    sock = download(api, f"{files}/model.gguf", name="flux q4", model_type="Stable-Diffusion")

    assert sock.messages[-1] == {"success": True}
    assert (api.models / "diffusion_models" / "flux_q4.gguf").is_file()


def test_url_fragment_is_dropped_for_fetching(api, files):
    sock = download(api, f"{files}/lora.safetensors#sha256=abc")

    assert sock.messages[-1] == {"success": True}
    assert (api.models / "Lora" / "my_lora.safetensors").is_file()


def test_existing_target_is_refused(api, files):
    download(api, f"{files}/lora.safetensors")
    before = (api.models / "Lora" / "my_lora.safetensors").read_bytes()

    sock = download(api, f"{files}/lora.safetensors")

    assert sock.messages[-1] == {"error": "Model at that save path already exists."}
    assert {"success": True} not in sock.messages
    assert (api.models / "Lora" / "my_lora.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"url": "ftp://127.0.0.1/lora.safetensors"}, "Invalid URL."),
        ({"url": "lora.safetensors"}, "Invalid URL."),
        ({"model_type": "Bogus"}, "Invalid type."),
    ],
    ids=["ftp-url", "relative-url", "unknown-type"],
)
def test_invalid_request_is_one_error_then_close(api, files, change, error):
    sock = download(api, **{"url": f"{files}/lora.safetensors", **change})

    assert sock.messages == [{"error": error}]
    assert sock.close_code == 1000
    assert not list((api.models / "Lora").glob("my_lora*"))


def test_url_answering_404_is_an_error_naming_the_url(api, files):
    url = f"{files}/missing.safetensors"

    sock = download(api, url)

    assert sock.messages[-1] == {
        "error": f"Failed to download {url}: got response code 404 NotFound"
    }
    assert not list((api.models / "Lora").glob("my_lora*"))
    assert leftovers(api) == []


def test_cancel_signal_stops_the_download_and_leaves_no_file(api, files):
    api.set_faults(download_delay=0.3)  # 16 chunks of 64 KiB: about 5 s

    with api.socket("DoModelDownloadWS") as sock:
        sock.send(download_request(api, f"{files}/lora.safetensors"))
        sock.receive_until("current_percent")
        sock.send({"signal": "cancel"})
        sock.read_to_end()

    assert sock.messages[-1] == {"error": "Download was cancelled."}
    assert sock.close_code == 1000
    wait_until(lambda: not leftovers(api), timeout=5, what="the partial download to be removed")
    assert not list((api.models / "Lora").glob("my_lora*"))


def test_download_fail_rate_1_fails_with_the_internal_exception_error(api, files):
    api.set_faults(download_fail_rate=1)

    sock = download(api, f"{files}/lora.safetensors")

    assert sock.messages[-1] == {"error": "Failed to download the model due to internal exception."}
    assert sock.close_code == 1000
    assert not list((api.models / "Lora").glob("my_lora*"))


@pytest.mark.parametrize("missing", ["url", "type", "name"])
def test_download_requires_url_type_and_name(api, files, missing):
    request = download_request(api, f"{files}/lora.safetensors")
    del request[missing]

    with api.socket("DoModelDownloadWS") as sock:
        sock.send(request)
        messages = sock.read_to_end()

    assert messages == [{"error": f"Missing required parameter '{missing}'"}]
