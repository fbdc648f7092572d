"""A member applies the team's preset on the generate page (htmx), saves the changed form as a new
preset with Enter in its name field, and deletes that preset on the presets page, in Chromium.

No GPU stack: nothing here generates (the test checks that nothing did).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.generations.models import Generation, Preset
from dashboard.generations.presets import preset_create

pytestmark = pytest.mark.slow


def test_apply_a_preset_save_the_form_as_another_and_delete_it(
    page: Page, live_server, studio, sign_in, save_screenshot
):
    member, endpoint = studio
    preset_create(
        team=member.team,
        user=member.user,
        name="Ink",
        prompt="{prompt}, ink drawing",
        width=768,
        extra_params={"sampler": "euler"},
    )
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(error))
    sign_in(page, member.user)
    generate_url = page.url

    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("a fox")
    page.get_by_label("Preset", exact=True).select_option(label="Ink")
    page.get_by_role("button", name="Apply").click()
    # htmx swaps the form in place (no navigation): the template took the prompt typed.
    expect(page.locator(".reuse-note")).to_have_text("Preset “Ink” applied.")
    expect(page).to_have_url(generate_url)
    expect(prompt).to_have_value("a fox, ink drawing")
    expect(page.get_by_label("Width")).to_have_value("768")
    expect(page.locator("details.advanced-params")).to_have_attribute("open", "")
    expect(page.get_by_label("Extra parameters")).to_have_value(
        re.compile(r'^\{\s*"sampler": "euler"\s*\}$')
    )
    save_screenshot(page, "presets-1-applied")

    page.get_by_label("Steps").fill("8")
    page.get_by_role("button", name="Save as preset…").click()
    name = page.get_by_label("Preset name")
    name.fill("Ink fast")
    name.press("Enter")  # submits the small preset form, not the generate form
    expect(page.locator(".preset-saved")).to_contain_text("Saved preset “Ink fast”")
    expect(page).to_have_url(generate_url)
    expect(page.locator("#preset-choice option")).to_have_text(
        ["Choose a preset…", "Ink", "Ink fast"]
    )
    assert not Generation.objects.exists()
    saved = Preset.objects.get(team=member.team, name="Ink fast")
    assert saved.settings() == {
        "prompt": "a fox, ink drawing",
        "width": 768,
        "height": 1024,
        "steps": 8,
        "cfg_scale": 7.0,
        "seed": -1,
        "images": 1,
        "endpoint": endpoint.pk,
        "extra_params": {"sampler": "euler"},
    }

    page.get_by_role("link", name="Manage presets").click()
    expect(page.get_by_role("heading", name="Presets")).to_be_visible()
    rows = page.locator("table.presets tbody tr")
    expect(rows.locator("td:first-child")).to_have_text(["Ink", "Ink fast"])
    save_screenshot(page, "presets-2-list")

    rows.filter(has_text="Ink fast").get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete preset “Ink fast”")).to_be_visible()
    page.get_by_role("button", name="Delete preset").click()
    expect(page.locator(".messages")).to_contain_text("Deleted preset “Ink fast”.")
    expect(rows.locator("td:first-child")).to_have_text(["Ink"])
    assert list(Preset.objects.values_list("name", flat=True)) == ["Ink"]
    assert page_errors == []
