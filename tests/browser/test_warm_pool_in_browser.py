"""The warm-pool page of an endpoint in Chromium: an owner adds, corrects, edits and deletes a
warm schedule and keeps the endpoint warm; a member sees the schedules but cannot change them.

Only the keep-warm test presses a button that calls RunPod, and it points the endpoint at the
emulated cloud; the other endpoints point at a closed port and nothing there may call them.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import Page, expect

from dashboard.accounts.models import Role
from dashboard.fleet.models import WarmSchedule
from dashboard.fleet.warm_services import schedule_create
from tests.dashboard import factories
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

# $0.00031 per second: one warm worker costs $1.1160 an hour.
PRICE = Decimal("0.00031")


def fill_schedule(page: Page, *, days: list[str], start: str, end: str, workers: int) -> None:
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        page.get_by_label(day, exact=True).set_checked(day in days)
    page.get_by_label("Start time").fill(start)
    page.get_by_label("End time").fill(end)
    page.get_by_label("Warm workers").fill(str(workers))


def test_owner_adds_corrects_edits_and_deletes_a_warm_schedule(
    page: Page, live_server, transactional_db, media_root, broker_queue, sign_in, save_screenshot
):
    # broker_queue: the wake-ups each schedule change sends land in this test's own queue.
    team = factories.make_team("Warm Team")
    owner = factories.make_member(team, Role.OWNER)
    endpoint = factories.make_endpoint(team, name="main", gpu_price_per_second=PRICE)

    sign_in(page, owner.user)
    page.goto(f"{live_server.url}/endpoints/")
    page.get_by_role("link", name="Warm pool").click()
    expect(page.get_by_role("heading", name="Warm pool of main")).to_be_visible()
    schedules = page.locator("table.warm-schedules tbody tr")
    expect(schedules).to_have_text(
        ["No schedules: the endpoint scales to zero whenever it is idle."]
    )

    page.get_by_role("link", name="Add a schedule").click()
    expect(page.get_by_role("heading", name="New warm schedule for main")).to_be_visible()
    page.get_by_label("Name").fill("Morning")
    fill_schedule(
        page, days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="08:00", end="10:00", workers=1
    )
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("Warm schedule saved")
    # Name, window, warm workers, per hour (1 x $0.00031 x 3600), per week (2 h x 5 days), enabled.
    expect(schedules).to_have_count(1)
    expect(schedules.first.locator("td")).to_have_text(
        ["Morning", "Mon-Fri 08:00-10:00", "1", "$1.1160", "$11.16", "yes", re.compile("Edit")]
    )
    saved = WarmSchedule.objects.get(endpoint=endpoint)
    assert (saved.weekdays, saved.start_time, saved.end_time) == (
        [0, 1, 2, 3, 4],
        time(8),
        time(10),
    )
    save_screenshot(page, "warm-pool-schedule")

    # An end before the start: the form comes back with the reason under End time, nothing saved.
    page.get_by_role("link", name="Add a schedule").click()
    fill_schedule(page, days=["Sat"], start="10:00", end="08:00", workers=1)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_end_time-errors")).to_contain_text(
        "The end time is before the start time"
    )
    expect(page.get_by_label("Start time")).to_have_value("10:00")
    save_screenshot(page, "warm-pool-schedule-error")
    assert list(WarmSchedule.objects.filter(endpoint=endpoint)) == [saved]
    page.get_by_role("link", name="Cancel").click()

    schedules.first.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit warm schedule for main")).to_be_visible()
    expect(page.get_by_label("End time")).to_have_value("10:00")
    page.get_by_label("End time").fill("11:00")
    page.get_by_label("Warm workers").fill("2")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("Warm schedule saved")
    # 2 workers: $2.2320 an hour, 3 h x 5 days a week.
    expect(schedules.first.locator("td")).to_have_text(
        ["Morning", "Mon-Fri 08:00-11:00", "2", "$2.2320", "$33.48", "yes", re.compile("Edit")]
    )
    saved.refresh_from_db()
    assert (saved.end_time, saved.warm_workers) == (time(11), 2)

    # Deleting asks first: dismissed, nothing happens; accepted, the schedule goes.
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    schedules.first.get_by_role("button", name="Delete").click()
    expect(schedules.first).to_contain_text("Morning")
    assert WarmSchedule.objects.filter(endpoint=endpoint).exists()
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    schedules.first.get_by_role("button", name="Delete").click()
    expect(page.locator(".messages")).to_contain_text("Warm schedule deleted.")
    assert (
        questions
        == ["Delete the schedule “Morning”? Workers it keeps warm are let go at the next tick."] * 2
    )
    expect(schedules).to_have_text(
        ["No schedules: the endpoint scales to zero whenever it is idle."]
    )
    assert not WarmSchedule.objects.filter(endpoint=endpoint).exists()


def test_a_member_sees_the_schedules_but_no_controls(
    page: Page, live_server, studio, sign_in, save_screenshot
):
    member, endpoint = studio
    owner = factories.make_member(member.team, Role.OWNER)
    schedule_create(
        endpoint=endpoint,
        by=owner,
        name="Office",
        weekdays=[0, 1, 2, 3, 4],
        start_time="09:00",
        end_time="18:00",
        warm_workers=1,
        enabled=True,
    )

    sign_in(page, member.user)
    page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/warm/")
    row = page.locator("table.warm-schedules tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Mon-Fri 09:00-18:00")
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)
    expect(row.get_by_role("button", name="Delete")).to_have_count(0)
    expect(page.get_by_role("link", name="Add a schedule")).to_have_count(0)
    for button in ("Keep warm", "Cool down now", "Warm up now"):
        expect(page.get_by_role("button", name=button)).to_have_count(0)

    # Typing the address of the form does not help either.
    response = page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/warm/schedules/new/")
    assert response.status == 403


def test_keep_warm_raises_workers_min_on_the_emulated_endpoint(
    page: Page, live_server, transactional_db, media_root, broker_queue, cloud, sign_in
):
    # The cloud starts with workers.min = 1 (tests/e2e/conftest.py), so keeping 2 warm must PATCH.
    cloud.reset()
    team = factories.make_team("Warm Cloud Team")
    owner = factories.make_member(team, Role.OWNER)
    endpoint = factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)
    settings_url = f"{cloud.api_base}/serverless/{endpoint.endpoint_id}"
    headers = {"Authorization": "Bearer local-dev-key"}
    assert requests.get(settings_url, headers=headers, timeout=5).json()["workers"]["min"] == 1

    sign_in(page, owner.user)
    page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/warm/")
    page.locator("input[name=workers]").fill("2")
    page.locator("input[name=minutes]").fill("30")
    page.get_by_role("button", name="Keep warm").click()

    expect(page.locator(".messages")).to_contain_text("Keeping emulated warm for 30 minutes.")
    expect(page.locator("#warm-state")).to_contain_text("Kept warm until")
    wait_until(
        lambda: re.search(r'"PATCH /v2/serverless/local HTTP/1.1" 200', cloud.runpod.log()),
        timeout=10,
        what="the emulator to log the PATCH",
    )
    assert requests.get(settings_url, headers=headers, timeout=5).json()["workers"]["min"] == 2
