"""Point our Celery app at a broker URL for a test, and read back what services sent to it."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from django.conf import settings

from dashboard.celery import app as celery_app


def use_broker(url: str, queue: str | None = None) -> None:
    """Make the next send_task publish to `url` and `queue` (Celery caches its connection pools)."""
    celery_app.conf.broker_url = url
    celery_app.conf.task_default_queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@dataclass(frozen=True)
class SentTask:
    name: str
    args: tuple
    eta: str | None


class SentTasks:
    """The task messages published on the app's default queue, oldest first."""

    def drain(self) -> list[SentTask]:
        found = []
        with celery_app.connection_for_read() as connection:
            queue = connection.SimpleQueue(celery_app.conf.task_default_queue)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                headers = message.headers
                args = ast.literal_eval(headers["argsrepr"])
                found.append(SentTask(headers["task"], tuple(args), headers.get("eta")))
                message.ack()
            queue.close()
        return found

    def names(self) -> list[str]:
        return [task.name for task in self.drain()]
