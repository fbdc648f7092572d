"""A person signs in, generates, watches the progress and sees the image in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def test_sign_in_generate_watch_progress_and_see_the_image(
    page: Page, live_server, team_on_cloud, start_celery, sign_in, save_screenshot
):
    start_celery(PUBLIC_BASE_URL=live_server.url)
    user = team_on_cloud["member"].user

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/"))
    sign_in(page, user)

    page.get_by_label("Prompt", exact=True).fill("a red fox in the snow, watercolor")
    page.get_by_label("Width").fill("512")
    page.get_by_label("Height").fill("512")
    page.get_by_label("Steps").fill("12")
    save_screenshot(page, "generate-1-form")
    page.get_by_role("button", name="Generate").click()

    card = page.locator(".progress-card")
    expect(card).to_be_visible()
    # The card appears at once, in a running phase, with the elapsed time; htmx refreshes it.
    expect(card.locator(".phase")).to_have_text(
        re.compile(r"Queued|Waiting for a worker|Starting worker|Sampling \d+%|Saving")
    )
    expect(card.locator(".elapsed")).to_have_text(re.compile(r"\d+\.\d s"))
    save_screenshot(page, "generate-2-progress")
    expect(card).to_have_attribute("data-status", "succeeded", timeout=60_000)
    thumbnail = card.locator(".thumbs img")
    expect(thumbnail).to_have_count(1)

    thumbnail.click()
    expect(page).to_have_url(re.compile(r"/generations/\d+/$"))
    image = page.locator(".images img").first
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512", arg=image.element_handle()
    )
    # The detail page may show several parameter lists (prompt, job); one holds the prompt.
    prompt_params = page.locator("dl.params").filter(has_text="a red fox in the snow, watercolor")
    expect(prompt_params).to_have_count(1)
    save_screenshot(page, "generate-3-detail")
