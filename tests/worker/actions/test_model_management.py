"""`rename_model`, per-job download tokens and download speed in progress, against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.worker.conftest import run_job, worker_config
from worker.handler import Worker
from worker.swarmui_client import SwarmUIClient

FLUX = "Flux/flux1-schnell-tiny.safetensors"


def _names(worker: Worker) -> list[str]:
    listed = run_job(worker, {"action": "list_models", "depth": 5})
    return [model["name"] for model in listed["models"]]


def test_rename_moves_the_model_and_says_where_it_went(worker, swarmui):
    result = run_job(
        worker,
        {
            "action": "rename_model",
            "model_name": "Flux/flux1-schnell-tiny",
            "new_name": "Fast/tiny",
        },
    )
    assert result == {"model_name": FLUX, "new_model_name": "Fast/tiny.safetensors"}
    names = _names(worker)
    assert "Fast/tiny.safetensors" in names
    assert FLUX not in names
    models = swarmui.volume / "SwarmUI" / "Models" / "Stable-Diffusion"
    assert (models / "Fast" / "tiny.safetensors").exists()


def test_rename_applies_swarmui_name_rules_to_the_new_name(worker):
    result = run_job(
        worker, {"action": "rename_model", "model_name": FLUX, "new_name": "my tiny v1.0"}
    )
    # SwarmUI drops what follows the last dot (taken for an extension), spaces become `_`.
    assert result["new_model_name"] == "my_tiny_v1.safetensors"
    assert "my_tiny_v1.safetensors" in _names(worker)


def test_renaming_onto_an_existing_model_is_refused_and_changes_nothing(worker):
    sdxl = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"
    result = run_job(
        worker,
        {"action": "rename_model", "model_name": sdxl, "new_name": "Flux/flux1-schnell-tiny"},
    )
    assert result == {"error": "SwarmUI: Model new name is already taken by an existing model."}
    assert {sdxl, FLUX} <= set(_names(worker))


@pytest.mark.parametrize(
    ("job", "error"),
    [
        ({"model_name": "ghost", "new_name": "x"}, "model_name: no Stable-Diffusion model"),
        ({"model_name": FLUX, "new_name": "../x"}, "new_name: must not contain '..'"),
        ({"model_name": FLUX, "new_name": "a/???"}, "new_name: 'a/???' has a part"),
        ({"model_name": FLUX}, "new_name: is required"),
    ],
)
def test_bad_renames_name_the_field(worker, job, error):
    result = run_job(worker, {"action": "rename_model", **job})
    assert error in result["error"]
    assert FLUX in _names(worker)


class KeyRecordingClient(SwarmUIClient):
    """The real client, which also remembers every SetAPIKey it sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys_sent: list[tuple[str, str]] = []

    def set_api_key(self, key_type: str, key: str) -> None:
        self.keys_sent.append((key_type, key))
        super().set_api_key(key_type, key)


def _recording_worker(swarmui, recorder, **overrides: Any) -> tuple[Worker, KeyRecordingClient]:
    config = worker_config(swarmui, **overrides)
    client = KeyRecordingClient(
        config.swarmui_api_url,
        timeout=config.request_timeout,
        ws_idle_timeout=config.ws_idle_timeout,
    )
    return Worker(config, client=client, progress_sender=recorder.sender), client


def test_job_tokens_are_given_to_swarmui_for_the_download_and_taken_back(
    swarmui, recorder, file_server
):
    worker, client = _recording_worker(swarmui, recorder)
    base, root = file_server
    (root / "keyed.safetensors").write_bytes(b"\0" * 1000)
    result = run_job(
        worker,
        {
            "action": "download_model",
            "url": f"{base}/keyed.safetensors",
            "model_name": "keyed",
            "api_keys": {"huggingface_api": "hf_team_token"},
        },
    )
    assert result["model_name"] == "keyed.safetensors"
    assert "hf_team_token" not in str(result)
    assert client.keys_sent == [("huggingface_api", "hf_team_token"), ("huggingface_api", "none")]


def test_the_workers_own_token_comes_back_after_a_job_token(swarmui, recorder, file_server):
    worker, client = _recording_worker(swarmui, recorder, huggingface_api_token="hf_worker_token")
    base, root = file_server
    (root / "again.safetensors").write_bytes(b"\0" * 1000)
    run_job(
        worker,
        {
            "action": "download_model",
            "url": f"{base}/again.safetensors",
            "model_name": "again",
            "api_keys": {"huggingface_api": "hf_team_token", "civitai_api": "civ_team_token"},
        },
    )
    assert client.keys_sent == [
        ("huggingface_api", "hf_team_token"),
        ("civitai_api", "civ_team_token"),
        ("huggingface_api", "hf_worker_token"),
        ("civitai_api", "none"),
    ]


def test_unknown_token_kinds_are_refused_before_anything_runs(worker):
    result = run_job(
        worker,
        {
            "action": "download_model",
            "url": "https://huggingface.co/a/b/resolve/main/m.safetensors",
            "model_name": "m",
            "api_keys": {"stability_api": "sk-secret"},
        },
    )
    assert result["error"] == (
        "api_keys.stability_api: is not a known field of action 'download_model'"
    )


def test_download_progress_carries_the_speed(start_swarmui, make_worker, file_server, recorder):
    swarmui = start_swarmui("--download-delay", "0.3")  # 6 chunks: SwarmUI reports after 1 s
    worker = make_worker(swarmui)
    base, root = file_server
    (root / "paced.safetensors").write_bytes(b"\0" * (64 * 1024 * 6))
    run_job(
        worker,
        {"action": "download_model", "url": f"{base}/paced.safetensors", "model_name": "paced"},
    )
    speeds = [payload.get("bytes_per_second") for payload in recorder.payloads]
    assert any(speed and speed > 0 for speed in speeds), recorder.payloads
