"""Celery tasks for endpoint health: thin wake-ups, each safe to run twice.

Beat runs `fleet.record_health_all` every HEALTH_INTERVAL_SECONDS; it fans out one task per
endpoint so that one slow or unreachable endpoint does not hold up the others' readings.
"""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError as BrokerError

from dashboard.fleet import health
from dashboard.fleet.models import RunPodEndpoint

logger = logging.getLogger(__name__)


@shared_task(name="fleet.record_health_all", ignore_result=True)
def record_health_all() -> int:
    endpoint_ids = list(RunPodEndpoint.objects.values_list("pk", flat=True))
    for endpoint_id in endpoint_ids:
        try:
            record_health.delay(endpoint_id)
        except BrokerError:
            logger.warning("broker unreachable: health of endpoint %s not read", endpoint_id)
    return len(endpoint_ids)


@shared_task(name="fleet.record_health", acks_late=True, ignore_result=True)
def record_health(endpoint_id: int) -> bool:
    return health.record_health_by_id(endpoint_id=endpoint_id) is not None


@shared_task(name="fleet.prune_health", ignore_result=True)
def prune_health() -> int:
    return health.prune_health()
