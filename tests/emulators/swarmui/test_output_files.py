"""Where generated images go and how GET /View serves them (reference §3.2, §9 item 5)."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest

from tests.emulators.swarmui.helpers import (
    SDXL_FILE,
    SDXL_IN_FILENAMES,
    image_bytes,
    open_image,
    raw_http,
)

OUTPUT_PATH = re.compile(
    r"View/local/raw/(?P<date>\d{4}-\d{2}-\d{2})/(?P<hhmm>\d{4})(?P<counter>\d{3})-(?P<name>.+)\.png"
)
FILE_NOT_FOUND = {"error": "404, file not found.", "error_id": "file_not_found"}


def output_name(image: str) -> re.Match:
    match = OUTPUT_PATH.fullmatch(image)
    assert match, f"not a View/local/raw/<date>/<HHMM><counter>-<prompt>-<model>.png path: {image}"
    return match


def prompt_part(api, prompt: str) -> str:
    """The `[prompt]` part of the file name generated for `prompt` (model part checked too)."""
    name = output_name(api.generate_one(prompt=prompt))["name"]
    assert name.endswith(f"-{SDXL_IN_FILENAMES}"), name
    return name.removesuffix(f"-{SDXL_IN_FILENAMES}")


def test_image_path_is_view_user_raw_date_time_counter_prompt_model(api):
    before = datetime.now()
    image = api.generate_one(prompt="a cat")
    after = datetime.now()

    match = output_name(image)
    assert match["name"] == f"a cat-{SDXL_IN_FILENAMES}"
    assert match["date"] in {before.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d")}
    assert match["hhmm"] in {before.strftime("%H%M"), after.strftime("%H%M")}


def test_counter_is_three_digits_from_001_and_counts_up_within_a_minute(api):
    names = [output_name(api.generate_one(prompt=f"cat {n}")) for n in range(4)]

    assert names[0]["counter"] == "001"
    for previous, current in itertools.pairwise(names):
        if current["hhmm"] == previous["hhmm"]:
            assert int(current["counter"]) == int(previous["counter"]) + 1
        else:
            assert current["counter"] == "001"


@pytest.mark.parametrize(
    ("prompt", "part"),
    [
        pytest.param('a.b <c>: "d" e|f?g*h~i&j@k;l#m$n^o\\p', "ab c d efghijklmnop", id="specials"),
        pytest.param("v1.5 photo.", "v15 photo", id="dots"),
        pytest.param("cats/dogs", "catsdogs", id="slash"),
        pytest.param("a" * 30 + "b" * 30, "a" * 30 + "b" * 10, id="40-chars"),
        pytest.param("." * 10 + "c" * 40, "c" * 30, id="cut-before-cleaning"),
        pytest.param("50% off, (sale) [x] +y", "50% off, (sale) [x] +y", id="kept-characters"),
    ],
)
def test_prompt_part_of_the_name_is_cut_to_40_and_cleaned(api, prompt, part):
    assert prompt_part(api, prompt) == part


def test_name_collision_gets_a_numbered_suffix(api):
    # The counter restarts with the process, so an older file can have the next name: -1, -2, ...
    for moment in (datetime.now(), datetime.now() + timedelta(minutes=1)):
        folder = api.outputs / "raw" / moment.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{moment.strftime('%H%M')}001-collide-{SDXL_IN_FILENAMES}"
        (folder / f"{stem}.png").write_bytes(b"older image")
        (folder / f"{stem}-1.png").write_bytes(b"older image")

    image = api.generate_one(prompt="collide")

    assert image.endswith(f"001-collide-{SDXL_IN_FILENAMES}-2.png")
    assert image_bytes(api, image).startswith(b"\x89PNG")


def test_image_file_is_written_under_output_user_raw(api):
    image = api.generate_one()

    path = api.output_file(image)
    assert path.is_file()
    assert path.is_relative_to(api.volume / "SwarmUI" / "Output" / "local" / "raw")
    assert path.read_bytes() == image_bytes(api, image)


def test_view_serves_a_real_png_of_the_requested_size(api):
    image = api.generate_one(width=96, height=64)

    response = api.view(image)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    picture = open_image(api, image)
    assert (picture.format, picture.size) == ("PNG", (96, 64))


def test_view_decodes_percent_encoded_paths(api):
    image = api.generate_one(prompt="50% off, (sale) [x] +y")

    assert "50% off, (sale) [x] +y" in image
    assert image_bytes(api, image) == api.output_file(image).read_bytes()


def test_view_answers_a_range_request_with_206_and_those_bytes(api):
    image = api.generate_one()
    whole = api.output_file(image).read_bytes()

    response = api.view(image, headers={"Range": "bytes=8-23"})

    assert response.status_code == 206
    assert response.content == whole[8:24]
    assert response.headers["Content-Range"] == f"bytes 8-23/{len(whole)}"


def test_view_of_a_missing_file_is_a_json_404(api):
    response = api.view("View/local/raw/2001-01-01/0000001-nothing.png")

    assert response.status_code == 404
    assert response.json() == FILE_NOT_FOUND


@pytest.mark.parametrize("dots", ["../..", "%2E%2E/%2E%2E", "..%2F.."])
def test_view_never_serves_files_outside_the_output_folder(api, dots):
    target = f"Models/Stable-Diffusion/{SDXL_FILE}"
    assert (api.models / "Stable-Diffusion" / SDXL_FILE).is_file()
    request = f"GET /View/local/{dots}/{target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    status, _, _ = raw_http(api.base_url, request.encode())

    assert status in (400, 404)
