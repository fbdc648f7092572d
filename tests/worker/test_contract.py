"""The job contract: the original worker's input shape, readable errors, output models."""

from __future__ import annotations

import json

import pytest

from worker.contract import (
    ACTIONS,
    OUTPUTS,
    ContractError,
    DownloadModelInput,
    EditModelMetadataInput,
    GenerateInput,
    GenerateOutput,
    KeepAliveInput,
    ListModelsInput,
    parse_job_input,
)


def error_of(raw) -> str:
    with pytest.raises(ContractError) as caught:
        parse_job_input(raw)
    return str(caught.value)


def test_input_without_action_is_a_generation_like_the_original():
    request = parse_job_input({"prompt": "a cat", "steps": 20, "cfg_scale": 7.5, "seed": 42})
    assert isinstance(request, GenerateInput)
    assert (request.prompt, request.steps, request.cfg_scale, request.seed) == (
        "a cat",
        20,
        7.5,
        42,
    )
    assert request.images == 1


def test_original_generate_fields_all_parse():
    request = parse_job_input(
        {
            "action": "generate",
            "prompt": "a cat",
            "negative_prompt": "blurry",
            "model": "OfficialStableDiffusion/sd_xl_base_1.0",
            "width": 1024,
            "height": 768,
            "steps": 30,
            "cfg_scale": 7,
            "seed": -1,
            "images": 2,
            "raw_input": {"sampler": "euler"},
            "extra_metadata": {"team": "art", "tags": ["a", "b"]},
        }
    )
    assert request.negative_prompt == "blurry"
    assert (request.width, request.height, request.images) == (1024, 768, 2)
    assert request.raw_input == {"sampler": "euler"}
    assert request.extra_metadata == {"team": "art", "tags": ["a", "b"]}


def test_raw_input_is_also_accepted_as_rawInput():
    assert parse_job_input({"rawInput": {"steps": 3}}).raw_input == {"steps": 3}


def test_unknown_flat_keys_are_swarmui_parameters():
    request = parse_job_input(
        {"prompt": "x", "sampler": "euler", "loras": ["a", "b"], "CFG Scale": 5}
    )
    assert request.swarm_params == {"sampler": "euler", "loras": ["a", "b"], "CFG Scale": 5}


def test_original_control_keys_are_not_passed_to_swarmui():
    request = parse_job_input({"prompt": "x", "install_only": True, "session_id": "abc"})
    assert request.swarm_params == {}


def test_numbers_may_arrive_as_numeric_strings():
    assert parse_job_input({"steps": "25", "width": "512"}).steps == 25


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"steps": 900}, "steps: must be between 1 and 500"),
        ({"steps": 0}, "steps: must be between 1 and 500"),
        ({"steps": True}, "steps: must be a number, not true/false"),
        ({"steps": 20.5}, "steps: must be a whole number"),
        ({"width": "wide"}, "width: must be an integer"),
        ({"width": 32}, "width: must be between 64 and 16384"),
        ({"cfg_scale": 101}, "cfg_scale: must be between 0 and 100"),
        ({"seed": -2}, "seed: must be between -1"),
        ({"images": 0}, "images: must be between 1 and 100"),
        ({"prompt": 5}, "prompt: must be a string"),
        ({"raw_input": "steps=3"}, "raw_input: must be an object"),
        ({"extra_metadata": {"a": {"b": 1}}}, "extra_metadata.a: must be a string"),
        ({"weird key": {1, 2}}, "weird key: must be a string, number"),
        ({"42": 1}, "42: is not a SwarmUI parameter name"),
        ({"output_mode": "email"}, "output_mode: must be one of auto, inline, volume, bucket"),
    ],
)
def test_bad_generate_input_names_the_field(raw, message):
    assert message in error_of(raw)


