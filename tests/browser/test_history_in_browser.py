"""History in Chromium: search and filter, the lightbox and its keys, star and tag, Use seed,
shift-click selection with a zip download, shortcuts and the finished-generation toast.

No GPU stack: generations and their images (real PNGs in storage, through the real ingest) are
made directly in the database.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.generations.models import Generation, Status
from tests.dashboard import factories
from tests.dashboard.factories import make_finished_generation

pytestmark = pytest.mark.slow


def settled(page: Page) -> None:
    """Wait until htmx has wired up what it swapped in (it does so once the swap settles)."""
    page.wait_for_function(
        "() => !document.querySelector("
        "'.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def lightbox_image_id(page: Page) -> str:
    return page.locator("#lightbox").get_attribute("data-image-id")


def test_search_filter_lightbox_keys_star_tag_and_use_seed(
    page: Page, live_server, studio, sign_in, save_screenshot
):
    member, endpoint = studio
    make_finished_generation(
        member, endpoint, prompt="a red fox in the snow", seed=11, model="m/alpha"
    )
    cat = make_finished_generation(
        member, endpoint, prompt="a cat on a sofa", seed=12, model="m/beta"
    )
    lighthouse = make_finished_generation(
        member, endpoint, prompt="a lighthouse at dusk", images=2, seed=-1, model="m/alpha"
    )
    newest_first = [*lighthouse.images.all(), cat.images.get()]
    sign_in(page, member.user)

    page.goto(f"{live_server.url}/history/?view=grid")
    expect(page.locator("#results .tile")).to_have_count(4)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    save_screenshot(page, "history-1-gallery")

    # Search: a word of the prompt; the query stays in the URL.
    page.get_by_label("Search").fill("lighthouse")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=lighthouse"))
    expect(page.locator("#results .tile")).to_have_count(2)

    # Filter: a model, combined with an empty search; the field keeps its value.
    page.get_by_label("Search").fill("")
    page.get_by_label("Model").fill("m/beta")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"model=m%2Fbeta"))
    expect(page.locator("#results .tile")).to_have_count(1)
    expect(page.get_by_label("Model")).to_have_value("m/beta")

    # The lightbox: open the newest image, move with the keys, within the current result set.
    page.goto(f"{live_server.url}/history/?view=grid")
    page.locator("#results .tile-link").first.click()
    lightbox = page.locator("#lightbox")
    expect(lightbox).to_be_visible()
    expect(lightbox.locator("[data-lightbox-counter]")).to_have_text("1 / 4")
    expect(lightbox.locator(".image-panel")).to_contain_text("a lighthouse at dusk")
    page.keyboard.press("ArrowRight")
    expect(lightbox.locator("[data-lightbox-counter]")).to_have_text("2 / 4")
    assert lightbox_image_id(page) == str(newest_first[1].pk)
    expect(lightbox.locator("[data-lightbox-img]")).to_have_attribute(
        "src", f"/images/{newest_first[1].pk}/"
    )
    page.keyboard.press("ArrowRight")
    expect(lightbox.locator(".image-panel")).to_contain_text("a cat on a sofa")
    page.keyboard.press("ArrowLeft")
    expect(lightbox.locator(".image-panel")).to_have_attribute(
        "data-image-id", str(newest_first[1].pk)
    )

    # "s" stars the open image; its tiles in the gallery follow.
    page.keyboard.press("s")
    expect(lightbox.locator(".star-form button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f'.tile[data-generation="{lighthouse.pk}"].starred')).to_have_count(2)
    lighthouse.refresh_from_db()
    assert lighthouse.starred

    # A tag, with the input in the panel; then its cross removes it again.
    panel_tags = lightbox.locator(".image-panel .tags")
    panel_tags.get_by_placeholder("Add a tag").fill("keeper")
    panel_tags.get_by_placeholder("Add a tag").press("Enter")
    expect(panel_tags.locator(".tag")).to_have_text(re.compile(r"keeper"))
    settled(page)
    assert list(lighthouse.tags.values_list("name", flat=True)) == ["keeper"]
    save_screenshot(page, "history-2-lightbox")
    panel_tags.get_by_role("button", name="Remove tag keeper").click()
    expect(panel_tags.locator(".tag")).to_have_count(0)
    assert not lighthouse.tags.exists()

    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()

    # Use seed from the lightbox: the generate form with this image's real seed.
    page.locator("#results .tile-link").nth(1).click()
    expect(lightbox.locator(".image-panel")).to_be_visible()
    lightbox.get_by_role("link", name="Use seed").click()
    expect(page).to_have_url(re.compile(r"mode=seed"))
    expect(page.get_by_label("Seed")).to_have_value(str(newest_first[1].seed))
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("")
    assert newest_first[1].seed not in (None, -1)


def test_shift_click_selects_a_range_and_the_zip_holds_exactly_those_images(
    page: Page, live_server, studio, sign_in, save_screenshot
):
    member, endpoint = studio
    for seed in range(5):
        make_finished_generation(member, endpoint, prompt=f"picture {seed}", seed=100 + seed)
    sign_in(page, member.user)
    page.goto(f"{live_server.url}/history/?view=grid")
    boxes = page.locator("#results input[data-select]")
    expect(boxes).to_have_count(5)
    bar = page.locator("#selection-form")
    expect(bar).to_be_hidden()

    boxes.nth(0).check()
    boxes.nth(3).click(modifiers=["Shift"])

    expect(bar).to_be_visible()
    expect(bar.locator("[data-selection-count]")).to_have_text("4")
    assert [boxes.nth(i).is_checked() for i in range(5)] == [True, True, True, True, False]
    expect(bar.get_by_role("button", name="Compare")).to_be_disabled()
    save_screenshot(page, "history-3-selection")

    with page.expect_download() as download_info:
        bar.get_by_role("button", name="Download zip").click()
    archive = zipfile.ZipFile(io.BytesIO(download_info.value.path().read_bytes()))
    chosen = Generation.objects.order_by("-pk")[:4]
    expected = {f"{g.pk}-0-{g.images.get().seed}.png" for g in chosen}
    assert set(archive.namelist()) == {*expected, "metadata.json"}
    for g in chosen:
        assert (
            archive.read(f"{g.pk}-0-{g.images.get().seed}.png")
            == g.images.get().file.open("rb").read()
        )

    # The density switch (htmx) redraws the gallery and is remembered for next time.
    page.get_by_role("button", name="Small").click()
    expect(page.locator("#results")).to_have_class(re.compile(r"size-small"))
    expect(page.locator("#results .tile")).to_have_count(5)
    page.goto(f"{live_server.url}/history/")
    expect(page.locator("#results")).to_have_class(re.compile(r"size-small"))


def test_shortcuts_title_badge_and_a_toast_when_my_generation_finishes(
    page: Page, live_server, studio, sign_in
):
    member, endpoint = studio
    running = factories.make_generation(
        member, endpoint, status=Status.RUNNING, prompt="a slow owl"
    )
    sign_in(page, member.user)

    page.goto(f"{live_server.url}/history/")
    expect(page).to_have_title("(1) History · SwarmDeck")
    expect(page.locator("#toasts .toast")).to_have_count(0)  # only news gets a toast

    # It finishes while I look at another page: that page shows the toast and drops the badge.
    Generation.objects.filter(pk=running.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now()
    )
    page.goto(f"{live_server.url}/")
    toast = page.locator("#toasts .toast")
    expect(toast).to_contain_text(f"#{running.pk} succeeded")
    expect(toast).to_contain_text("a slow owl")
    expect(page).to_have_title("Generate · SwarmDeck")
    page.reload()
    expect(page).to_have_title("Generate · SwarmDeck")
    page.wait_for_function("() => document.documentElement.dataset.running === '0'")
    expect(page.locator("#toasts .toast")).to_have_count(0)  # shown once, not on every page

    # "?" lists the shortcuts; Esc closes the list.
    page.locator("body").press("?")
    overlay = page.locator("dialog#shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Ctrl + Enter")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # Ctrl+Enter submits the generate form from the prompt box (empty: the form answers why).
    page.get_by_label("Prompt", exact=True).focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#id_prompt-errors")).to_be_visible()
    assert Generation.objects.count() == 1
