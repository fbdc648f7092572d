"""The history lightbox pages on: → at the last loaded image loads the next page (the request
"Older →" makes, one at a time) and shows its first image, passing pages without images; at the
very end it says so and stays.

No GPU stack: the generations (one real PNG each, through the real ingest) are made directly in
the database, a few more than the history's pages hold.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, Route, expect

from dashboard.generations.models import GeneratedImage, Status
from dashboard.generations.views.history import HISTORY_PAGE_SIZE
from tests.dashboard import factories
from tests.dashboard.factories import make_finished_generation
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

MORE_URL = "**/history/more/?*"


@pytest.fixture
def more_requests(page: Page) -> list[Request]:
    """Every request the page makes for the next page of history ("Older →" and the lightbox)."""
    seen: list[Request] = []
    page.on("request", lambda request: "/history/more/" in request.url and seen.append(request))
    return seen


def next_held(page: Page, held: list[Route]) -> Route:
    """The "more" request the route is holding; each poll is a round trip to the browser, which is
    what delivers Playwright's route events to this thread."""
    return wait_until(
        lambda: page.evaluate("true") and held and held.pop(),
        timeout=5,
        what="the held 'more' request",
    )


def press_right(page: Page, times: int) -> None:
    for _ in range(times):
        page.keyboard.press("ArrowRight")


def test_arrow_at_the_last_loaded_image_loads_the_next_page_once_and_stops_at_the_end(
    page: Page, live_server, studio, more_requests, sign_in, save_screenshot
):
    member, endpoint = studio
    total = 2 * HISTORY_PAGE_SIZE + 3
    for seed in range(total):
        make_finished_generation(member, endpoint, prompt=f"picture {seed}", seed=seed)
    newest_first = list(
        GeneratedImage.objects.order_by("-generation_id").values_list("pk", flat=True)
    )
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(error))
    held: list[Route] = []  # "more" responses wait here until the test lets them through
    page.route(MORE_URL, lambda route: held.append(route))
    sign_in(page, member.user)

    page.goto(f"{live_server.url}/history/?view=grid")
    tiles = page.locator("#results .tile")
    expect(tiles).to_have_count(HISTORY_PAGE_SIZE)
    lightbox = page.locator("#lightbox")
    counter = lightbox.locator("[data-lightbox-counter]")
    note = lightbox.locator("[data-lightbox-note]")

    # Open the newest image and walk to the last loaded one: the grid has not loaded more yet.
    tiles.first.locator(".tile-link").click()
    press_right(page, HISTORY_PAGE_SIZE - 1)
    expect(counter).to_have_text(f"{HISTORY_PAGE_SIZE} / {HISTORY_PAGE_SIZE}")
    assert more_requests == []

    # → past it asks for the next page and says it is loading; more presses ask for nothing more.
    with page.expect_request(MORE_URL):
        page.keyboard.press("ArrowRight")
    expect(note).to_have_text(" · loading older images…")
    expect(lightbox).to_have_attribute("aria-busy", "true")
    save_screenshot(page, "history-lightbox-paging-1-loading")
    press_right(page, 3)
    expect(counter).to_have_text(f"{HISTORY_PAGE_SIZE} / {HISTORY_PAGE_SIZE}")
    first_page_more = next_held(page, held)
    assert len(more_requests) == 1
    assert held == []

    first_page_more.continue_()
    expect(counter).to_have_text(f"{HISTORY_PAGE_SIZE + 1} / {2 * HISTORY_PAGE_SIZE}")
    expect(lightbox).to_have_attribute("data-image-id", str(newest_first[HISTORY_PAGE_SIZE]))
    expect(lightbox.locator(".image-panel")).to_have_attribute(
        "data-image-id", str(newest_first[HISTORY_PAGE_SIZE])
    )
    expect(note).to_have_text("")
    expect(lightbox).not_to_have_attribute("aria-busy", "true")
    expect(tiles).to_have_count(2 * HISTORY_PAGE_SIZE)
    assert len(more_requests) == 1

    # The third page: a failed load says so and changes nothing; → tries again.
    press_right(page, HISTORY_PAGE_SIZE - 1)
    expect(counter).to_have_text(f"{2 * HISTORY_PAGE_SIZE} / {2 * HISTORY_PAGE_SIZE}")
    with page.expect_request(MORE_URL):
        page.keyboard.press("ArrowRight")
    expect(note).to_have_text(" · loading older images…")
    next_held(page, held).abort()
    expect(note).to_have_text(" · could not load older images; press → to try again")
    expect(tiles).to_have_count(2 * HISTORY_PAGE_SIZE)
    with page.expect_request(MORE_URL):
        page.keyboard.press("ArrowRight")
    next_held(page, held).continue_()
    expect(counter).to_have_text(f"{2 * HISTORY_PAGE_SIZE + 1} / {total}")
    expect(tiles).to_have_count(total)
    expect(page.locator("#results .load-more")).to_have_count(0)

    # The end: → stays on the oldest image and says there are no older ones; no request.
    press_right(page, 2)
    expect(counter).to_have_text(f"{total} / {total}")
    press_right(page, 3)
    expect(note).to_have_text(" · no older images")
    expect(counter).to_have_text(f"{total} / {total}")
    expect(lightbox).to_have_attribute("data-image-id", str(newest_first[-1]))
    assert len(more_requests) == 3  # page 2, then page 3 twice (the first attempt failed)
    save_screenshot(page, "history-lightbox-paging-2-no-older-images")

    # ← leaves the end (and its note) behind.
    page.keyboard.press("ArrowLeft")
    expect(counter).to_have_text(f"{total - 1} / {total}")
    expect(note).to_have_text("")
    assert page_errors == []


def test_in_the_list_view_arrow_passes_a_page_without_images_to_the_next_image(
    page: Page, live_server, studio, more_requests, sign_in
):
    # Oldest first: 3 with an image, a page of failed ones (no image), a page with images.
    member, endpoint = studio
    oldest = [make_finished_generation(member, endpoint, seed=seed) for seed in range(3)]
    for _ in range(HISTORY_PAGE_SIZE):
        factories.make_generation(member, endpoint, status=Status.FAILED)
    for seed in range(3, 3 + HISTORY_PAGE_SIZE):
        make_finished_generation(member, endpoint, seed=seed)
    sign_in(page, member.user)

    page.goto(f"{live_server.url}/history/?view=list")
    rows = page.locator("#results tr[data-generation]")
    expect(rows).to_have_count(HISTORY_PAGE_SIZE)
    lightbox = page.locator("#lightbox")
    rows.first.locator("[data-lightbox-image]").click()
    # Rows touch the "Older →" row, so scrolling to the last one may start that load itself:
    # either way each page is asked for once, and → lands on the next image there is.
    press_right(page, HISTORY_PAGE_SIZE)
    expect(lightbox.locator("[data-lightbox-counter]")).to_have_text(
        f"{HISTORY_PAGE_SIZE + 1} / {HISTORY_PAGE_SIZE + 3}"
    )
    expect(lightbox).to_have_attribute("data-image-id", str(oldest[-1].images.get().pk))
    expect(rows).to_have_count(2 * HISTORY_PAGE_SIZE + 3)
    assert len(more_requests) == 2
