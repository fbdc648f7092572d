"""`generate` through the async handler against the SwarmUI emulator."""

from __future__ import annotations

import base64
import itertools

from tests.worker.conftest import run_job, set_faults
from worker.contract import GenerateOutput


def test_the_original_input_shape_returns_one_inline_image(worker):
    result = run_job(
        worker,
        {
            "prompt": "a red fox",
            "negative_prompt": "blurry",
            "model": "OfficialStableDiffusion/sd_xl_base_1.0",
            "width": 512,
            "height": 384,
            "steps": 4,
            "cfg_scale": 6.5,
            "seed": 1234,
        },
    )
    output = GenerateOutput.model_validate(result)
    assert output.output_mode == "inline"
    (image,) = output.images
    assert image.type == "base64"
    assert image.mime == "image/png"
    assert (image.seed, image.width, image.height) == (1234, 512, 384)
    assert base64.b64decode(image.data).startswith(b"\x89PNG")
    assert image.size_bytes == len(base64.b64decode(image.data))
    assert image.filename.endswith(".png")
    assert image.metadata["sui_image_params"]["negativeprompt"] == "blurry"
    assert output.parameters["cfgscale"] == 6.5
    assert "session_id" not in output.parameters


def test_several_images_get_consecutive_seeds(worker):
    result = run_job(worker, {"prompt": "a fox", "steps": 2, "seed": 10, "images": 3})
    assert [image["seed"] for image in result["images"]] == [10, 11, 12]


def test_flat_swarmui_parameters_and_raw_input_reach_swarmui(worker):
    result = run_job(
        worker,
        {
            "prompt": "flat prompt",
            "steps": 2,
            "sampler": "euler",
            "raw_input": {"prompt": "raw prompt wins", "CFG Scale": 3},
        },
    )
    params = result["images"][0]["metadata"]["sui_image_params"]
    assert params["prompt"] == "raw prompt wins"
    assert params["cfgscale"] == 3
    assert params["sampler"] == "euler"


def test_images_may_come_from_raw_input_like_the_original(worker):
    result = run_job(worker, {"raw_input": {"prompt": "x", "images": 2, "steps": 1}})
    assert len(result["images"]) == 2


def test_extra_metadata_is_stored_in_the_image(worker):
    result = run_job(worker, {"prompt": "x", "steps": 1, "extra_metadata": {"team": "art"}})
    assert result["images"][0]["metadata"]["sui_extra_data"]["team"] == "art"


def test_a_misspelt_parameter_is_refused_instead_of_ignored(worker):
    result = run_job(worker, {"prompt": "x", "samplr": "euler", "cfgscael": 3})
    assert result == {
        "error": "samplr: not a SwarmUI parameter (see ListT2IParams); "
        "cfgscael: not a SwarmUI parameter (see ListT2IParams)"
    }


def test_swarmui_validation_errors_come_back_as_text(worker):
    result = run_job(worker, {"prompt": "x", "raw_input": {"steps": 900}})
    assert result["error"].startswith("SwarmUI: Invalid value for parameter Steps")


def test_an_unknown_model_names_swarmui_problem(worker):
    result = run_job(worker, {"prompt": "x", "model": "nope/missing"})
    assert result["error"].startswith("SwarmUI: Invalid value for parameter Model")
    assert "'nope/missing'" in result["error"]


def test_progress_is_forwarded_throttled_and_stops_before_the_result(
    start_swarmui, make_worker, recorder
):
    server = start_swarmui("--step-delay", "0.02")
    worker = make_worker(server, progress_interval=0.1)
    result = run_job(worker, {"prompt": "x", "steps": 40, "images": 2})
    assert "images" in result
    times = [at for at, _ in recorder.updates]
    assert len(times) >= 3
    assert all(later - earlier >= 0.09 for earlier, later in itertools.pairwise(times))
    percents = [p["percent"] for p in recorder.payloads if p.get("percent") is not None]
    assert percents == sorted(percents)
    assert max(percents) < 100
    assert recorder.payloads[-1]["images_total"] == 2


def test_a_forgotten_session_does_not_fail_the_job(worker, swarmui):
    run_job(worker, {"action": "health"})
    set_faults(swarmui, forget_sessions=True)
    assert "images" in run_job(worker, {"prompt": "x", "steps": 1})


def test_a_dropped_socket_is_retried_for_the_missing_images(worker, swarmui):
    # 2 images of 3 steps; the socket drops after 4 steps: one image arrived, one is redone.
    set_faults(swarmui, drop_ws_after_steps=4)
    result = run_job(worker, {"prompt": "x", "steps": 3, "images": 2, "seed": 50})
    assert [image["seed"] for image in result["images"]] == [50, 51]


def test_a_socket_that_keeps_dropping_ends_with_a_clear_error(worker, swarmui):
    set_faults(swarmui, drop_ws_after_steps=2)
    result = run_job(worker, {"prompt": "x", "steps": 10})
    assert result["error"].startswith("SwarmUI is unavailable: SwarmUI closed the")
    assert "0 of 1 image(s) had arrived and 1 reconnect(s) were tried" in result["error"]


def test_generation_waits_while_the_backend_loads(start_swarmui, make_worker, recorder):
    server = start_swarmui("--boot-delay", "1.5")
    worker = make_worker(server)
    result = run_job(worker, {"prompt": "x", "steps": 1})
    assert "images" in result
    assert "waiting for SwarmUI" in recorder.stages()
