"""Generate, history and detail pages, and image files behind team membership."""

import re

import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.generations.models import Generation, Status
from dashboard.generations.services import apply_job_status
from tests.dashboard.factories import (
    PASSWORD,
    inline_output,
    make_generation,
    make_member,
    make_team,
    png_bytes,
)

FORM = {
    "prompt": "a fox",
    "width": 512,
    "height": 512,
    "steps": 4,
    "cfg_scale": 7,
    "seed": -1,
    "images": 1,
}


def signed_in(membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.username, password=PASSWORD)
    return client


def _succeeded(membership, endpoint):
    generation = make_generation(membership, endpoint, status=Status.SUBMITTED, runpod_job_id="j")
    return apply_job_status(
        generation_id=generation.pk,
        job={"id": "j", "status": "COMPLETED", "output": inline_output(png_bytes())},
    )


def test_pages_need_sign_in(db):
    for url in ("/", "/history/", "/endpoints/", "/accounts/tokens/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/sign-in/")


def test_generate_page_shows_the_form_with_the_teams_endpoints(member, endpoint):
    page = signed_in(member).get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="prompt"' in html
    assert f'<option value="{endpoint.pk}"' in html
    assert "htmx-2.0.11.min.js" in html


def test_posting_the_form_queues_a_generation_and_shows_its_progress(member, endpoint):
    response = signed_in(member).post("/", FORM, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    generation = Generation.objects.get()
    html = response.content.decode()
    assert f'id="generation-{generation.pk}"' in html
    assert 'hx-trigger="every 1s"' in html
    assert "Queued" in html


def test_form_errors_appear_next_to_their_fields_and_nothing_is_saved(member, endpoint):
    response = signed_in(member).post(
        "/", {**FORM, "width": 500, "steps": 999, "prompt": ""}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert 'id="id_width-errors"' in html
    assert "Must be a multiple of 8 (500 is not)." in html
    assert 'id="id_steps-errors"' in html
    assert 'id="id_prompt-errors"' in html
    assert not Generation.objects.exists()


def test_form_rejects_a_non_number_without_calling_the_service(member, endpoint):
    response = signed_in(member).post("/", {**FORM, "height": "tall"})
    assert 'id="id_height-errors"' in response.content.decode()
    assert not Generation.objects.exists()


def test_viewer_sees_the_form_disabled_and_cannot_post(viewer, endpoint):
    client = signed_in(viewer)
    assert "Viewers cannot generate" in client.get("/").content.decode()
    response = client.post("/", FORM)
    assert response.status_code == 403
    assert "Viewers cannot generate images" in response.content.decode()
    assert not Generation.objects.exists()


def test_progress_partial_stops_polling_when_final(member, endpoint):
    generation = _succeeded(member, endpoint)
    html = signed_in(member).get(f"/generations/{generation.pk}/progress/").content.decode()
    assert "hx-trigger" not in html
    assert "Succeeded" in html
    assert f"/images/{generation.images.get().pk}/thumbnail/" in html


def test_history_lists_the_teams_generations_newest_first_with_paging(member, endpoint):
    for i in range(30):
        make_generation(member, endpoint, prompt=f"prompt number {i}")
    client = signed_in(member)
    page = client.get("/history/?view=list").content.decode()
    assert page.index("prompt number 29") < page.index("prompt number 28")
    assert "prompt number 5" not in page
    older_link = re.search(r'href="(/history/\?[^"]*cursor=[^"]+)"', page).group(1)
    older = client.get(older_link.replace("&amp;", "&")).content.decode()
    assert "prompt number 5" in older


def test_history_does_not_show_other_teams(member, endpoint):
    rival = make_member(make_team("Rivals"), Role.OWNER)
    from tests.dashboard.factories import make_endpoint

    make_generation(rival, make_endpoint(rival.team), prompt="their secret prompt")
    assert "their secret prompt" not in signed_in(member).get("/history/").content.decode()


def test_detail_shows_images_and_every_parameter(member, endpoint):
    generation = _succeeded(member, endpoint)
    html = signed_in(member).get(f"/generations/{generation.pk}/").content.decode()
    image = generation.images.get()
    assert f"/images/{image.pk}/" in html
    for value in (generation.prompt, generation.model, "Steps", str(generation.seed)):
        assert value in html


def test_markup_in_prompts_is_escaped(member, endpoint):
    generation = make_generation(member, endpoint, prompt="<script>alert(1)</script>")
    html = signed_in(member).get(f"/generations/{generation.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("suffix", ["", "thumbnail/"])
def test_image_files_only_for_team_members(member, endpoint, suffix):
    image = _succeeded(member, endpoint).images.get()
    assert signed_in(member).get(f"/images/{image.pk}/{suffix}").status_code == 200
    rival = make_member(make_team("Rivals"), Role.OWNER)
    assert signed_in(rival).get(f"/images/{image.pk}/{suffix}").status_code == 404


def test_cancel_button_cancels_a_queued_generation(member, endpoint):
    generation = make_generation(member, endpoint)
    response = signed_in(member).post(
        f"/generations/{generation.pk}/cancel/", HTTP_HX_REQUEST="true"
    )
    assert "Cancelled" in response.content.decode()
    generation.refresh_from_db()
    assert generation.status == Status.CANCELLED


def test_run_again_makes_a_new_generation(member, endpoint):
    generation = _succeeded(member, endpoint)
    response = signed_in(member).post(f"/generations/{generation.pk}/retry/")
    again = Generation.objects.exclude(pk=generation.pk).get()
    assert response["Location"] == f"/generations/{again.pk}/"
    assert again.retry_of == generation
