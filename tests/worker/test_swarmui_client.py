"""SwarmUIClient against the SwarmUI emulator (real HTTP and WebSocket) and against servers that
misbehave on purpose (silent listeners)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import websockets

from tests.support.processes import free_port, wait_until
from tests.worker.conftest import set_faults
from worker.swarmui_client import (
    DownloadProgress,
    GenImage,
    GenProgress,
    SwarmUICancelled,
    SwarmUIClient,
    SwarmUIConnectionLost,
    SwarmUIError,
    SwarmUITimeout,
    SwarmUIUnavailable,
)

MODEL = "OfficialStableDiffusion/sd_xl_base_1.0"


def cancel_on_first(messages, kind: type, cancel: threading.Event) -> None:
    """Consume `messages`; set `cancel` once one of `kind` arrives (as a cancelled job would)."""
    for message in messages:
        if isinstance(message, kind):
            cancel.set()


def params(**extra) -> dict:
    return {"prompt": "a cat", "model": MODEL, "images": 1, "steps": 4, **extra}


@pytest.fixture
def client(swarmui) -> SwarmUIClient:
    return SwarmUIClient(swarmui.base_url, timeout=5, ws_idle_timeout=10)


def test_one_session_is_created_lazily_and_reused(client):
    first = client.session()
    client.current_status()
    client.list_backends()
    assert client.session() is first
    assert len(first.session_id) == 40
    assert first.version


def test_a_forgotten_session_is_renewed_once_and_the_call_replayed(client, swarmui):
    before = client.session().session_id
    set_faults(swarmui, forget_sessions=True)
    status = client.current_status()
    assert "backend_status" in status
    assert client.session().session_id != before


def test_handler_errors_arrive_with_http_200_and_still_raise(client):
    with pytest.raises(SwarmUIError, match=r"^Model not found\.$"):
        client.describe_model("no/such/model", "Stable-Diffusion")


def test_websocket_only_routes_refuse_a_plain_post(client):
    # The original worker POSTed DoModelDownloadWS; SwarmUI answers 400 bad_request_method.
    with pytest.raises(SwarmUIError) as caught:
        client.call("DoModelDownloadWS", {"url": "http://x/y", "type": "LoRA", "name": "m"})
    assert caught.value.error_id == "bad_request_method"


def test_nothing_listening_is_unavailable():
    client = SwarmUIClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(SwarmUIUnavailable, match="cannot reach SwarmUI"):
        client.current_status()


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = SwarmUIClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(SwarmUITimeout, match=r"timed out after 0\.5s"):
            client.current_status()
    assert time.monotonic() - started < 3


def test_generation_yields_progress_then_the_image_and_does_not_wait_for_the_close(client):
    started = time.monotonic()
    messages = list(client.generate(params(), timeout=20))
    elapsed = time.monotonic() - started
    progress = [m for m in messages if isinstance(m, GenProgress)]
    images = [m for m in messages if isinstance(m, GenImage)]
    assert progress
    assert all(0.0 <= m.overall <= 1.0 for m in progress)
    assert len(images) == 1
    assert images[0].image.startswith("View/local/raw/")
    assert '"sui_image_params"' in images[0].metadata
    assert elapsed < 1.5, "waited for SwarmUI's 2 s socket grace instead of socket_intention"


def test_generated_files_are_fetched_with_their_names_percent_encoded(client):
    (image,) = [
        m
        for m in client.generate(params(prompt="a cat, 100% (red)"), timeout=20)
        if isinstance(m, GenImage)
    ]
    content = client.get_file(image.image)
    assert content.startswith(b"\x89PNG")


def test_generation_errors_raise_with_swarmui_text(client):
    with pytest.raises(SwarmUIError, match="Invalid value for parameter Steps"):
        list(client.generate(params(steps=900), timeout=20))


def test_generation_renews_a_forgotten_session(client, swarmui):
    before = client.session().session_id
    set_faults(swarmui, forget_sessions=True)
    images = [m for m in client.generate(params(), timeout=20) if isinstance(m, GenImage)]
    assert len(images) == 1
    assert client.session().session_id != before


def test_a_dropped_generation_socket_raises_connection_lost(client, swarmui):
    set_faults(swarmui, drop_ws_after_steps=2)
    started = time.monotonic()
    with pytest.raises(SwarmUIConnectionLost, match="GenerateText2ImageWS"):
        list(client.generate(params(steps=10), timeout=20))
    assert time.monotonic() - started < 5


def test_cancel_stops_reading_and_interrupts_swarmui(start_swarmui):
    server = start_swarmui("--step-delay", "0.1")
    client = SwarmUIClient(server.base_url, timeout=5)
    cancel = threading.Event()
    messages = client.generate(params(steps=200), timeout=60, cancel=cancel)
    with pytest.raises(SwarmUICancelled):
        cancel_on_first(messages, GenProgress, cancel)
    # InterruptAll went out: the session's generation ends well before its 20 s of steps.
    wait_until(
        lambda: client.current_status()["status"]["live_gens"] == 0,
        timeout=5,
        what="the interrupted generation to stop",
    )


def test_a_silent_websocket_times_out_instead_of_hanging(swarmui):
    async def silent(connection):
        await connection.recv()  # the request, then nothing at all
        await connection.wait_closed()

    ready = threading.Event()
    holder: dict = {}

    def serve() -> None:
        async def main() -> None:
            async with websockets.serve(silent, "127.0.0.1", 0) as server:
                holder["port"] = server.sockets[0].getsockname()[1]
                holder["stop"] = asyncio.get_running_loop().create_future()
                holder["loop"] = asyncio.get_running_loop()
                ready.set()
                await holder["stop"]

        asyncio.run(main())  # in this thread of its own

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        client = SwarmUIClient(f"http://127.0.0.1:{holder['port']}", timeout=5, ws_idle_timeout=0.5)
        # The session comes from the emulator; the socket goes to the silent server.
        client._session = SwarmUIClient(swarmui.base_url).session()
        started = time.monotonic()
        with pytest.raises(SwarmUITimeout, match=r"sent nothing for 0\.5s"):
            list(client.generate(params(), timeout=20))
        assert time.monotonic() - started < 3
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set_result, None)
        thread.join(5)


def test_download_reports_progress_and_lands_in_the_subtype_folder(client, swarmui, file_server):
    base, root = file_server
    (root / "tiny.safetensors").write_bytes(b"\0" * 300_000)
    updates = list(
        client.download_model(
            url=f"{base}/tiny.safetensors",
            model_type="LoRA",
            name="Downloads/tiny_lora",
            metadata=None,
            timeout=30,
        )
    )
    assert all(isinstance(update, DownloadProgress) for update in updates)
    assert updates
    assert updates[-1].fraction == 1.0
    target = swarmui.volume / "SwarmUI" / "Models" / "Lora" / "Downloads" / "tiny_lora.safetensors"
    assert target.stat().st_size == 300_000


def test_download_errors_raise_swarmui_text(client, file_server):
    base, _ = file_server
    with pytest.raises(SwarmUIError, match="got response code 404"):
        list(
            client.download_model(
                url=f"{base}/missing.safetensors",
                model_type="LoRA",
                name="missing",
                metadata=None,
                timeout=30,
            )
        )


def test_download_cancel_sends_the_cancel_signal(start_swarmui, file_server):
    server = start_swarmui("--download-delay", "0.2")
    client = SwarmUIClient(server.base_url, timeout=5)
    base, root = file_server
    (root / "big.safetensors").write_bytes(b"\0" * (64 * 1024 * 40))
    cancel = threading.Event()
    started = time.monotonic()
    updates = client.download_model(
        url=f"{base}/big.safetensors",
        model_type="Stable-Diffusion",
        name="big",
        metadata=None,
        timeout=60,
        cancel=cancel,
    )
    with pytest.raises(SwarmUICancelled):
        cancel_on_first(updates, DownloadProgress, cancel)
    assert time.monotonic() - started < 5
    models = server.volume / "SwarmUI" / "Models" / "Stable-Diffusion"
    assert not (models / "big.safetensors").exists()
