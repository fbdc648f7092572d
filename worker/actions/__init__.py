"""One function per job action: `(JobContext, validated input) -> output model`.

Actions are plain blocking functions; the handler runs them in a thread so the event loop stays
free for the runpod SDK and for cancellation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.actions import download, generate, health, keep_alive, models, warmup

ActionRunner = Callable[[Any, Any], Any]

RUNNERS: dict[str, ActionRunner] = {
    "generate": generate.run,
    "list_models": models.list_models,
    "describe_model": models.describe_model,
    "download_model": download.run,
    "edit_model_metadata": models.edit_model_metadata,
    "delete_model": models.delete_model,
    "rename_model": models.rename_model,
    "keep_alive": keep_alive.run,
    "warmup": warmup.run,
    "health": health.run,
}
