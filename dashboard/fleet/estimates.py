"""The likely cost of a generation, from recent similar jobs on its endpoint: shown under the
generate form, and counted for jobs in flight by the budgets."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dashboard.fleet.models import RunPodEndpoint
from dashboard.generations.models import Generation, Status

SIMILAR_JOBS = 30  # how many recent finished jobs an estimate looks at


@dataclass(frozen=True)
class CostEstimate:
    cost: Decimal | None  # None: nothing to estimate from yet
    execution_seconds: float | None
    based_on: int  # how many finished jobs the estimate comes from
    basis: str  # "similar" (same model and size), "endpoint" (any job, scaled), or "none"


def _param(params: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if params.get(name) not in (None, ""):
            return params[name]
    return default


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def estimate_generation_cost(endpoint: RunPodEndpoint | None, params: dict) -> CostEstimate:
    """What a generation with `params` (model, width, height, steps, images or image_count) will
    likely cost on `endpoint`: the median execution time per step and image of recent finished
    jobs of the same model and size, scaled to the request, times the endpoint's price. Without such
    jobs, any recent job of the endpoint, scaled by pixels too."""
    if endpoint is None:
        return CostEstimate(None, None, 0, "none")
    model = str(_param(params, "model", default="") or endpoint.default_model)
    width = _positive_int(_param(params, "width"), 1024)
    height = _positive_int(_param(params, "height"), 1024)
    steps = _positive_int(_param(params, "steps"), 20)
    images = _positive_int(_param(params, "image_count", "images"), 1)
    finished = Generation.objects.filter(
        endpoint=endpoint, status=Status.SUCCEEDED, execution_ms__isnull=False
    ).order_by("-id")
    columns = ("execution_ms", "steps", "image_count", "width", "height")
    similar = list(
        finished.filter(model=model, width=width, height=height).values_list(*columns)[
            :SIMILAR_JOBS
        ]
    )
    if similar:
        per_unit = [ms / (max(s, 1) * max(n, 1)) for ms, s, n, _, _ in similar]
        execution_ms = statistics.median(per_unit) * steps * images
        basis, rows = "similar", similar
    else:
        rows = list(finished.values_list(*columns)[:SIMILAR_JOBS])
        if not rows:
            return CostEstimate(None, None, 0, "none")
        per_unit = [ms / (max(s, 1) * max(n, 1) * w * h) for ms, s, n, w, h in rows]
        execution_ms = statistics.median(per_unit) * steps * images * width * height
        basis = "endpoint"
    return CostEstimate(
        cost=endpoint.cost_of(round(execution_ms)),
        execution_seconds=round(execution_ms / 1000, 1),
        based_on=len(rows),
        basis=basis,
    )
