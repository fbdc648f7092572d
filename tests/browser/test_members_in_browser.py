"""An owner adds a member on the members page and changes their role (htmx) in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.accounts.models import Membership, Role
from tests.dashboard import factories

pytestmark = pytest.mark.slow


def test_owner_adds_a_member_then_changes_their_role(
    page: Page, live_server, transactional_db, media_root, sign_in, save_screenshot
):
    # media_root also serves static files from the finders (no collectstatic manifest in tests).
    team = factories.make_team("Browser Team")
    owner = factories.make_member(team, Role.OWNER)
    newcomer = factories.make_user("robin")

    sign_in(page, owner.user)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Browser Team")).to_be_visible()

    page.get_by_label("Username or email").fill(newcomer.email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".messages")).to_contain_text("robin joined Browser Team as viewer.")
    row = page.locator("#members tbody tr", has_text="robin")
    expect(row).to_have_attribute("data-role", "viewer")
    expect(row).to_contain_text(newcomer.email)

    row.get_by_label("Role of robin").select_option("admin")
    row.get_by_role("button", name="Save").click()
    # htmx swaps the row in place: no navigation, the new role and a "Saved" note.
    expect(row).to_have_attribute("data-role", "admin")
    expect(row.locator(".saved")).to_have_text("Saved")
    expect(page).to_have_url(re.compile(r"/accounts/members/$"))
    assert Membership.objects.get(team=team, user=newcomer).role == Role.ADMIN
    save_screenshot(page, "members")
