"""The SwarmDeck dashboard: a Django project with one app per domain."""

from dashboard.celery import app as celery_app

__all__ = ["celery_app"]
