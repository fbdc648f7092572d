"""Celery tasks for warm pools: thin wake-ups over warm_services; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from dashboard.fleet import warm_services
from dashboard.fleet.models import RunPodEndpoint


@shared_task(name="fleet.apply_warm_pools", acks_late=True, ignore_result=True)
def apply_warm_pools() -> int:
    """The beat's tick (WARM_POOL_INTERVAL_SECONDS): every endpoint with warm schedules."""
    return len(warm_services.warm_pools_apply_all())


@shared_task(name=warm_services.APPLY_ONE_TASK, acks_late=True, ignore_result=True)
def apply_warm_pool(endpoint_id: int) -> str | None:
    """One endpoint, right after its schedules changed (rather than at the next tick)."""
    endpoint = RunPodEndpoint.objects.select_related("team").filter(pk=endpoint_id).first()
    if endpoint is None:
        return None
    return warm_services.warm_pool_apply(endpoint=endpoint).error or "ok"


@shared_task(name=warm_services.FOLLOW_WARMUP_TASK, acks_late=True, ignore_result=True)
def follow_warmup(run_id: int, attempt: int = 0) -> str:
    return warm_services.warmup_follow(run_id=run_id, attempt=attempt).status
