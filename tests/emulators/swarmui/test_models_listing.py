"""Seeded models, ListModels and DescribeModel (reference §4.1-§4.3, §9 item 10)."""

from __future__ import annotations

import json
import re

import pytest

from tests.emulators.swarmui.helpers import SDXL, SDXL_ARCH, SDXL_FILE, read_safetensors_header

MODEL_KEYS = {
    "name", "title", "author", "description", "license", "date", "usage_hint", "trigger_phrase",
    "merged_from", "prediction_type", "preview_image", "loaded", "architecture", "class",
    "compat_class", "resolution", "standard_width", "standard_height", "tags",
    "is_supported_model_format", "is_negative_embedding", "lora_default_weight",
    "lora_default_confinement", "local", "time_created", "time_modified", "hash", "hash_sha256",
    "special_format",
}  # fmt: skip
# Oldest first: the fixture gives each file a modification time 100 s after the previous one.
TREE = (
    "Stable-Diffusion/top.safetensors",
    "Stable-Diffusion/A/a1.safetensors",
    "Stable-Diffusion/A/legacy.ckpt",
    "Stable-Diffusion/A/b/b1.safetensors",
    "diffusion_models/unet_model.safetensors",  # merged into the Stable-Diffusion namespace
    "Stable-Diffusion/A/notes.txt",
    "Stable-Diffusion/.hidden/h.safetensors",
    "Stable-Diffusion/.dotfile.safetensors",
    "Lora/style.safetensors",
)


@pytest.fixture
def tree(api_with_models):
    return api_with_models(*TREE)


def listing(api, path: str = "", depth: int = 1, **params) -> tuple[list[str], list[str]]:
    """(file names in answer order, folders sorted) of one ListModels call."""
    answer = api.ok("ListModels", path=path, depth=depth, **params)
    return [model["name"] for model in answer["files"]], sorted(answer["folders"])


def model_object(api, name: str, subtype: str = "Stable-Diffusion") -> dict:
    answer = api.ok("ListModels", path="", depth=20, subtype=subtype)
    return next(model for model in answer["files"] if model["name"] == name)


def test_first_start_seeds_sdxl_and_a_lora_with_side_files(api):
    sdxl = api.models / "Stable-Diffusion" / SDXL_FILE
    loras = sorted((api.models / "Lora").rglob("*.safetensors"))

    assert read_safetensors_header(sdxl)
    assert json.loads(sdxl.with_name("sd_xl_base_1.0.swarm.json").read_text())
    assert loras
    assert all(lora.with_suffix(".swarm.json").is_file() for lora in loras)


def test_nothing_is_seeded_when_the_volume_already_has_a_model(tree):
    assert not (tree.models / "Stable-Diffusion" / SDXL_FILE).exists()
    assert listing(tree, depth=20)[0] == [
        "A/a1.safetensors", "A/b/b1.safetensors", "A/legacy.ckpt", "top.safetensors",
        "unet_model.safetensors",
    ]  # fmt: skip


def test_seeded_sdxl_is_listed_with_every_model_field(api):
    model = model_object(api, SDXL_FILE)

    assert set(model) >= MODEL_KEYS
    assert (model["architecture"], model["compat_class"]) == (SDXL_ARCH, "stable-diffusion-xl-v1")
    assert model["class"] == "Stable Diffusion XL 1.0-Base"
    assert (model["standard_width"], model["standard_height"]) == (1024, 1024)
    assert re.fullmatch(r"\d+x\d+", model["resolution"])
    assert model["local"] is True
    assert model["is_supported_model_format"] is True
    assert isinstance(model["preview_image"], str)
    assert isinstance(model["loaded"], bool)


@pytest.mark.parametrize("missing", ["path", "depth"])
def test_list_models_requires_path_and_depth(api, missing):
    params = {"path": "", "depth": 2}
    del params[missing]

    assert api.call("ListModels", **params) == {"error": f"Missing required parameter '{missing}'"}


