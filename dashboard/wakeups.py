"""Wake-ups for Celery workers. Redis carries only these; the database holds the work, and a
reconciler or the beat re-drives anything whose wake-up was lost, so a broker that is down is
logged and never fails the request that sent it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from dashboard.celery import app as celery_app

logger = logging.getLogger(__name__)


def send_wake_up(task: str, *args: Any, countdown: float | None = None) -> None:
    try:
        celery_app.send_task(task, args=list(args), countdown=countdown)
    except BrokerError:
        logger.warning(
            "broker unreachable: %s%r not sent; the reconciler will re-drive it", task, args
        )


def send_wake_up_on_commit(task: str, *args: Any, countdown: float | None = None) -> None:
    """Send once the current transaction commits, so the worker finds the rows it is woken for."""
    transaction.on_commit(lambda: send_wake_up(task, *args, countdown=countdown))
