"""`DoModelDownloadWS`: a real HTTP(S) download into the model folders (reference §4.6)."""

from __future__ import annotations

import asyncio
import http
import logging
import random
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from emulators.swarmui.faults import Faults
from emulators.swarmui.filenames import strict_filename_clean
from emulators.swarmui.framework import FrameworkError, receive_json, to_json
from emulators.swarmui.models import SUBTYPE_FOLDERS
from emulators.swarmui.state import EmulatorState

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
PROGRESS_EVERY = 1.0
STALL_TIMEOUT = 300.0  # "5 minutes with no new data over stream"
INTERNAL_FAILURE = "Failed to download the model due to internal exception."


class DownloadError(Exception):
    """A failure SwarmUI reports with its own words."""


class InjectedFailure(Exception):
    """The `download_fail_rate` fault."""


async def _send(ws: web.WebSocketResponse, message: dict) -> None:
    if ws.closed:
        return
    try:
        await ws.send_str(to_json(message))
    except (ConnectionError, RuntimeError):
        log.info("Download socket went away")


def _progress(received: int, total: int | None, per_second: int) -> dict:
    """Only a fraction; 0/0 and x/0 come out as Json.NET's "NaN"/"Infinity" strings."""
    if total:
        fraction: float | str = received / total
    else:
        fraction = "Infinity" if received else "NaN"
    return {"current_percent": fraction, "overall_percent": 0.2, "per_second": per_second}


def _status_name(code: int) -> str:
    """.NET's `HttpStatusCode` name, e.g. 404 → NotFound."""
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        return str(code)
    return phrase.replace(" ", "").replace("-", "")


async def download_model(
    state: EmulatorState, ws: web.WebSocketResponse, url: str, kind: str, name: str, metadata
) -> None:
    """Validate, download to `<name>.download.tmp`, rename, save metadata, refresh."""
    if not url.startswith(("http://", "https://")):
        await _send(ws, {"error": "Invalid URL."})
        return
    name = strict_filename_clean(name.replace(" ", "_"))
    if not name.strip():
        await _send(ws, {"error": "Invalid empty name."})
        return
    if kind not in SUBTYPE_FOLDERS:
        await _send(ws, {"error": "Invalid type."})
        return
    fetch_url = url.split("#", 1)[0]
    gguf = fetch_url.endswith(".gguf")
    folder_name = "diffusion_models" if gguf and kind == "Stable-Diffusion" else None
    folder = state.models.root / (folder_name or SUBTYPE_FOLDERS[kind][0])
    target = folder / f"{name}.{'gguf' if gguf else 'safetensors'}"
    if target.exists():
        await _send(ws, {"error": "Model at that save path already exists."})
        return
    temp = folder / f"{name}.download.tmp"
    temp.unlink(missing_ok=True)
    temp.parent.mkdir(parents=True, exist_ok=True)
    download = asyncio.ensure_future(
        _fetch(fetch_url, temp, ws, state.faults, state.upstream_auth_headers(fetch_url))
    )
    stop_reason: list[str] = []
    listener = asyncio.ensure_future(_listen(ws, download, stop_reason))
    try:
        await download
        temp.replace(target)
        if metadata and metadata.strip():
            Path(str(target).rsplit(".", 1)[0] + ".swarm.json").write_text(metadata)
        state.models.refresh(kind)
        log.info("Downloaded %s to %s", fetch_url, target)
        await _send(ws, {"success": True})
    except asyncio.CancelledError:
        if not stop_reason:
            raise
        if stop_reason[0] == "cancel":
            await _send(ws, {"error": "Download was cancelled."})
    except DownloadError as err:
        await _send(ws, {"error": str(err)})
    except (aiohttp.ClientError, OSError, InjectedFailure) as err:
        log.warning("Failed to download the model due to internal exception: %r", err)
        await _send(ws, {"error": INTERNAL_FAILURE})
    finally:
        listener.cancel()
        temp.unlink(missing_ok=True)


async def _listen(ws: web.WebSocketResponse, download: asyncio.Task, reason: list[str]) -> None:
    """`{"signal":"cancel"}` cancels; so does the client going away."""
    while not download.done():
        try:
            message = await receive_json(ws)
        except FrameworkError:
            continue
        if message is None:
            reason.append("gone")
            download.cancel()
            return
        if str(message.get("signal", "")).lower() == "cancel":
            reason.append("cancel")
            download.cancel()
            return


async def _fetch(
    url: str, temp: Path, ws: web.WebSocketResponse, faults: Faults, headers: dict[str, str]
) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=STALL_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
        session.get(url, headers=headers) as response,
    ):
        if response.status != 200:
            raise DownloadError(
                f"Failed to download {url}: got response code {response.status} "
                f"{_status_name(response.status)}"
            )
        total = response.content_length
        fail = random.random() < faults.download_fail_rate
        await _send(ws, _progress(0, total, 0))
        received, last_report, since_report = 0, time.monotonic(), 0
        try:
            with temp.open("wb") as out:
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    out.write(chunk)
                    received += len(chunk)
                    since_report += len(chunk)
                    if fail:
                        raise InjectedFailure("download_fail_rate fault")
                    now = time.monotonic()
                    if now - last_report >= PROGRESS_EVERY:
                        rate = int(since_report / (now - last_report))
                        await _send(ws, _progress(received, total, rate))
                        last_report, since_report = now, 0
                    if faults.download_delay:
                        await asyncio.sleep(faults.download_delay)
        except aiohttp.ServerTimeoutError as err:
            raise DownloadError(
                "Download timed out, 5 minutes with no new data over stream."
            ) from err
        except aiohttp.ClientPayloadError:
            if total is None:
                raise
            # the stream ended early: SwarmUI checks the length itself and says so
        if total is not None and received != total:
            raise DownloadError(
                f"Download {url} failed: expected {total} bytes but got {received} bytes."
            )
        await _send(ws, _progress(received, total, 0))
