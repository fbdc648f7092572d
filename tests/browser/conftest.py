"""Browser tests: Playwright drives Debian's Chromium (Playwright's own download is unavailable)
against the live server and the whole emulated stack."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from dashboard.accounts.models import Role
from tests.dashboard import factories
from tests.dashboard.factories import PASSWORD
from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with the end-to-end tests
    broker_queue,
    cloud,
    media_root,
    redis_url,
    start_celery,
    team_on_cloud,
)
from tests.support.processes import REPO_ROOT

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


SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
_SCREENSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], Path]:
    """`save_screenshot(page, "generate-form")` → test-artifacts/screenshots/generate-form.png.

    CI keeps that folder, so a person can see what each browser test saw at its key moments.
    """

    def save(page: Page, name: str) -> Path:
        if not _SCREENSHOT_NAME.fullmatch(name):
            raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '_' or '-'")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def sign_in(live_server) -> Callable[[Page, AbstractBaseUser], None]:
    """`sign_in(page, user)`: through the real sign-in form (the factories' password)."""

    def submit(page: Page, user: AbstractBaseUser) -> None:
        page.goto(f"{live_server.url}/accounts/sign-in/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Generate")).to_be_visible()

    return submit


@pytest.fixture
def studio(transactional_db, media_root):  # noqa: F811 - the fixture imported above
    """(member, endpoint): a team with one member and an endpoint; media in a temporary folder."""
    team = factories.make_team("Gallery Team")
    member = factories.make_member(team, Role.MEMBER)
    return member, factories.make_endpoint(team, name="main")
