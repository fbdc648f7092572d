"""History pages: filters in the URL, cursor pages, list and gallery, the lightbox panel, re-use,
stars, tags, delete, bulk actions and zips, compare, my activity; and 404 for other teams."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.accounts.models import UserPreferences
from dashboard.generations.models import GeneratedImage, Generation, Status, Tag
from dashboard.generations.services import generations_add_tags
from tests.dashboard.factories import (
    PASSWORD,
    make_endpoint,
    make_finished_generation,
    make_generation,
    make_user,
)


def signed_in(membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.username, password=PASSWORD)
    return client


def html_of(response) -> str:
    return response.content.decode()


# --- the history page: filters, search, pages ----------------------------------------------------
def test_filters_combine_and_stay_in_the_url(member, owner, endpoint):
    make_generation(member, endpoint, prompt="fox by member", model="m/alpha", starred=True)
    make_generation(member, endpoint, prompt="owl by member", model="m/beta", starred=True)
    make_generation(owner, endpoint, prompt="fox by owner", model="m/alpha", starred=True)
    make_generation(member, endpoint, prompt="fox unstarred", model="m/alpha")
    url = f"/history/?user={member.user.username}&model=m/alpha&starred=1&view=list"

    html = html_of(signed_in(member).get(url))

    assert "fox by member" in html
    for other in ("owl by member", "fox by owner", "fox unstarred"):
        assert other not in html
    # The form shows the filters it applied, so they can be changed and submitted again.
    assert 'value="m/alpha"' in html
    assert f'<option value="{member.user.username}" selected>' in html
    assert re.search(r'<input type="checkbox" name="starred"[^>]*checked', html)
    assert '<input type="hidden" name="view" value="list">' in html


def test_search_box_finds_a_word_of_the_prompt(member, endpoint):
    make_generation(member, endpoint, prompt="a lighthouse at dusk")
    make_generation(member, endpoint, prompt="a cat on a sofa")

    html = html_of(signed_in(member).get("/history/?q=lighthouse&view=list"))

    assert "a lighthouse at dusk" in html
    assert "a cat on a sofa" not in html


def test_invalid_filters_answer_400_with_the_error_next_to_each_field(member, endpoint):
    make_generation(member, endpoint, prompt="never listed while the filters are wrong")

    response = signed_in(member).get("/history/?status=exploded&from=yesterday&endpoint=x")

    assert response.status_code == 400
    html = html_of(response)
    for field in ("status", "from", "endpoint"):
        assert f'id="id_{field}-errors"' in html
    assert "Enter a date as YYYY-MM-DD." in html
    assert "never listed while the filters are wrong" not in html


@pytest.mark.parametrize("path", ["/history/", "/history/more/"])
def test_malformed_cursor_answers_400_with_a_clear_message(member, endpoint, path):
    make_generation(member, endpoint)

    response = signed_in(member).get(f"{path}?cursor=not-a-real-cursor")

    assert response.status_code == 400
    assert "This page link is invalid" in html_of(response)


def test_older_link_carries_the_cursor_and_the_more_fragment_appends_the_next_page(
    member, endpoint
):
    for i in range(30):
        make_generation(member, endpoint, prompt=f"prompt number {i:02d}", model="m/x")
    client = signed_in(member)

    first = html_of(client.get("/history/?model=m/x&view=list"))

    assert first.index("prompt number 29") < first.index("prompt number 28")
    assert "prompt number 05" not in first
    older = re.search(r'href="(/history/\?[^"]*cursor=[^"]+)"', first).group(1)
    more = re.search(r'hx-get="(/history/more/\?[^"]*)"', first).group(1)
    assert "model=m%2Fx" in older
    assert "view=list" in older
    full_page = html_of(client.get(older.replace("&amp;", "&")))
    assert "prompt number 05" in full_page
    assert "prompt number 06" not in full_page
    fragment = html_of(client.get(more.replace("&amp;", "&"), HTTP_HX_REQUEST="true"))
    assert "<html" not in fragment
    assert fragment.count('<tr class="" data-generation=') == 6
    assert "prompt number 00" in fragment
    assert "Older →" not in fragment  # the last page


def test_grid_has_one_lazy_thumbnail_tile_per_image_and_list_one_row_per_generation(
    member, endpoint
):
    generation = make_finished_generation(member, endpoint, images=3)
    client = signed_in(member)

    grid = html_of(client.get("/history/?view=grid"))
    rows = html_of(client.get("/history/?view=list"))

    for image in generation.images.all():
        thumbnail = f'src="/images/{image.pk}/thumbnail/"'
        assert thumbnail in grid
        assert f'name="image" value="{image.pk}"' in grid
        tag = re.search(rf"<img {thumbnail}[^>]*>", grid).group(0)
        assert 'loading="lazy"' in tag
        assert 'width="64"' in tag
        assert 'height="48"' in tag
    assert grid.count('<figure class="tile') == 3
    assert f'data-panel="/images/{generation.images.first().pk}/panel/"' in grid
    assert rows.count(f'data-generation="{generation.pk}"') == 1
    assert f'name="generation" value="{generation.pk}"' in rows
    # Only thumbnails: the full image is fetched when the lightbox opens it.
    assert '<img src="/images/' in grid
    assert not re.search(r'<img src="/images/\d+/"', grid)


@pytest.mark.parametrize("view", ["grid", "list"])
def test_a_page_costs_the_same_queries_for_few_or_many_generations(member, endpoint, view):
    client = signed_in(member)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/history/?view={view}").status_code == 200
        return len(captured)

    make_finished_generation(member, endpoint, images=2, seed=1)
    few = queries_for_page()
    for seed in range(2, 8):
        generations_add_tags(
            generations=[make_finished_generation(member, endpoint, images=2, seed=seed)],
            names=["t"],
            user=member.user,
        )
    assert queries_for_page() == few


def test_density_is_remembered_per_user_and_applied(member, endpoint):
    make_finished_generation(member, endpoint)
    client = signed_in(member)

    response = client.post("/history/density/", {"density": "large", "next": "/history/?q=fox"})

    assert response.status_code == 302
    assert response["Location"] == "/history/?q=fox"
    assert UserPreferences.objects.get(user=member.user).gallery_density == "large"
    assert 'class="results grid size-large"' in html_of(signed_in(member).get("/history/"))
    client.post("/history/density/", {"density": "list"})
    assert 'id="results-table"' in html_of(client.get("/history/"))
    # The URL's view still wins for one visit.
    assert 'class="results grid size-medium"' in html_of(client.get("/history/?view=grid"))


def test_unknown_density_is_refused_and_nothing_is_saved(member):
    response = signed_in(member).post("/history/density/", {"density": "huge"})

    assert response.status_code == 400
    assert "density" in html_of(response).lower()
    assert not UserPreferences.objects.filter(user=member.user).exists()


def test_density_redirect_refuses_other_sites(member):
    response = signed_in(member).post(
        "/history/density/", {"density": "small", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/history/"


def test_markup_in_prompts_and_tag_names_is_escaped_everywhere(member, endpoint):
    generation = make_finished_generation(
        member, endpoint, prompt="<script>alert('p')</script>", images=2
    )
    tag = Tag.objects.create(team=member.team, name="<b>bold</b>")
    generation.tags.add(tag)
    first, second = generation.images.all()
    client = signed_in(member)

    pages = [
        client.get("/history/?view=list"),
        client.get("/history/?view=grid"),
        client.get(f"/images/{first.pk}/panel/"),
        client.get(f"/generations/{generation.pk}/"),
        client.get(f"/compare/?a={first.pk}&b={second.pk}"),
        client.get(f"/?reuse={generation.pk}&mode=all"),
        client.get("/tags/options/?name=%3C"),
    ]

    for response in pages:
        html = html_of(response)
        assert response.status_code == 200
        assert "<script>alert(" not in html
        assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_of(pages[0])
    assert "&lt;script&gt;" in html_of(pages[2])
    # The JSON for the copy button is escaped for a <script> block too.
    assert "\\u003Cscript\\u003E" in html_of(pages[2])


# --- the lightbox panel --------------------------------------------------------------------------
def test_image_panel_lists_every_parameter_with_copy_and_reuse(member, endpoint):
    endpoint.gpu_price_per_second = "0.0004"
    endpoint.save()
    generation = make_finished_generation(member, endpoint, images=2, seed=-1, model="sdxl/base")
    second = generation.images.get(index=1)

    html = html_of(signed_in(member).get(f"/images/{second.pk}/panel/"))

    for text in (
        "a red fox in the snow",
        "sdxl/base",
        "64\N{MULTIPLICATION SIGN}48",
        "Steps",
        "CFG scale",
        "main",
    ):
        assert text in html
    assert "1500 ms" in html
    assert "$0.000600" in html
    # The worker picked the seed: the panel shows (and copies) the real one of this image.
    assert f'data-copy="{second.seed}"' in html
    assert second.seed != -1
    assert 'href="/models/?q=sdxl/base"' in html
    assert f'id="image-parameters-{second.pk}"' in html
    assert f"/?reuse={generation.pk}&amp;mode=seed&amp;image={second.pk}" in html
    assert f'data-star-for="{generation.pk}"' in html


# --- re-use --------------------------------------------------------------------------------------
def _field_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    if match:
        return match.group(1)
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', html, re.S)
    return match.group(1) if match else None


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "all",
            {"prompt": "a tiger", "negative_prompt": "blurry", "steps": "9", "seed": "777"},
        ),
        ("remix", {"prompt": "a tiger", "negative_prompt": "blurry", "steps": "9", "seed": "-1"}),
        ("prompt", {"prompt": "a tiger", "negative_prompt": "blurry", "steps": "20", "seed": "-1"}),
        ("seed", {"prompt": "", "negative_prompt": "", "steps": "20", "seed": "777"}),
    ],
)
def test_reuse_fills_the_generate_form_for_each_mode(member, endpoint, mode, expected):
    generation = make_generation(
        member, endpoint, prompt="a tiger", negative_prompt="blurry", steps=9, seed=777, width=768
    )

    html = html_of(signed_in(member).get(f"/?reuse={generation.pk}&mode={mode}"))

    for name, value in expected.items():
        assert _field_value(html, name) == value, name
    assert _field_value(html, "width") == ("768" if mode in ("all", "remix") else "1024")


def test_use_seed_of_an_image_takes_the_seed_the_worker_really_used(member, endpoint):
    generation = make_finished_generation(member, endpoint, images=2, seed=-1)
    image = generation.images.get(index=1)

    html = html_of(signed_in(member).get(f"/?reuse={generation.pk}&mode=seed&image={image.pk}"))

    assert _field_value(html, "seed") == str(image.seed)


@pytest.mark.parametrize("query", ["mode=everything", "mode=all&reuse=abc"])
def test_bad_reuse_gives_the_plain_form_and_a_message(member, endpoint, query):
    generation = make_generation(member, endpoint, prompt="not copied")

    html = html_of(signed_in(member).get(f"/?reuse={generation.pk}&{query}"))

    assert 'class="errors reuse-error"' in html
    assert _field_value(html, "prompt") == ""
    assert _field_value(html, "seed") == "-1"


def test_reuse_of_another_teams_generation_fills_nothing(member, endpoint, rival):
    theirs = make_generation(rival, make_endpoint(rival.team), prompt="their secret prompt")

    html = html_of(signed_in(member).get(f"/?reuse={theirs.pk}&mode=all"))

    assert "their secret prompt" not in html
    assert "not in your team" in html


# --- stars, tags, delete on one generation -------------------------------------------------------
def test_star_toggle_answers_htmx_with_the_new_button(member, endpoint):
    generation = make_generation(member, endpoint)
    client = signed_in(member)

    response = client.post(
        f"/generations/{generation.pk}/star/", {"starred": "1"}, HTTP_HX_REQUEST="true"
    )

    generation.refresh_from_db()
    assert generation.starred
    html = html_of(response)
    assert 'aria-pressed="true"' in html
    assert 'name="starred" value="0"' in html
    assert json.loads(response["HX-Trigger-After-Swap"]) == {
        "starChanged": {"id": generation.pk, "starred": True}
    }
    client.post(f"/generations/{generation.pk}/star/", {"starred": "0"})
    generation.refresh_from_db()
    assert not generation.starred


def test_viewer_cannot_star_or_tag(viewer, member, endpoint):
    generation = make_generation(member, endpoint)
    client = signed_in(viewer)

    star = client.post(
        f"/generations/{generation.pk}/star/", {"starred": "1"}, HTTP_HX_REQUEST="true"
    )
    tag = client.post(f"/generations/{generation.pk}/tags/", {"name": "x"})

    assert star.status_code == 403
    assert tag.status_code == 403
    assert "Viewers cannot change the history" in html_of(tag)
    generation.refresh_from_db()
    assert not generation.starred
    assert not generation.tags.exists()
    assert "Add a tag" not in html_of(client.get(f"/generations/{generation.pk}/"))
    assert f'aria-label="Star generation {generation.pk}"' not in html_of(client.get("/history/"))


def test_tags_are_added_and_removed_and_offered_for_autocomplete(member, endpoint):
    generation = make_generation(member, endpoint)
    client = signed_in(member)

    added = client.post(
        f"/generations/{generation.pk}/tags/", {"name": "keeper"}, HTTP_HX_REQUEST="true"
    )

    assert added.status_code == 200
    assert ">keeper" in html_of(added)
    assert 'aria-label="Remove tag keeper"' in html_of(added)
    assert list(generation.tags.values_list("name", flat=True)) == ["keeper"]
    options = html_of(client.get("/tags/options/?name=kee"))
    assert '<option value="keeper">' in options
    assert "keeper" not in html_of(client.get("/tags/options/?name=zzz"))
    removed = client.post(
        f"/generations/{generation.pk}/tags/remove/", {"name": "keeper"}, HTTP_HX_REQUEST="true"
    )
    assert removed.status_code == 200
    assert not generation.tags.exists()


def test_a_bad_tag_name_is_a_400_with_its_rule_and_nothing_changes(member, endpoint):
    generation = make_generation(member, endpoint)

    response = signed_in(member).post(
        f"/generations/{generation.pk}/tags/", {"name": "<img src=x>"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert "Tag names are 1 to 40 characters" in html_of(response)
    assert 'aria-invalid="true"' in html_of(response)
    assert not Tag.objects.exists()


def test_delete_confirms_with_counts_then_removes_rows_and_files(member, endpoint, settings):
    generation = make_finished_generation(member, endpoint, images=2)
    files = [settings.MEDIA_ROOT / i.file.name for i in generation.images.all()]
    assert all(path.exists() for path in files)
    client = signed_in(member)

    confirm = html_of(client.get(f"/generations/{generation.pk}/delete/"))
    assert "This removes 1 generation and 2 images" in confirm
    response = client.post(f"/generations/{generation.pk}/delete/")

    assert response["Location"] == "/history/"
    assert not Generation.objects.exists()
    assert not GeneratedImage.objects.exists()
    assert not any(path.exists() for path in files)


def test_a_running_generation_cannot_be_deleted_yet(member, endpoint):
    generation = make_generation(member, endpoint, status=Status.RUNNING)

    response = signed_in(member).post(f"/generations/{generation.pk}/delete/")

    assert response.status_code == 409
    assert "still running" in html_of(response)
    assert Generation.objects.filter(pk=generation.pk).exists()


# --- re-run on another endpoint ------------------------------------------------------------------
def test_rerun_on_another_endpoint_copies_the_parameters(member, endpoint, team):
    other = make_endpoint(team, name="second")
    generation = make_finished_generation(member, endpoint, seed=-1, steps=11, prompt="a heron")
    page = html_of(signed_in(member).get(f"/generations/{generation.pk}/"))
    assert f'<option value="{other.pk}">second</option>' in page

    response = signed_in(member).post(
        f"/generations/{generation.pk}/rerun/", {"endpoint": other.pk}
    )

    new = Generation.objects.exclude(pk=generation.pk).get()
    assert response["Location"] == f"/generations/{new.pk}/"
    assert (new.endpoint, new.prompt, new.steps) == (other, "a heron", 11)
    assert new.seed == generation.images.get().seed


def test_rerun_refuses_viewers_and_other_teams_endpoints(viewer, member, endpoint, rival):
    generation = make_generation(member, endpoint)
    theirs = make_endpoint(rival.team)

    as_viewer = signed_in(viewer).post(
        f"/generations/{generation.pk}/rerun/", {"endpoint": endpoint.pk}
    )
    foreign = signed_in(member).post(
        f"/generations/{generation.pk}/rerun/", {"endpoint": theirs.pk}
    )

    assert as_viewer.status_code == 403
    assert "Viewers cannot generate" in html_of(as_viewer)
    assert foreign.status_code == 400
    assert "Unknown endpoint." in html_of(foreign)
    assert Generation.objects.count() == 1


# --- the selection bar ---------------------------------------------------------------------------
def test_bulk_star_and_tag_apply_to_the_generations_of_the_selected_images(member, endpoint):
    first = make_finished_generation(member, endpoint, images=2, seed=1)
    second = make_finished_generation(member, endpoint, seed=2)
    untouched = make_finished_generation(member, endpoint, seed=3)
    picked = [first.images.first().pk, second.images.get().pk]
    client = signed_in(member)

    starred = client.post(
        "/history/selection/", {"image": picked, "action": "star", "next": "/history/?q=a"}
    )
    tagged = client.post("/history/selection/", {"image": picked, "action": "tag", "tag": "best"})

    assert starred["Location"] == "/history/?q=a"
    assert tagged.status_code == 302
    assert set(Generation.objects.filter(starred=True)) == {first, second}
    assert set(Tag.objects.get(name="best").generations.all()) == {first, second}
    assert not untouched.tags.exists()


def test_bulk_tag_with_a_bad_name_is_a_400_and_changes_nothing(member, endpoint):
    generation = make_generation(member, endpoint)

    response = signed_in(member).post(
        "/history/selection/", {"generation": [generation.pk], "action": "tag", "tag": "<x>"}
    )

    assert response.status_code == 400
    assert "Tag names are 1 to 40 characters" in html_of(response)
    assert not Tag.objects.exists()


def test_bulk_delete_asks_first_with_counts_then_deletes(member, endpoint):
    first = make_finished_generation(member, endpoint, images=2, seed=1)
    second = make_finished_generation(member, endpoint, images=3, seed=2)
    keep = make_finished_generation(member, endpoint, seed=3)
    data = {"image": [first.images.first().pk], "generation": [second.pk], "action": "delete"}
    client = signed_in(member)

    confirm = client.post("/history/selection/", data)

    assert confirm.status_code == 200
    assert "This removes 2 generations and 5 images" in html_of(confirm)
    assert Generation.objects.count() == 3
    client.post("/history/selection/", {**data, "confirm": "1"})
    assert list(Generation.objects.all()) == [keep]


def test_bulk_action_with_another_teams_id_is_404_and_changes_nothing(member, endpoint, rival):
    mine = make_generation(member, endpoint)
    theirs = make_finished_generation(rival, make_endpoint(rival.team))
    client = signed_in(member)

    for data in (
        {"generation": [mine.pk, theirs.pk], "action": "star"},
        {"generation": [mine.pk], "image": [theirs.images.get().pk], "action": "star"},
        {"generation": [mine.pk, "12abc"], "action": "star"},
    ):
        assert client.post("/history/selection/", data).status_code == 404
    assert not Generation.objects.filter(starred=True).exists()


def test_bulk_rules_viewers_and_members_deleting_others(viewer, member, owner, endpoint):
    owners = make_generation(owner, endpoint)

    as_viewer = signed_in(viewer).post(
        "/history/selection/", {"generation": [owners.pk], "action": "star"}
    )
    as_member = signed_in(member).post(
        "/history/selection/", {"generation": [owners.pk], "action": "delete", "confirm": "1"}
    )

    assert as_viewer.status_code == 403
    assert as_member.status_code == 403
    owners.refresh_from_db()
    assert not owners.starred
    assert "Only its author or a team admin" in html_of(as_member)


def test_empty_selection_or_unknown_action_is_a_400(member, endpoint):
    generation = make_generation(member, endpoint)
    client = signed_in(member)

    assert client.post("/history/selection/", {"action": "star"}).status_code == 400
    unknown = client.post("/history/selection/", {"generation": [generation.pk], "action": "x"})
    assert unknown.status_code == 400


def test_compare_from_the_selection_needs_exactly_two_images(member, endpoint):
    generation = make_finished_generation(member, endpoint, images=3)
    a, b, c = generation.images.all()
    client = signed_in(member)

    two = client.post("/history/selection/", {"image": [a.pk, b.pk], "action": "compare"})
    three = client.post("/history/selection/", {"image": [a.pk, b.pk, c.pk], "action": "compare"})

    assert two["Location"] == f"/compare/?a={a.pk}&b={b.pk}"
    assert three.status_code == 400
    assert "exactly two images" in html_of(three)


def test_zip_of_selected_images_and_of_selected_rows(member, endpoint):
    first = make_finished_generation(member, endpoint, images=2, seed=10)
    second = make_finished_generation(member, endpoint, images=2, seed=20)
    one = first.images.get(index=1)
    client = signed_in(member)

    response = client.post(
        "/history/selection/zip/", {"image": [one.pk], "generation": [second.pk]}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    expected = [f"{image.generation_id}-{image.index}-{image.seed}.png" for image in (one,)] + [
        f"{image.generation_id}-{image.index}-{image.seed}.png" for image in second.images.all()
    ]
    assert names == sorted([*expected, "metadata.json"])
    assert archive.read(expected[0]) == one.file.open("rb").read()
    manifest = json.loads(archive.read("metadata.json"))
    assert {entry["image_id"] for entry in manifest["images"]} == {
        one.pk,
        *second.images.values_list("pk", flat=True),
    }


def test_zip_with_nothing_selected_is_a_400(member):
    assert signed_in(member).post("/history/selection/zip/").status_code == 400


# --- compare -------------------------------------------------------------------------------------
def test_compare_shows_both_images_and_dims_equal_values(member, endpoint):
    a = make_finished_generation(member, endpoint, prompt="a fox", steps=10, seed=1).images.get()
    b = make_finished_generation(member, endpoint, prompt="a wolf", steps=10, seed=2).images.get()

    html = html_of(signed_in(member).get(f"/compare/?a={a.pk}&b={b.pk}"))

    assert f'src="/images/{a.pk}/"' in html
    assert f'src="/images/{b.pk}/"' in html
    rows = re.findall(r'<tr class="(same|differs)"><th scope="row">([^<]+)</th>', html)
    marks = {label: mark for mark, label in rows}
    assert marks["Prompt"] == "differs"
    assert marks["Seed"] == "differs"
    assert marks["Steps"] == "same"
    assert marks["Model"] == "same"


def test_compare_lists_swarmui_parameters_apart_and_as_json(member, endpoint):
    extra_a = {"Status": "mine", "loras": ["ink", "fur"], "sampler": "euler"}
    a = make_finished_generation(member, endpoint, seed=1, extra_params=extra_a).images.get()
    b = make_finished_generation(
        member, endpoint, seed=2, extra_params={"sampler": "euler"}
    ).images.get()

    html = html_of(signed_in(member).get(f"/compare/?a={a.pk}&b={b.pk}"))

    rows = re.findall(r'<tr class="(same|differs)"><th scope="row">([^<]+)</th>', html)
    marks = {label: mark for mark, label in rows}
    assert marks["Status"] == "same"  # the generation's status, not the parameter
    assert marks["SwarmUI Status"] == "differs"
    assert marks["SwarmUI sampler"] == "same"
    assert "[&quot;ink&quot;, &quot;fur&quot;]" in html


def test_compare_with_a_malformed_id_is_a_400(member):
    response = signed_in(member).get("/compare/?a=1&b=two")

    assert response.status_code == 400
    assert "b: Give an image id" in html_of(response)


# --- my activity (title badge and toasts) --------------------------------------------------------
def test_my_activity_counts_my_running_generations_and_lists_what_finished(member, endpoint):
    client = signed_in(member)
    make_generation(member, endpoint, status=Status.RUNNING)
    make_generation(member, endpoint, status=Status.QUEUED)
    first = client.get("/generations/mine/active/").json()
    assert first["running"] == 2
    assert first["finished"] == []

    done = make_finished_generation(member, endpoint, prompt="a finished fox")
    later = client.get("/generations/mine/active/", {"since": first["now"]}).json()

    assert [item["id"] for item in later["finished"]] == [done.pk]
    assert later["finished"][0]["status"] == "succeeded"
    assert later["finished"][0]["url"] == f"/generations/{done.pk}/"
    assert later["finished"][0]["prompt"] == "a finished fox"


def test_my_activity_first_poll_lists_just_finished_ones_as_a_baseline(member, endpoint):
    done = make_finished_generation(member, endpoint)

    first = signed_in(member).get("/generations/mine/active/").json()

    # The page marks these as seen without a toast; a later poll's overlap will not re-announce.
    assert [item["id"] for item in first["finished"]] == [done.pk]


def test_my_activity_ignores_other_peoples_generations_and_old_ones(member, owner, endpoint):
    since = timezone.now().isoformat()
    make_generation(owner, endpoint, status=Status.RUNNING)
    theirs = make_finished_generation(owner, endpoint)
    old = make_finished_generation(member, endpoint, seed=5)
    Generation.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=1))

    answer = signed_in(member).get("/generations/mine/active/", {"since": since}).json()

    assert answer["running"] == 0
    assert theirs.pk not in [item["id"] for item in answer["finished"]]
    assert answer["finished"] == []


def test_my_activity_rejects_a_bad_since_and_anonymous_callers(member):
    bad = signed_in(member).get("/generations/mine/active/", {"since": "last tuesday"})

    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"field": "since", "message": "Give `since` as an ISO 8601 time with its offset."}
    ]
    assert Client().get("/generations/mine/active/").status_code == 401


def test_pages_carry_the_notifier_and_the_toast_container_only_when_signed_in(member):
    signed = html_of(signed_in(member).get("/history/"))
    anonymous = html_of(Client().get("/accounts/sign-in/"))

    assert 'data-url="/generations/mine/active/"' in signed
    assert 'id="toasts"' in signed
    assert "notify.js" not in anonymous


# --- another team's member gets 404 everywhere ---------------------------------------------------
def test_another_teams_member_gets_404_for_every_page_fragment_image_and_zip(
    member, endpoint, rival
):
    generation = make_finished_generation(member, endpoint, images=2)
    generations_add_tags(generations=[generation], names=["ours"], user=member.user)
    a, b = generation.images.all()
    client = signed_in(rival)
    gets = [
        f"/generations/{generation.pk}/",
        f"/generations/{generation.pk}/progress/",
        f"/generations/{generation.pk}/delete/",
        f"/images/{a.pk}/",
        f"/images/{a.pk}/thumbnail/",
        f"/images/{a.pk}/panel/",
        f"/compare/?a={a.pk}&b={b.pk}",
    ]
    posts = [
        (f"/generations/{generation.pk}/star/", {"starred": "1"}),
        (f"/generations/{generation.pk}/tags/", {"name": "theirs"}),
        (f"/generations/{generation.pk}/tags/remove/", {"name": "ours"}),
        (f"/generations/{generation.pk}/delete/", {}),
        (f"/generations/{generation.pk}/rerun/", {}),
        ("/history/selection/", {"image": [a.pk], "action": "star"}),
        ("/history/selection/", {"generation": [generation.pk], "action": "delete", "confirm": 1}),
        ("/history/selection/zip/", {"image": [a.pk]}),
        ("/history/selection/zip/", {"generation": [generation.pk]}),
    ]

    for url in gets:
        assert client.get(url).status_code == 404, url
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    assert "a red fox in the snow" not in html_of(client.get("/history/"))
    assert "ours" not in html_of(client.get("/tags/options/?name=o"))
    generation.refresh_from_db()
    assert not generation.starred
    assert generation.images.count() == 2
    assert list(generation.tags.values_list("name", flat=True)) == ["ours"]


def test_someone_without_a_team_gets_404_for_history(db):
    client = Client()
    user = make_user()
    assert client.login(username=user.username, password=PASSWORD)

    assert client.get("/history/").status_code == 404
    assert client.post("/history/selection/zip/").status_code == 404
