"""GenerateText2Image over HTTP: parameters, validation, determinism, metadata (reference §3.1).

Handler errors are HTTP 200 with an `error` string, and nothing is generated.
"""

from __future__ import annotations

import json

import pytest

from tests.emulators.swarmui.helpers import (
    GENERATION,
    SDXL_IN_FILENAMES,
    image_params,
    open_image,
    pixels,
    png_metadata,
)


def saved_images(api) -> list:
    return sorted(api.outputs.rglob("*.png")) if api.outputs.exists() else []


def assert_fails_without_output(api, answer: dict, error: str) -> None:
    assert answer == {"error": error}
    assert saved_images(api) == []


def test_generate_returns_one_view_path_per_image(api):
    answer = api.generate(images=3)

    assert set(answer) == {"images"}
    assert len(set(answer["images"])) == 3
    assert all(image.startswith("View/local/raw/") for image in answer["images"])


def test_images_parameter_is_required(api):
    answer = api.call("GenerateText2Image", **GENERATION)

    assert_fails_without_output(api, answer, "Missing required parameter 'images'")


def test_images_parameter_must_be_an_integer(api):
    answer = api.call("GenerateText2Image", **GENERATION, images="two")

    assert_fails_without_output(
        api, answer, "Invalid value 'two' for parameter 'images', must be type 'Int32'"
    )


def test_same_request_makes_identical_pixels(api):
    assert pixels(api, api.generate_one()) == pixels(api, api.generate_one())


@pytest.mark.parametrize(
    "change",
    [{"seed": 8}, {"prompt": "a dog"}, {"negativeprompt": "blurry"}],
    ids=["seed", "prompt", "negative-prompt"],
)
def test_changing_an_input_changes_the_pixels(api, change):
    assert pixels(api, api.generate_one()) != pixels(api, api.generate_one(**change))


def test_seed_minus_one_records_a_concrete_seed(api):
    seed = image_params(api, api.generate_one(seed=-1))["seed"]

    assert isinstance(seed, int)
    assert seed >= 0


def test_each_extra_image_uses_the_next_seed(api):
    images = api.generate(images=2, seed=100)["images"]

    assert sorted(image_params(api, image)["seed"] for image in images) == [100, 101]


def test_metadata_is_swarm_json_with_the_image_params(api):
    params = image_params(api, api.generate_one(prompt="a red cat", width=96, steps=3, seed=5))

    assert params["prompt"] == "a red cat"
    assert (params["seed"], params["steps"], params["width"], params["height"]) == (5, 3, 96, 64)
    assert "sd_xl_base_1.0" in params["model"]


def test_extra_metadata_is_copied_into_sui_extra_data(api):
    image = api.generate_one(extra_metadata={"job": "job-42", "team": "blue"})

    extra = png_metadata(api, image)["sui_extra_data"]
    assert (extra["job"], extra["team"]) == ("job-42", "blue")


@pytest.mark.parametrize("flag", [True, "true", "TRUE"])
def test_donotsave_returns_a_data_url_and_writes_no_file(api, flag):
    image = api.generate_one(donotsave=flag, width=96)

    assert image.startswith("data:image/png;base64,")
    assert open_image(api, image).size == (96, 64)
    assert saved_images(api) == []


def test_donotsave_image_has_the_same_pixels_as_a_saved_one(api):
    assert pixels(api, api.generate_one(donotsave=True)) == pixels(api, api.generate_one())


@pytest.mark.parametrize("key", ["cfgscale", "cfg_scale", "CFG Scale", "CFGScale", "cfg-scale2"])
def test_parameter_keys_are_normalised_to_lower_case_letters(api, key):
    params = image_params(api, api.generate_one(**{key: 3.5}))

    assert params["cfgscale"] == 3.5


@pytest.mark.parametrize("key", ["negative_prompt", "Negative Prompt", "NEGATIVEPROMPT"])
def test_negative_prompt_spellings_are_one_parameter(api, key):
    canonical = api.generate_one(negativeprompt="blurry")

    image = api.generate_one(**{key: "blurry"})

    assert image_params(api, image)["negativeprompt"] == "blurry"
    assert pixels(api, image) == pixels(api, canonical)


def test_unknown_parameters_are_ignored(api):
    plain = api.generate_one()

    image = api.generate_one(frobnicate=3, not_a_param="x", extra={"nested": [1]})

    assert pixels(api, image) == pixels(api, plain)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"steps": 900},
            "Invalid value for parameter Steps: "
            "Invalid integer value for param Steps - '900' - must be between 0 and 500",
        ),
        (
            {"steps": -1},
            "Invalid value for parameter Steps: "
            "Invalid integer value for param Steps - '-1' - must be between 0 and 500",
        ),
        (
            {"width": 32},
            "Invalid value for parameter Width: "
            "Invalid integer value for param Width - '32' - must be between 64 and 16384",
        ),
    ],
    ids=["steps-900", "steps-negative", "width-32"],
)
def test_out_of_range_number_is_an_http_200_error(api, change, error):
    assert_fails_without_output(api, api.generate(**change), error)


@pytest.mark.parametrize("change", [{"steps": "many"}, {"cfgscale": "high"}, {"seed": 1.5}])
def test_unparseable_number_is_an_invalid_value_error(api, change):
    answer = api.generate(**change)

    assert answer["error"].startswith("Invalid value for parameter ")
    assert saved_images(api) == []


def test_unknown_model_is_an_error_naming_the_value(api):
    answer = api.generate(model="no_such_model")

    assert_fails_without_output(
        api,
        answer,
        "Invalid value for parameter Model: Invalid model value for param Model - "
        "'no_such_model' - are you sure that model name is correct?",
    )


@pytest.mark.parametrize(
    "model",
    [
        "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
        "OfficialStableDiffusion/sd_xl_base_1.0",
        "sd_xl_base",
        "SD_XL_BASE_1.0",
    ],
)
def test_model_names_match_fuzzily(api, model):
    image = api.generate_one(model=model)

    assert image.endswith(f"-{SDXL_IN_FILENAMES}.png")


@pytest.mark.parametrize("flag", [1, 0, "yes"])
def test_boolean_parameter_accepts_only_true_and_false(api, flag):
    answer = api.generate(donotsave=flag)

    assert answer["error"].startswith("Invalid value for parameter ")
    assert "images" not in answer
    assert saved_images(api) == []


def test_generation_without_a_model_fails_with_no_model_input(api):
    request = {key: value for key, value in GENERATION.items() if key != "model"}

    answer = api.call("GenerateText2Image", images=1, **request)

    assert "No model input given. Did your UI load properly?" in answer["error"]
    assert saved_images(api) == []


def test_metadata_text_is_indented_json(api):
    text = open_image(api, api.generate_one()).text["parameters"]

    assert "\n" in text
    assert "sui_image_params" in json.loads(text)
