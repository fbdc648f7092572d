"""Browser tests: Playwright drives Debian's Chromium (Playwright's own download is unavailable)
against the live server and the whole emulated stack."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with the end-to-end tests
    broker_queue,
    cloud,
    media_root,
    redis_url,
    start_celery,
    team_on_cloud,
)

# Playwright's sync API runs an event loop in this thread; Django's live server checks for one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
