"""`download_model`: SwarmUI's naming applied up front, progress, cancel, errors."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from tests.support.processes import wait_until
from tests.worker.conftest import run_async, run_job
from worker.actions.download import swarm_download_name
from worker.runtime import ActionError


@pytest.mark.parametrize(
    ("requested", "url", "expected"),
    [
        ("my_lora", "https://h/x.safetensors", ("my_lora", ".safetensors")),
        ("my_lora.safetensors", "https://h/x", ("my_lora", ".safetensors")),
        ("sd_xl_base_1.0", "https://h/x", ("sd_xl_base_10", ".safetensors")),
        ("Flux/my model v1.0", "https://h/x", ("Flux/my_model_v10", ".safetensors")),
        ("q4 model", "https://h/files/model-Q4.GGUF#frag", ("q4_model", ".gguf")),
        ("odd<name>:x?", "https://h/x", ("oddnamex", ".safetensors")),
    ],
)
def test_names_follow_swarmui_rules(requested, url, expected):
    assert swarm_download_name(requested, url) == expected


def test_a_name_that_cleans_to_nothing_is_refused():
    with pytest.raises(ActionError, match=re.escape("model_name: 'Flux/...'")):
        swarm_download_name("Flux/...", "https://h/x")


def test_download_lands_where_the_output_says(start_swarmui, make_worker, file_server, recorder):
    swarmui = start_swarmui("--download-delay", "0.05")  # 4 chunks: long enough for progress
    worker = make_worker(swarmui)
    base, root = file_server
    (root / "lora.safetensors").write_bytes(b"\0" * 200_000)
    result = run_job(
        worker,
        {
            "action": "download_model",
            "url": f"{base}/lora.safetensors",
            "model_name": "Team/style lora v1.5",
            "model_type": "LoRA",
            "metadata": {"modelspec.title": "Style"},
        },
    )
    assert result == {
        "model_name": "Team/style_lora_v15.safetensors",
        "subtype": "LoRA",
        "requested_name": "Team/style lora v1.5",
        "renamed": True,
        "url": f"{base}/lora.safetensors",
    }
    folder = swarmui.volume / "SwarmUI" / "Models" / "Lora" / "Team"
    assert (folder / "style_lora_v15.safetensors").stat().st_size == 200_000
    listed = run_job(worker, {"action": "list_models", "subtype": "LoRA", "depth": 5})
    assert "Team/style_lora_v15.safetensors" in [model["name"] for model in listed["models"]]
    assert "downloading" in recorder.stages()


def test_download_errors_come_back_as_text(worker, file_server):
    base, _ = file_server
    result = run_job(
        worker, {"action": "download_model", "url": f"{base}/missing.bin", "model_name": "m"}
    )
    assert result["error"].startswith("SwarmUI: Failed to download")
    assert "404" in result["error"]


def test_an_existing_target_is_reported(worker, file_server):
    base, root = file_server
    (root / "m.safetensors").write_bytes(b"\0" * 1000)
    job = {"action": "download_model", "url": f"{base}/m.safetensors", "model_name": "twice"}
    assert "model_name" in run_job(worker, job)
    assert run_job(worker, job) == {"error": "SwarmUI: Model at that save path already exists."}


def test_cancelling_the_job_cancels_the_download(start_swarmui, make_worker, file_server, recorder):
    server = start_swarmui("--download-delay", "0.1")
    worker = make_worker(server)
    base, root = file_server
    (root / "big.safetensors").write_bytes(b"\0" * (64 * 1024 * 100))

    async def scenario() -> None:
        task = asyncio.create_task(
            worker.handle(
                {
                    "id": "dl",
                    "input": {
                        "action": "download_model",
                        "url": f"{base}/big.safetensors",
                        "model_name": "big",
                    },
                }
            )
        )
        await asyncio.to_thread(wait_until, lambda: recorder.payloads, timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_async(scenario())
    target = server.volume / "SwarmUI" / "Models" / "Stable-Diffusion" / "big.safetensors"
    partial = target.with_suffix(".download.tmp")
    wait_until(lambda: not partial.exists(), timeout=10, what="SwarmUI to drop the partial file")
    assert not target.exists()
    assert threading.active_count() < 20
