"""ListImages, DeleteImage and ToggleImageStarred; paths are relative to Output/<user>/
(reference §5)."""

from __future__ import annotations

import json
import os
import time

import pytest

SIBLINGS = (".txt", ".metadata.js", ".swarm.json", ".swarmpreview.jpg", ".swarmpreview.webp")


def relative(image: str) -> str:
    """`View/local/raw/...` → `raw/...`, the form every history route takes."""
    return image.split("/", 2)[2]


def sources(api, path: str = "", depth: int = 5, **params) -> list[str]:
    return [file["src"] for file in api.ok("ListImages", path=path, depth=depth, **params)["files"]]


@pytest.fixture
def image(api) -> str:
    """One generated image, as its history path `raw/<date>/<name>.png`."""
    return relative(api.generate_one())


def test_list_images_lists_folders_and_files_with_metadata(api, image):
    answer = api.ok("ListImages", path="", depth=5)

    date_folder = image.rsplit("/", 1)[0]
    assert {"raw", date_folder} <= set(answer["folders"])
    (listed,) = answer["files"]
    assert listed["src"] == image
    assert json.loads(listed["metadata"])["sui_image_params"]["prompt"] == "a cat"


def test_file_src_is_relative_to_the_requested_path(api, image):
    folder, name = image.rsplit("/", 1)

    assert sources(api, folder, 1) == [name]


@pytest.mark.parametrize("missing", ["path", "depth"])
def test_list_images_requires_path_and_depth(api, missing):
    params = {"path": "", "depth": 2}
    del params[missing]

    assert api.call("ListImages", **params) == {"error": f"Missing required parameter '{missing}'"}


def test_name_sort_is_descending_and_sort_reverse_flips_it(api):
    first, second = relative(api.generate_one()), relative(api.generate_one())

    assert sources(api) == [second, first]
    assert sources(api, sortBy="Name", sortReverse=True) == [first, second]


def test_date_sort_is_newest_first(api):
    first, second = relative(api.generate_one()), relative(api.generate_one())
    later = time.time() + 3600
    os.utime(api.outputs / first, (later, later))

    assert sources(api, sortBy="Date") == [first, second]


def test_unknown_sort_mode_is_an_error(api, image):
    assert api.call("ListImages", path="", depth=5, sortBy="x") == {
        "error": "Invalid sort mode 'x'."
    }


def test_unknown_path_lists_nothing(api, image):
    # "404, path not found." is only for file-system exceptions; a folder that does not exist
    # simply has nothing in it (T2IAPI.GetListAPIInternal checks Directory.Exists and skips).
    assert api.call("ListImages", path="nowhere", depth=1) == {"folders": [], "files": []}


def test_only_media_files_are_listed(api, image):
    folder = api.outputs / image.rsplit("/", 1)[0]
    for name in ("extra.jpg", "clip.mp4", "x.swarmpreview.jpg", ".hidden.png", "readme.txt"):
        (folder / name).write_bytes(b"media")

    listed = {src.rsplit("/", 1)[1] for src in sources(api)}

    assert listed == {image.rsplit("/", 1)[1], "extra.jpg", "clip.mp4"}


def test_delete_image_removes_the_file_and_its_side_files(api, image):
    path = api.outputs / image
    siblings = [path.with_name(path.stem + suffix) for suffix in SIBLINGS]
    for sibling in siblings:
        sibling.write_bytes(b"side file")

    assert api.call("DeleteImage", path=image) == {"success": True}

    assert not path.exists()
    assert [sibling.name for sibling in siblings if sibling.exists()] == []
    assert sources(api) == []
    assert api.view(f"View/local/{image}").status_code == 404


@pytest.mark.parametrize("form", ["view-url", "missing"])
def test_delete_image_of_a_path_that_does_not_exist_is_an_error(api, image, form):
    path = f"View/local/{image}" if form == "view-url" else "raw/2001-01-01/nothing.png"

    answer = api.call("DeleteImage", path=path)

    assert answer == {"error": "That file does not exist, cannot delete."}
    assert (api.outputs / image).is_file()


def test_starring_copies_the_image_to_starred(api, image):
    assert api.call("ToggleImageStarred", path=image) == {"new_state": True}

    starred = api.outputs / "Starred" / image
    assert starred.read_bytes() == (api.outputs / image).read_bytes()
    assert sources(api) == [f"Starred/{image}"]
    assert api.view(f"View/local/Starred/{image}").status_code == 200


@pytest.mark.parametrize("form", ["raw-path", "starred-path"])
def test_starring_again_removes_the_starred_copy_only(api, image, form):
    api.ok("ToggleImageStarred", path=image)

    path = image if form == "raw-path" else f"Starred/{image}"
    assert api.call("ToggleImageStarred", path=path) == {"new_state": False}

    assert not (api.outputs / "Starred" / image).exists()
    assert (api.outputs / image).is_file()
    assert sources(api) == [image]


def test_starring_a_missing_file_is_an_error(api):
    answer = api.call("ToggleImageStarred", path="raw/2001-01-01/nothing.png")

    assert answer == {"error": "That file does not exist, cannot star."}
