"""The Celery app: configured from Django settings (CELERY_*); tasks from each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Model actions keep their tasks apart from the catalogue's own tasks.py.
app.autodiscover_tasks(related_name="action_tasks")
app.autodiscover_tasks(related_name="warm_tasks")  # fleet/warm_tasks.py
app.autodiscover_tasks(related_name="health_tasks")  # fleet/health_tasks.py
