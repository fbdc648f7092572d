"""The generate form's "Advanced: more SwarmUI parameters" textarea, and re-use that fills it."""

import html
import json
import re

import pytest

from dashboard.generations.jobs import job_input
from dashboard.generations.models import Generation, Status
from dashboard.generations.services import refresh_generation, submit_generation
from tests.dashboard.factories import make_generation
from tests.dashboard.generations.test_pages import FORM as PAGE_FORM
from tests.dashboard.generations.test_pages import signed_in
from tests.support.processes import wait_until

FORM = {**PAGE_FORM, "prompt": "a fox in ink"}
EXTRA = {"sampler": "dpmpp_2m", "scheduler": "karras", "loras": "style/ink.safetensors"}


def _textarea(page: str) -> str:
    """The extra-parameters textarea's text, as the browser shows it."""
    match = re.search(r'<textarea[^>]*name="extra_params"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no extra_params textarea on the page"
    return html.unescape(match.group(1)).strip()


def _advanced_block(page: str) -> str:
    match = re.search(r'<details class="advanced-params"[^>]*>', page)
    assert match, "no advanced block on the page"
    return match.group(0)


def _field_errors(page: str) -> str:
    match = re.search(r'<ul class="errors" id="id_extra_params-errors">(.*?)</ul>', page, re.S)
    assert match, "no error next to the extra parameters field"
    return html.unescape(match.group(1))


def test_the_advanced_block_starts_closed_and_empty_with_help(member, endpoint):
    page = signed_in(member).get("/").content.decode()

    assert _advanced_block(page) == '<details class="advanced-params">'
    assert "Advanced: more SwarmUI parameters" in page
    assert _textarea(page) == ""
    assert "ListT2IParams" in page


def test_form_sends_extra_params_to_the_generation_and_its_job(
    member, endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(member).post(
            "/", {**FORM, "extra_params": json.dumps(EXTRA)}, HTTP_HX_REQUEST="true"
        )

    assert response.status_code == 200
    generation = Generation.objects.get()
    assert generation.extra_params == EXTRA
    assert [(t.name, t.args) for t in sent_tasks.drain()] == [
        ("generations.submit", (generation.pk,))
    ]
    # The worker's contract takes SwarmUI parameters flat, next to the core ones.
    sent = job_input(generation)
    assert {key: sent[key] for key in EXTRA} == EXTRA
    assert sent["prompt"] == FORM["prompt"]


def test_an_empty_textarea_sends_no_extra_params(member, endpoint):
    signed_in(member).post("/", {**FORM, "extra_params": "  \n "})

    assert Generation.objects.get().extra_params == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"sampler" "euler"}',
            "Extra parameters: not valid JSON at line 1, column 12 (Expecting ':' delimiter).",
            id="malformed",
        ),
        pytest.param(
            '["sampler", "euler"]', "Must be an object of SwarmUI parameters.", id="not-object"
        ),
        pytest.param('{"steps": 30}', "'steps' has its own field; set it there.", id="core-key"),
        pytest.param(
            '{"CFG Scale": 3}', "'CFG Scale' has its own field; set it there.", id="core-name"
        ),
        pytest.param(
            '{"cfgscale": NaN}',
            "Extra parameters: NaN is not a JSON number; use a number or a string.",
            id="nan",
        ),
        pytest.param(
            '{"123": "x"}',
            "'123': is not a SwarmUI parameter name (ids are made of letters)",
            id="contract-refuses",
        ),
        pytest.param(
            "[" * 100_000 + "]" * 100_000, "Extra parameters: nested too deeply.", id="deep"
        ),
    ],
)
def test_bad_extra_params_are_shown_next_to_the_field_and_nothing_is_created(
    member, endpoint, sent_tasks, text, message
):
    response = signed_in(member).post("/", {**FORM, "extra_params": text}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert message in _field_errors(page)
    assert " open" in _advanced_block(page)
    assert _textarea(page) == text  # kept as typed, to be fixed
    assert not Generation.objects.exists()
    assert sent_tasks.drain() == []


def test_page_and_api_refuse_a_core_key_with_the_same_words(member, endpoint, api_client):
    api = api_client(member).post(
        "/api/v1/generations",
        {**FORM, "extra_params": {"steps": 30}},
        content_type="application/json",
    )
    page = signed_in(member).post("/", {**FORM, "extra_params": '{"steps": 30}'})

    [error] = api.json()["errors"]
    assert error["field"] == "extra_params"
    assert error["message"] in _field_errors(page.content.decode())
    assert not Generation.objects.exists()


def test_without_javascript_the_full_page_answers_both_errors_and_success(member, endpoint):
    client = signed_in(member)

    refused = client.post("/", {**FORM, "extra_params": "{sampler: euler}"})
    assert refused.status_code == 200
    assert "<html" in refused.content.decode()
    assert "not valid JSON at line 1, column 2" in _field_errors(refused.content.decode())
    assert not Generation.objects.exists()

    accepted = client.post("/", {**FORM, "extra_params": '{"sampler": "euler"}'})
    generation = Generation.objects.get()
    assert generation.extra_params == {"sampler": "euler"}
    assert f'id="generation-{generation.pk}"' in accepted.content.decode()


@pytest.mark.parametrize("mode", ["all", "remix"])
def test_use_all_and_remix_fill_the_textarea_with_the_generations_extra_params(
    member, endpoint, mode
):
    generation = make_generation(member, endpoint, extra_params=EXTRA)

    page = signed_in(member).get(f"/?reuse={generation.pk}&mode={mode}").content.decode()

    text = _textarea(page)
    assert json.loads(text) == EXTRA
    assert len(text.splitlines()) == len(EXTRA) + 2  # one parameter a line, easy to edit
    assert " open" in _advanced_block(page)


@pytest.mark.parametrize("mode", ["prompt", "seed"])
def test_use_prompt_and_use_seed_leave_the_extra_params_alone(member, endpoint, mode):
    generation = make_generation(member, endpoint, extra_params=EXTRA)

    page = signed_in(member).get(f"/?reuse={generation.pk}&mode={mode}").content.decode()

    assert _textarea(page) == ""
    assert _advanced_block(page) == '<details class="advanced-params">'


def test_a_reused_generation_submits_again_with_the_same_extra_params(member, endpoint):
    original = make_generation(member, endpoint, extra_params=EXTRA, prompt="a reused fox")
    client = signed_in(member)
    page = client.get(f"/?reuse={original.pk}&mode=all").content.decode()

    client.post("/", {**FORM, "prompt": "a reused fox", "extra_params": _textarea(page)})

    again = Generation.objects.exclude(pk=original.pk).get()
    assert again.extra_params == original.extra_params


@pytest.mark.slow
def test_swarmui_receives_the_forms_extra_params(
    member, cloud, cloud_endpoint, django_capture_on_commit_callbacks, sent_tasks
):
    extra = {"sampler": "dpmpp_2m", "scheduler": "karras"}
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(member).post("/", {**FORM, "extra_params": json.dumps(extra)})
    [task] = sent_tasks.drain()

    submit_generation(generation_id=task.args[0])  # what the generations.submit task does

    [job] = [j for j in cloud.jobs() if j["input"].get("prompt") == FORM["prompt"]]
    assert {key: job["input"][key] for key in extra} == extra
    done = wait_until(
        lambda: (g := refresh_generation(generation_id=task.args[0])).is_final and g,
        timeout=60,
        interval=0.1,
        what="the generation to finish",
    )
    assert done.status == Status.SUCCEEDED, done.error
    used = done.images.get().metadata["sui_image_params"]
    assert {key: used[key] for key in extra} == extra
