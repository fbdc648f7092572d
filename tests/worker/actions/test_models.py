"""`list_models`, `describe_model`, `edit_model_metadata`, `delete_model` against the emulator."""

from __future__ import annotations

from tests.worker.conftest import run_job

SDXL = "OfficialStableDiffusion/sd_xl_base_1.0.safetensors"


def test_list_models_uses_the_original_defaults(worker):
    result = run_job(worker, {"action": "list_models"})
    names = [model["name"] for model in result["models"]]
    assert SDXL in names
    assert "OfficialStableDiffusion" in result["folders"]


def test_list_models_by_folder_and_subtype(worker):
    loras = run_job(worker, {"action": "list_models", "subtype": "lora", "depth": 5})
    assert loras["models"]
    assert all("lora" in model["name"].lower() for model in loras["models"])
    flux = run_job(worker, {"action": "list_models", "path": "Flux/", "depth": 3})
    assert [model["name"] for model in flux["models"]] == ["Flux/flux1-schnell-tiny.safetensors"]


def test_list_models_sorting_is_passed_through(worker):
    ascending = run_job(worker, {"action": "list_models", "depth": 5, "sort_by": "name"})
    descending = run_job(
        worker, {"action": "list_models", "depth": 5, "sort_by": "Name", "sort_reverse": True}
    )
    names = [model["name"] for model in ascending["models"]]
    assert names == sorted(names)
    assert [model["name"] for model in descending["models"]] == names[::-1]


def test_describe_accepts_the_name_without_extension(worker):
    result = run_job(
        worker, {"action": "describe_model", "model_name": "OfficialStableDiffusion/sd_xl_base_1.0"}
    )
    assert result["model"]["name"] == SDXL


def test_describe_an_unknown_model_names_the_field(worker):
    result = run_job(worker, {"action": "describe_model", "model_name": "no/such"})
    assert result == {"error": "model_name: no Stable-Diffusion model named 'no/such'"}


def test_a_partial_metadata_edit_keeps_every_other_field(worker):
    before = run_job(worker, {"action": "describe_model", "model_name": SDXL})["model"]
    result = run_job(
        worker,
        {
            "action": "edit_model_metadata",
            "model_name": "OfficialStableDiffusion/sd_xl_base_1.0",
            "metadata": {"title": "SDXL for the team", "tags": ["base", "xl"]},
        },
    )
    assert result["model_name"] == SDXL
    after = run_job(worker, {"action": "describe_model", "model_name": SDXL})["model"]
    assert after["title"] == "SDXL for the team"
    assert after["tags"] == ["base", "xl"]
    # EditModelMetadata takes strings: a field that was null may come back as "" (same meaning).
    for kept in (
        "author",
        "architecture",
        "description",
        "standard_width",
        "license",
        "usage_hint",
    ):
        assert (after[kept] or "") == (before[kept] or ""), kept


def test_editing_every_field_then_one(worker):
    run_job(
        worker,
        {
            "action": "edit_model_metadata",
            "model_name": SDXL,
            "metadata": {"author": "Team", "description": "d", "standard_width": 768},
        },
    )
    run_job(
        worker, {"action": "edit_model_metadata", "model_name": SDXL, "metadata": {"license": "x"}}
    )
    model = run_job(worker, {"action": "describe_model", "model_name": SDXL})["model"]
    assert (model["author"], model["description"], model["standard_width"], model["license"]) == (
        "Team",
        "d",
        768,
        "x",
    )


def test_delete_removes_the_file_and_its_listing(worker, swarmui):
    path = swarmui.volume / "SwarmUI" / "Models" / "Stable-Diffusion" / "Flux"
    assert (path / "flux1-schnell-tiny.safetensors").exists()
    result = run_job(worker, {"action": "delete_model", "model_name": "Flux/flux1-schnell-tiny"})
    assert result == {"model_name": "Flux/flux1-schnell-tiny.safetensors", "deleted": True}
    assert not (path / "flux1-schnell-tiny.safetensors").exists()
    names = [m["name"] for m in run_job(worker, {"action": "list_models", "depth": 5})["models"]]
    assert "Flux/flux1-schnell-tiny.safetensors" not in names


def test_deleting_an_unknown_model_deletes_nothing(worker):
    result = run_job(worker, {"action": "delete_model", "model_name": "ghost"})
    assert result == {"error": "model_name: no Stable-Diffusion model named 'ghost'"}


def test_null_keeps_a_field_and_an_empty_string_clears_it(worker):
    run_job(
        worker,
        {
            "action": "edit_model_metadata",
            "model_name": SDXL,
            "metadata": {"author": "A", "license": "L"},
        },
    )
    run_job(
        worker,
        {
            "action": "edit_model_metadata",
            "model_name": SDXL,
            "metadata": {"author": None, "license": ""},
        },
    )
    model = run_job(worker, {"action": "describe_model", "model_name": SDXL})["model"]
    assert model["author"] == "A"
    assert not model["license"]