@pytest.mark.parametrize(
    ("path", "depth", "files", "folders"),
    [
        ("", 1, ["top.safetensors", "unet_model.safetensors"], ["A"]),
        ("", 0, ["top.safetensors", "unet_model.safetensors"], ["A"]),
        (
            "",
            2,
            ["A/a1.safetensors", "A/legacy.ckpt", "top.safetensors", "unet_model.safetensors"],
            ["A", "A/b"],
        ),
        ("A", 1, ["A/a1.safetensors", "A/legacy.ckpt"], ["b"]),
        ("A", 2, ["A/a1.safetensors", "A/b/b1.safetensors", "A/legacy.ckpt"], ["b"]),
        ("A/b", 1, ["A/b/b1.safetensors"], []),
    ],
    ids=["root-1", "root-0-clamped-to-1", "root-2", "A-1", "A-2", "A/b-1"],
)
def test_list_models_path_and_depth_select_files_and_relative_folders(
    tree, path, depth, files, folders
):
    assert listing(tree, path, depth) == (files, folders)


def test_legacy_checkpoint_is_listed_as_unsupported(tree):
    assert model_object(tree, "A/legacy.ckpt")["is_supported_model_format"] is False
    assert model_object(tree, "A/a1.safetensors")["is_supported_model_format"] is True


def test_subtype_selects_the_model_folder(tree):
    assert listing(tree, subtype="LoRA") == (["style.safetensors"], [])


def test_default_sort_is_by_name_and_sort_reverse_flips_it(tree):
    names, _ = listing(tree, depth=3)

    assert names == sorted(names)
    assert listing(tree, depth=3, sortReverse=True)[0] == names[::-1]


def test_date_modified_sort_is_newest_first(tree):
    names, _ = listing(tree, depth=3, sortBy="DateModified")

    # Only models with metadata have a date; the legacy checkpoint has none (its position is the
    # server's business), so it is left out here.
    assert [name for name in names if name.endswith(".safetensors")] == [
        "unet_model.safetensors",
        "A/b/b1.safetensors",
        "A/a1.safetensors",
        "top.safetensors",
    ]


@pytest.mark.parametrize("sort", ["Name", "name", "Title", "DateCreated", "DATEMODIFIED"])
def test_sort_modes_are_case_insensitive(tree, sort):
    names, _ = listing(tree, depth=3, sortBy=sort)

    assert sorted(names) == sorted(listing(tree, depth=3)[0])


def test_unknown_sort_mode_is_an_error(tree):
    assert tree.call("ListModels", path="", depth=1, sortBy="x") == {
        "error": "Invalid sort mode 'x'."
    }


@pytest.mark.parametrize(
    "name",
    [SDXL_FILE, SDXL, f"/{SDXL_FILE}", SDXL_FILE.replace("/", "\\")],
    ids=["full-name", "no-extension", "leading-slash", "backslashes"],
)
def test_describe_model_finds_the_model_by_its_name(api, name):
    model = api.ok("DescribeModel", modelName=name)["model"]

    assert model["name"] == SDXL_FILE
    assert set(model) >= MODEL_KEYS


def test_describe_model_of_an_unknown_name_is_model_not_found(api):
    assert api.call("DescribeModel", modelName="nope") == {"error": "Model not found."}


def test_describe_model_looks_in_the_given_subtype_only(tree):
    assert tree.ok("DescribeModel", modelName="style", subtype="LoRA")["model"]["name"] == (
        "style.safetensors"
    )
    assert tree.call("DescribeModel", modelName="style") == {"error": "Model not found."}


def test_describe_model_requires_model_name(api):
    assert api.call("DescribeModel") == {"error": "Missing required parameter 'modelName'"}


@pytest.fixture
def with_wildcard(start_api, tmp_path):
    """An emulator whose volume has the wildcard file `Data/Wildcards/animals.txt`."""
    wildcards = tmp_path / "wildcard-volume" / "SwarmUI" / "Data" / "Wildcards"
    wildcards.mkdir(parents=True)
    (wildcards / "animals.txt").write_text("cat\ndog\n")
    return start_api("--step-delay", "0", volume=tmp_path / "wildcard-volume")


def test_wildcards_are_listed_as_a_pseudo_subtype(with_wildcard):
    answer = with_wildcard.ok("ListModels", path="", depth=5, subtype="Wildcards")

    (card,) = answer["files"]
    assert {"name", "raw", "image"} <= set(card)
    assert card["name"] == "animals"
    assert "dog" in card["raw"]
    assert "animals" in with_wildcard.ok("ListT2IParams")["wildcards"]


def test_describe_model_returns_a_wildcard_unwrapped(with_wildcard):
    answer = with_wildcard.ok("DescribeModel", modelName="animals", subtype="Wildcards")

    assert answer["name"] == "animals"
    assert "model" not in answer
