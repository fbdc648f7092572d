"""ListT2IParams: the parameter list a client validates against, and the model lists
(reference §3.5)."""

from __future__ import annotations

import re

import pytest

from tests.emulators.swarmui.helpers import SDXL_ARCH, SDXL_FILE, write_safetensors
from tests.support.processes import wait_until

PARAM_KEYS = {
    "name", "id", "description", "type", "subtype", "default", "min", "max", "step", "values",
    "visible", "advanced", "feature_flag", "toggleable", "priority", "group",
}  # fmt: skip
MODEL_LISTS = {"Stable-Diffusion", "LoRA", "VAE", "Embedding", "ControlNet", "Clip", "ClipVision"}
TYPES = {
    "text", "integer", "decimal", "boolean", "dropdown", "image", "model", "list", "image_list",
    "audio", "audio_list", "video", "video_list",
}  # fmt: skip


@pytest.fixture
def params(api) -> dict:
    return api.ok("ListT2IParams")


def by_id(params: dict) -> dict[str, dict]:
    return {param["id"]: param for param in params["list"]}


@pytest.mark.parametrize(
    ("param_id", "name", "param_type", "default", "low", "high"),
    [
        ("steps", "Steps", "integer", "20", 0, 500),
        ("cfgscale", "CFG Scale", "decimal", "7", 0, 100),
        ("width", "Width", "integer", "512", 64, 16384),
        ("height", "Height", "integer", "512", 64, 16384),
        ("images", "Images", "integer", "1", 1, 10000),
    ],
)
def test_core_number_params_have_type_default_and_range(
    params, param_id, name, param_type, default, low, high
):
    param = by_id(params)[param_id]

    assert (param["name"], param["type"], param["default"]) == (name, param_type, default)
    assert (param["min"], param["max"]) == (low, high)


@pytest.mark.parametrize(
    ("param_id", "param_type"),
    [
        ("prompt", "text"),
        ("negativeprompt", "text"),
        ("seed", "integer"),
        ("model", "model"),
        ("donotsave", "boolean"),
    ],
)
def test_core_params_are_listed_with_their_type(params, param_id, param_type):
    assert by_id(params)[param_id]["type"] == param_type


def test_every_param_has_the_documented_fields_a_letters_only_id_and_a_string_default(params):
    for param in params["list"]:
        assert set(param) >= PARAM_KEYS, param["id"]
        assert re.fullmatch("[a-z]+", param["id"])
        assert param["type"] in TYPES
        # Real SwarmUI registers Init Image and Mask Image with a null default; all others are text.
        assert isinstance(param["default"], str) or param["type"] == "image", param["id"]


def test_trigger_refresh_answers_like_list_t2i_params(api):
    answer = api.ok("TriggerRefresh", strong=True)

    assert {"list", "groups", "models"} <= set(answer)
    assert [SDXL_FILE, SDXL_ARCH] in answer["models"]["Stable-Diffusion"]


@pytest.mark.slow
def test_trigger_refresh_picks_up_a_model_file_added_to_the_volume(api):
    write_safetensors(api.models / "Lora" / "added_later.safetensors")

    def listed() -> bool:
        loras = api.ok("TriggerRefresh", strong=True)["models"]["LoRA"]
        return "added_later.safetensors" in [name for name, _ in loras]

    # SwarmUI skips a refresh within 10 s of the last one (§3.5), so this may take that long.
    wait_until(listed, timeout=25, interval=1, what="TriggerRefresh to list the new LoRA")


def test_groups_include_core_parameters(params):
    assert "coreparameters" in {group["id"] for group in params["groups"]}


def test_model_lists_pair_each_name_with_its_architecture(params):
    models = params["models"]

    assert set(models) >= MODEL_LISTS
    assert [SDXL_FILE, SDXL_ARCH] in models["Stable-Diffusion"]
    assert models["LoRA"]
    for pairs in models.values():
        assert all(len(pair) == 2 for pair in pairs)
        assert [pair[0] for pair in pairs] == sorted(pair[0] for pair in pairs)


def test_model_classes_describe_the_seeded_architecture(params):
    model_class = params["model_classes"][SDXL_ARCH]

    assert model_class["compat_class"] == "stable-diffusion-xl-v1"
    assert (model_class["standard_width"], model_class["standard_height"]) == (1024, 1024)
    assert params["model_compat_classes"]["stable-diffusion-xl-v1"]["short_code"] == "SDXL"
    assert isinstance(params["wildcards"], list)
