"""Celery tasks for model actions: thin wake-ups that take ids and call a service; each is safe
to run twice."""

from celery import shared_task

from dashboard.catalogue import actions


@shared_task(name=actions.POLL_TASK, acks_late=True, ignore_result=True)
def poll_model_action(action_id: int, attempt: int = 0) -> str | None:
    action = actions.poll_model_action(action_id=action_id, attempt=attempt)
    return action.status if action else None


@shared_task(name=actions.REFRESH_TASK, acks_late=True, ignore_result=True)
def refresh_model_action(action_id: int) -> str | None:
    action = actions.refresh_model_action(action_id=action_id)
    return action.status if action else None


@shared_task(name=actions.SYNC_AFTER_TASK, acks_late=True, ignore_result=True)
def sync_catalogue_after_model_action(action_id: int) -> int | None:
    run = actions.sync_catalogue_after(action_id=action_id)
    return run.pk if run else None


@shared_task(name="catalogue.reconcile_model_actions", acks_late=True, ignore_result=True)
def reconcile_model_actions() -> dict[str, int]:
    return actions.reconcile_model_actions()