def test_several_bad_fields_are_reported_together():
    text = error_of({"steps": 900, "width": "x"})
    assert "steps:" in text
    assert "width:" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "paint"}, "action: unknown action 'paint'; expected one of generate,"),
        ({"action": 3}, "action: unknown action 3"),
        ({"action": "describe_model"}, "model_name: is required"),
        ({"action": "describe_model", "model_name": "../x"}, "model_name: must not contain '..'"),
        ({"action": "describe_model", "model_name": "/etc/x"}, "model_name: must be a relative"),
        ({"action": "delete_model", "model_name": "C:\\x"}, "model_name: must be a relative"),
        ({"action": "list_models", "path": "a/../../b"}, "path: must not contain '..'"),
        ({"action": "list_models", "depth": 50}, "depth: must be between 1 and 20"),
        ({"action": "list_models", "subtype": "Checkpoint"}, "subtype: must be one of"),
        ({"action": "list_models", "sort_by": "size"}, "sort_by: must be one of Name, Title"),
        ({"action": "list_models", "allow_remote": "maybe"}, "allow_remote: must be true or false"),
        ({"action": "list_models", "pth": ""}, "pth: is not a known field of action 'list_models'"),
        ({"action": "download_model", "url": "http://x/y"}, "model_name: is required"),
        (
            {"action": "download_model", "url": "file:///etc/passwd", "model_name": "m"},
            "url: must be an http:// or https:// URL",
        ),
        (
            {"action": "download_model", "url": "ftp://host/m", "model_name": "m"},
            "url: must be an http:// or https:// URL",
        ),
        ({"action": "edit_model_metadata", "model_name": "m"}, "metadata: is required"),
        (
            {"action": "edit_model_metadata", "model_name": "m", "metadata": {"titel": "x"}},
            "metadata.titel: is not a known field",
        ),
        (
            {"action": "edit_model_metadata", "model_name": "m", "metadata": []},
            "metadata: must be an object",
        ),
        ({"action": "keep_alive", "duration_seconds": 0}, "duration_seconds: must be between 1"),
        ({"action": "keep_alive", "interval": "often"}, "interval: must be a number"),
        ({"action": "warmup", "steps": 50}, "steps: must be between 1 and 10"),
        ({"action": "health", "verbose": True}, "verbose: is not a known field"),
    ],
)
def test_bad_input_of_other_actions_names_the_field(raw, message):
    assert message in error_of(raw)


@pytest.mark.parametrize("raw", [None, [], "not json", 42])
def test_input_that_is_not_an_object_is_refused(raw):
    assert error_of(raw) == "input: must be a JSON object"


def test_input_may_arrive_as_json_text():
    assert parse_job_input(json.dumps({"action": "health"})).action == "health"


def test_list_models_defaults_are_the_originals():
    request = parse_job_input({"action": "list_models"})
    assert isinstance(request, ListModelsInput)
    assert (request.path, request.depth, request.subtype, request.allow_remote) == (
        "",
        2,
        "Stable-Diffusion",
        True,
    )


def test_subtypes_and_sort_modes_are_normalised_to_swarmui_spelling():
    request = parse_job_input(
        {"action": "list_models", "subtype": "lora", "sort_by": "datecreated"}
    )
    assert (request.subtype, request.sort_by) == ("LoRA", "DateCreated")


def test_folder_paths_lose_trailing_slashes_and_backslashes_become_slashes():
    assert parse_job_input({"action": "list_models", "path": "Flux\\dev/"}).path == "Flux/dev"


def test_download_takes_model_type_or_subtype():
    by_type = parse_job_input(
        {"action": "download_model", "url": "https://h/x", "model_name": "m", "model_type": "LoRA"}
    )
    by_subtype = parse_job_input(
        {"action": "download_model", "url": "https://h/x", "model_name": "m", "subtype": "vae"}
    )
    assert isinstance(by_type, DownloadModelInput)
    assert (by_type.model_type, by_subtype.model_type) == ("LoRA", "VAE")


def test_keep_alive_takes_the_original_short_names():
    request = parse_job_input({"action": "keep_alive", "duration": 30, "interval": 5})
    assert isinstance(request, KeepAliveInput)
    assert (request.duration_seconds, request.interval_seconds) == (30, 5)


def test_partial_metadata_edit_remembers_which_fields_were_given():
    request = parse_job_input(
        {
            "action": "edit_model_metadata",
            "model_name": "m",
            "metadata": {"title": "T", "tags": ["a"]},
        }
    )
    assert isinstance(request, EditModelMetadataInput)
    assert request.metadata.model_dump(exclude_unset=True) == {"title": "T", "tags": ["a"]}


def test_dashboard_side_models_round_trip_through_the_wire_shape():
    sent = GenerateInput(prompt="a cat", steps=12, swarm_params={"sampler": "euler"})
    wire = sent.to_job_input()
    assert wire["sampler"] == "euler"
    assert "swarm_params" not in wire
    assert parse_job_input(wire) == sent


def test_every_action_and_output_has_a_json_schema():
    for model in [*ACTIONS.values(), *OUTPUTS.values()]:
        json.dumps(model.model_json_schema())
    steps = GenerateInput.model_json_schema()["properties"]["steps"]["anyOf"][0]
    assert (steps["minimum"], steps["maximum"]) == (1, 500)


def test_outputs_parse_what_the_worker_returns():
    output = GenerateOutput.model_validate(
        {
            "images": [
                {
                    "filename": "a.png",
                    "mime": "image/png",
                    "size_bytes": 3,
                    "type": "base64",
                    "data": "AAA=",
                }
            ],
            "output_mode": "inline",
            "parameters": {"prompt": "x"},
            "elapsed_seconds": 1.5,
        }
    )
    assert output.images[0].type == "base64"


def test_contract_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, worker.contract; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('runpod', 'requests', 'websocket', 'boto3', 'django', 'aiohttp')]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
