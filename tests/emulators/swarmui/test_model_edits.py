"""EditModelMetadata, DeleteModel, RenameModel and sub-type checks (reference §4.1, §4.4, §4.5,
§9 item 10)."""

from __future__ import annotations

import pytest

from tests.emulators.swarmui.helpers import SDXL, SDXL_ARCH, SDXL_FILE
from tests.support.processes import wait_until

EDIT = {
    "model": SDXL_FILE,
    "title": "House SDXL",
    "author": "Ann Example",
    "type": "",
    "description": "Our everyday model.",
    "standard_width": 0,
    "standard_height": 0,
    "usage_hint": "Use at 1024x1024.",
    "date": "2024-05-06",
    "license": "CreativeML Open RAIL++-M",
    "trigger_phrase": "house style",
    "prediction_type": "",
    "tags": "base,house",
}


def describe(api, name: str = SDXL_FILE, subtype: str = "Stable-Diffusion") -> dict:
    return api.ok("DescribeModel", modelName=name, subtype=subtype)["model"]


def names(api, subtype: str = "Stable-Diffusion") -> list[str]:
    files = api.ok("ListModels", path="", depth=20, subtype=subtype)["files"]
    return [model["name"] for model in files]


@pytest.fixture
def sdxl_file(api):
    return api.models / "Stable-Diffusion" / SDXL_FILE


def test_edit_model_metadata_overwrites_the_fields_describe_model_shows(api):
    assert api.call("EditModelMetadata", **EDIT) == {"success": True}

    model = describe(api)
    assert (model["title"], model["author"]) == ("House SDXL", "Ann Example")
    assert (model["description"], model["usage_hint"]) == (
        "Our everyday model.",
        "Use at 1024x1024.",
    )
    assert (model["date"], model["license"]) == ("2024-05-06", "CreativeML Open RAIL++-M")
    assert model["trigger_phrase"] == "house style"
    assert model["tags"] == ["base", "house"]


def test_edit_keeps_architecture_and_resolution_when_left_empty(api):
    api.ok("EditModelMetadata", **EDIT)

    model = describe(api)
    assert model["architecture"] == SDXL_ARCH
    assert (model["standard_width"], model["standard_height"]) == (1024, 1024)
    assert model["prediction_type"] is None


def test_edit_sets_resolution(api):
    api.ok("EditModelMetadata", **{**EDIT, "standard_width": 768, "standard_height": 640})

    model = describe(api)
    assert (model["standard_width"], model["standard_height"]) == (768, 640)
    assert model["resolution"] == "768x640"


def test_empty_title_becomes_null(api):
    api.ok("EditModelMetadata", **{**EDIT, "title": ""})

    assert describe(api)["title"] is None


def test_edit_is_written_to_the_swarm_json_side_file(api, sdxl_file):
    api.ok("EditModelMetadata", **EDIT)

    side_file = sdxl_file.with_name("sd_xl_base_1.0.swarm.json")
    wait_until(lambda: "House SDXL" in side_file.read_text(), timeout=5, what="the .swarm.json")
    assert "Ann Example" in side_file.read_text()


@pytest.mark.parametrize("missing", [key for key in EDIT if key != "model"] + ["model"])
def test_edit_model_metadata_requires_every_field(api, missing):
    request = {key: value for key, value in EDIT.items() if key != missing}

    assert api.call("EditModelMetadata", **request) == {
        "error": f"Missing required parameter '{missing}'"
    }
    assert describe(api)["title"] != "House SDXL"


def test_edit_model_metadata_needs_the_exact_name_with_extension(api):
    assert api.call("EditModelMetadata", **{**EDIT, "model": SDXL}) == {"error": "Model not found."}


def test_edit_model_metadata_of_an_empty_name_is_invalid_empty_name(api):
    assert api.call("EditModelMetadata", **{**EDIT, "model": ""}) == {
        "error": "Invalid empty name."
    }


def test_edit_model_metadata_of_a_lora_uses_its_subtype(api):
    lora = names(api, "LoRA")[0]

    api.ok("EditModelMetadata", **{**EDIT, "model": lora, "subtype": "LoRA"})

    assert describe(api, lora, "LoRA")["title"] == "House SDXL"


def test_delete_model_removes_the_file_and_its_side_files(api, sdxl_file):
    preview = sdxl_file.with_name("sd_xl_base_1.0.preview.png")
    preview.write_bytes(b"\x89PNG fake preview")

    assert api.call("DeleteModel", modelName=SDXL_FILE) == {"success": True}

    assert not sdxl_file.exists()
    assert not sdxl_file.with_name("sd_xl_base_1.0.swarm.json").exists()
    assert not preview.exists()
    assert SDXL_FILE not in names(api)
    assert api.call("DescribeModel", modelName=SDXL_FILE) == {"error": "Model not found."}


def test_delete_model_prunes_the_emptied_folder(api_with_models):
    api = api_with_models(
        "Stable-Diffusion/top.safetensors", "Stable-Diffusion/Deep/only.safetensors"
    )

    api.ok("DeleteModel", modelName="Deep/only.safetensors", subtype="Stable-Diffusion")

    assert not (api.models / "Stable-Diffusion" / "Deep").exists()
    assert names(api) == ["top.safetensors"]


@pytest.mark.parametrize(
    ("new_name", "result"),
    [
        ("my v1.5 lora.safetensors", "my_v15_lora.safetensors"),
        ("Styles/new one", "Styles/new_one.safetensors"),
    ],
    ids=["dots-dropped-spaces-underscored", "into-a-sub-folder"],
)
def test_rename_model_cleans_the_new_name(api_with_models, new_name, result):
    api = api_with_models("Stable-Diffusion/top.safetensors", "Lora/style.safetensors")

    assert api.call(
        "RenameModel", oldName="style.safetensors", newName=new_name, subtype="LoRA"
    ) == {"success": True}

    assert (api.models / "Lora" / result).is_file()
    assert not (api.models / "Lora" / "style.safetensors").exists()
    assert names(api, "LoRA") == [result]


def test_rename_model_to_a_taken_name_is_refused(api_with_models):
    api = api_with_models("Stable-Diffusion/one.safetensors", "Stable-Diffusion/two.safetensors")

    answer = api.call("RenameModel", oldName="one.safetensors", newName="two")

    assert answer == {"error": "Model new name is already taken by an existing model."}
    assert names(api) == ["one.safetensors", "two.safetensors"]


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("ListModels", {"path": "", "depth": 1}),
        ("DescribeModel", {"modelName": SDXL_FILE}),
        ("EditModelMetadata", EDIT),
        ("DeleteModel", {"modelName": SDXL_FILE}),
        ("RenameModel", {"oldName": SDXL_FILE, "newName": "renamed"}),
    ],
)
@pytest.mark.parametrize("subtype", ["Bogus", "stable-diffusion", "lora"])
def test_unknown_or_wrongly_cased_subtype_is_invalid_sub_type(
    api, sdxl_file, route, params, subtype
):
    assert api.call(route, **params, subtype=subtype) == {"error": "Invalid sub-type."}
    assert sdxl_file.is_file()
