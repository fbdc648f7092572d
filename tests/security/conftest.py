"""Fixtures for security tests: media in a temporary directory, Celery on an in-memory broker,
RunPod calls that fail at once, and the two-team world of `world.py`."""

from __future__ import annotations

import pytest

from tests.dashboard.broker import use_broker
from tests.security.world import World, build_world


@pytest.fixture(autouse=True)
def _isolated_side_effects(settings, tmp_path):
    """Media under tmp_path, static files without collectstatic, no retries against RunPod, and
    Celery messages kept in memory (nothing here needs a worker to run them)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.RUNPOD_RETRIES = 0
    settings.RUNPOD_TIMEOUT_SECONDS = 2
    settings.VOLUME_S3_MAX_ATTEMPTS = 1
    use_broker("memory://")


@pytest.fixture
def world(db) -> World:
    return build_world()
