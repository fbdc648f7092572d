"""Runtime: what a worker remembers between jobs (parameter ids, upstream download keys)."""

from __future__ import annotations

import re
import uuid

import requests

from tests.support.processes import wait_until
from tests.worker.conftest import worker_config
from worker.runtime import Runtime


def api_calls(swarmui, route: str) -> int:
    """Calls of `route` so far. The emulator writes its access log just after answering, so a
    marker request is sent and awaited first: once its line is there, earlier ones are too."""
    marker = f"/marker-{uuid.uuid4().hex}"
    requests.get(swarmui.base_url + marker, timeout=5)
    wait_until(lambda: marker in swarmui.log(), timeout=5, what="the emulator's access log")
    return len(re.findall(rf"POST /API/{route}\b", swarmui.log()))


def set_api_key_calls(swarmui) -> int:
    return api_calls(swarmui, "SetAPIKey")


def test_download_tokens_are_handed_to_swarmui_once_per_host(swarmui):
    runtime = Runtime(
        worker_config(swarmui, huggingface_api_token="hf_test", civitai_api_token="civ_test")
    )
    runtime.ensure_download_keys("https://huggingface.co/org/repo/resolve/main/model.safetensors")
    runtime.ensure_download_keys("https://huggingface.co/org/other.safetensors")
    assert set_api_key_calls(swarmui) == 1
    runtime.ensure_download_keys("https://civitai.com/api/download/models/123")
    assert set_api_key_calls(swarmui) == 2


def test_no_token_or_another_host_sends_nothing(swarmui):
    Runtime(worker_config(swarmui)).ensure_download_keys("https://huggingface.co/x.safetensors")
    Runtime(worker_config(swarmui, huggingface_api_token="hf")).ensure_download_keys(
        "https://example.com/huggingface.co/x.safetensors"
    )
    assert set_api_key_calls(swarmui) == 0


def test_parameter_ids_come_from_list_t2i_params_once(swarmui):
    runtime = Runtime(worker_config(swarmui))
    ids = runtime.known_param_ids()
    assert {"prompt", "cfgscale", "sampler"} <= ids
    assert runtime.known_param_ids() is ids
    assert api_calls(swarmui, "ListT2IParams") == 1
