"""An owner invites someone on the members page, they accept in their own browser, and the owner
changes their role (htmx) in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.accounts.models import Membership, Role
from tests.dashboard import factories

pytestmark = pytest.mark.slow


def test_owner_invites_the_invitee_accepts_then_the_owner_changes_their_role(
    page: Page,
    browser: Browser,
    live_server,
    transactional_db,
    media_root,
    sign_in,
    save_screenshot,
):
    # media_root also serves static files from the finders (no collectstatic manifest in tests).
    team = factories.make_team("Browser Team")
    owner = factories.make_member(team, Role.OWNER)
    newcomer = factories.make_user("robin")

    sign_in(page, owner.user)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Browser Team")).to_be_visible()
    page.get_by_label("Email").fill(newcomer.email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text(f"Invited {newcomer.email} as viewer")
    expect(page.locator("#open-invitations")).to_contain_text(newcomer.email)
    assert not Membership.objects.filter(team=team, user=newcomer).exists()

    # Robin, in a browser of their own and in no team yet, finds the invitation and accepts it.
    robin = browser.new_context().new_page()
    robin.goto(f"{live_server.url}/accounts/sign-in/")
    robin.get_by_label("Username").fill(newcomer.username)
    robin.get_by_label("Password").fill(factories.PASSWORD)
    robin.get_by_role("button", name="Sign in").click()
    robin.get_by_role("link", name="Invitations").click()
    robin.locator("#invitations tbody tr", has_text="Browser Team").get_by_role(
        "button", name="Accept"
    ).click()
    expect(robin.locator(".messages")).to_contain_text("Welcome to Browser Team")
    save_screenshot(robin, "invitation-accepted")
    robin.context.close()

    page.reload()
    expect(page.locator("#open-invitations")).to_have_count(0)
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
