"""Image history routes (`T2IAPI`; §5). Paths are relative to `Output/<user>/`."""

from __future__ import annotations

from emulators.swarmui import history
from emulators.swarmui.framework import Call, Param, Route


def _root(call: Call):
    return call.state.outputs.user_root(call.session.user_id)


async def list_images(call: Call, path: str, depth: int, sortBy: str, sortReverse: bool) -> dict:
    if sortBy.lower() not in history.SORT_MODES:
        return {"error": f"Invalid sort mode '{sortBy}'."}
    return history.list_images(_root(call), path, depth, sortBy, sortReverse)


async def delete_image(call: Call, path: str) -> dict:
    return history.delete_image(_root(call), path)


async def toggle_image_starred(call: Call, path: str) -> dict:
    return history.toggle_starred(_root(call), path)


ROUTES = [
    Route(
        "ListImages",
        list_images,
        (
            Param("path"),
            Param("depth", "Int32"),
            Param("sortBy", "String", "Name"),
            Param("sortReverse", "Boolean", False),
        ),
    ),
    Route("DeleteImage", delete_image, (Param("path"),)),
    Route("ToggleImageStarred", toggle_image_starred, (Param("path"),)),
]
