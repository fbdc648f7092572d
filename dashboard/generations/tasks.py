"""Celery tasks: thin wake-ups that take ids and call a service. Each is safe to run twice."""

from celery import shared_task

from dashboard.generations import services


@shared_task(name=services.SUBMIT_TASK, acks_late=True, ignore_result=True)
def submit_generation(generation_id: int) -> str:
    return services.submit_generation(generation_id=generation_id)


@shared_task(name=services.POLL_TASK, acks_late=True, ignore_result=True)
def poll_generation(generation_id: int, attempt: int = 0) -> str | None:
    generation = services.poll_generation(generation_id=generation_id, attempt=attempt)
    return generation.status if generation else None


@shared_task(name="generations.reconcile", acks_late=True, ignore_result=True)
def reconcile_generations() -> dict[str, int]:
    return services.reconcile_generations()
