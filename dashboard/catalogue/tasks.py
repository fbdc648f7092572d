"""Celery tasks: thin wake-ups that take ids and call a service. Each is safe to run twice."""

from celery import shared_task

from dashboard.catalogue import services


@shared_task(name=services.SYNC_TASK, acks_late=True, ignore_result=True)
def sync_catalogue(sync_run_id: int) -> str | None:
    run = services.run_sync(sync_run_id=sync_run_id)
    return run.status if run else None


@shared_task(name=services.SCHEDULE_TASK, acks_late=True, ignore_result=True)
def schedule_catalogue_syncs() -> int:
    return services.schedule_syncs()
