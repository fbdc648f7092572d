"""The history back end: parsing filters from the URL, each filter, search on each database,
cursor pages, and a query count that does not grow with the history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from dashboard.accounts.models import Role
from dashboard.generations import history
from dashboard.generations.history import (
    HistoryQuery,
    cursor_after,
    history_page,
    parse_history_query,
)
from dashboard.generations.models import GeneratedImage, Generation, Status
from dashboard.generations.services import generations_add_tags
from tests.dashboard.factories import (
    make_endpoint,
    make_generation,
    make_member,
    make_stored_generation,
    make_team,
)

ON_POSTGRES = connection.vendor == "postgresql"


def ids(team, query: HistoryQuery | dict, **kwargs) -> list[int]:
    if isinstance(query, dict):
        query = parse_history_query(query)
    return [g.pk for g in history_page(team, query, **kwargs).generations]


def prompts(team, text: str) -> list[str]:
    return [g.prompt for g in history_page(team, HistoryQuery(text=text)).generations]


# --- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * 201}, "q"),
        ({"q": " ".join(["word"] * 13)}, "q"),
        ({"user": "u" * 151}, "user"),
        ({"model": "m" * 301}, "model"),
        ({"status": "exploded"}, "status"),
        ({"endpoint": "main"}, "endpoint"),
        ({"endpoint": "-3"}, "endpoint"),
        ({"endpoint": "99999999999999999999"}, "endpoint"),
        ({"tag": "<b>bold</b>"}, "tag"),
        ({"tag": "t" * 41}, "tag"),
        ({"starred": "maybe"}, "starred"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-02-30"}, "from"),
        ({"to": "20250101"}, "to"),
        ({"from": "2025-03-02", "to": "2025-03-01"}, "to"),
        ({"created_after": "soon"}, "created_after"),
        ({"created_before": "2025-13-01T00:00"}, "created_before"),
    ],
)
def test_each_bad_parameter_is_named_in_the_error(params, field):
    with pytest.raises(ValidationError) as raised:
        parse_history_query(params)
    assert field in raised.value.message_dict


def test_every_bad_parameter_is_reported_at_once():
    with pytest.raises(ValidationError) as raised:
        parse_history_query({"status": "nope", "endpoint": "x", "from": "y"})
    assert set(raised.value.message_dict) == {"status", "endpoint", "from"}


def test_parsing_keeps_good_values_and_ignores_unknown_ones():
    query = parse_history_query(
        {
            "q": "  red fox ",
            "user": "ada",
            "model": "flux",
            "status": "failed",
            "endpoint": "7",
            "tag": "Client  X",
            "starred": "on",
            "from": "2025-03-01",
            "to": "2025-03-31",
            "page": "4",
            "utm_source": "mail",
        }
    )
    assert query == HistoryQuery(
        text="red fox",
        user="ada",
        model="flux",
        status="failed",
        endpoint=7,
        tag="Client X",
        starred=True,
        created_from=date(2025, 3, 1),
        created_to=date(2025, 3, 31),
    )
    assert parse_history_query(query.as_params()) == query
    assert not query.is_empty()


def test_an_empty_query_has_no_params():
    query = parse_history_query({"starred": "0", "q": "   "})
    assert query.is_empty()
    assert query.as_params() == {}
    assert HistoryQuery(starred=True).as_params() == {"starred": "1"}


# --- filters -------------------------------------------------------------------------------------
def test_each_filter_narrows_the_history(team, member, owner, endpoint):
    other_endpoint = make_endpoint(team, name="staging")
    mine = make_generation(member, endpoint, model="flux", status=Status.FAILED)
    theirs = make_generation(owner, other_endpoint, model="sdxl", starred=True)
    tagged = make_generation(owner, endpoint, model="sdxl")
    generations_add_tags(generations=[tagged], names=["Keeper"], user=member.user)

    assert ids(team, {"user": member.user.username}) == [mine.pk]
    assert ids(team, {"model": "sdxl"}) == [tagged.pk, theirs.pk]
    assert ids(team, {"status": "failed"}) == [mine.pk]
    assert ids(team, {"endpoint": str(other_endpoint.pk)}) == [theirs.pk]
    assert ids(team, {"tag": "keeper"}) == [tagged.pk]
    assert ids(team, {"starred": "true"}) == [theirs.pk]
    assert ids(team, {"user": "nobody-by-that-name"}) == []
    assert ids(team, {"tag": "unknown"}) == []


def test_filters_combine(team, member, owner, endpoint):
    wanted = make_generation(member, endpoint, model="sdxl", starred=True)
    make_generation(member, endpoint, model="sdxl")
    make_generation(member, endpoint, model="flux", starred=True)
    make_generation(owner, endpoint, model="sdxl", starred=True)
    query = {"model": "sdxl", "starred": "1", "user": member.user.username}
    assert ids(team, query) == [wanted.pk]


def test_dates_are_whole_days_in_the_teams_time_zone(team, member, endpoint):
    team.time_zone = "America/New_York"
    team.save()
    late_on_the_1st = make_generation(member, endpoint)  # 23:30 in New York, 04:30 UTC the 2nd
    on_the_2nd = make_generation(member, endpoint)
    Generation.objects.filter(pk=late_on_the_1st.pk).update(
        created_at=datetime(2025, 3, 2, 4, 30, tzinfo=UTC)
    )
    Generation.objects.filter(pk=on_the_2nd.pk).update(
        created_at=datetime(2025, 3, 2, 15, 0, tzinfo=UTC)
    )
    assert ids(team, {"from": "2025-03-01", "to": "2025-03-01"}) == [late_on_the_1st.pk]
    assert ids(team, {"from": "2025-03-02"}) == [on_the_2nd.pk]
    assert ids(team, {"to": "2025-03-02"}) == [on_the_2nd.pk, late_on_the_1st.pk]


def test_exact_instants_filter_too(team, member, endpoint):
    old = make_generation(member, endpoint)
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    new = make_generation(member, endpoint)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(team, {"created_after": since}) == [new.pk]
    assert ids(team, {"created_before": since}) == [old.pk]


def test_another_teams_generations_never_appear(team, member, endpoint):
    rival = make_member(make_team("Rivals"), Role.OWNER)
    rival_endpoint = make_endpoint(rival.team)
    make_generation(rival, rival_endpoint, prompt="a red fox in the snow", starred=True)
    ours = make_generation(member, endpoint)
    assert ids(team, {}) == [ours.pk]
    assert ids(team, {"endpoint": str(rival_endpoint.pk)}) == []
    assert ids(team, {"q": "fox", "starred": "1"}) == []


# --- search --------------------------------------------------------------------------------------
@pytest.fixture
def prompts_history(member, endpoint):
    for prompt, negative in [
        ("a cyberpunk city at night, neon rain", "blurry"),
        ("portrait of a woman in red dresses", ""),
        ("a lighthouse on a cliff, 50% fog", "watermark, text"),
        ("a red fox in the snow", "cartoon"),
    ]:
        make_generation(member, endpoint, prompt=prompt, negative_prompt=negative)


def test_every_word_must_match_prompt_or_negative_prompt(team, prompts_history):
    assert prompts(team, "red") == ["a red fox in the snow", "portrait of a woman in red dresses"]
    assert prompts(team, "RED fox") == ["a red fox in the snow"]
    assert prompts(team, "watermark") == ["a lighthouse on a cliff, 50% fog"]
    assert prompts(team, "fox watermark") == []


def test_the_start_of_a_word_finds_the_word(team, prompts_history):
    assert prompts(team, "cyber") == ["a cyberpunk city at night, neon rain"]
    assert prompts(team, "lightho") == ["a lighthouse on a cliff, 50% fog"]


def test_a_fragment_inside_a_word_finds_it(team, prompts_history):
    # PostgreSQL: no word starts with "punk", so the trigram fallback looks inside words.
    assert prompts(team, "punk") == ["a cyberpunk city at night, neon rain"]
    assert prompts(team, "ghthou") == ["a lighthouse on a cliff, 50% fog"]


def test_quoted_phrases_and_excluded_words(team, prompts_history):
    assert prompts(team, '"red fox"') == ["a red fox in the snow"]
    assert prompts(team, '"fox red"') == []
    assert prompts(team, "red -fox") == ["portrait of a woman in red dresses"]


def test_what_each_database_promises_about_word_forms(team, prompts_history):
    found = prompts(team, "dress")
    assert found == ["portrait of a woman in red dresses"]  # a prefix, everywhere
    if ON_POSTGRES:  # English stemming: another form of the word finds it
        assert prompts(team, "dressing") == ["portrait of a woman in red dresses"]
    else:  # SQLite compares substrings only
        assert prompts(team, "dressing") == []


def test_search_text_is_data_not_syntax(team, prompts_history):
    assert prompts(team, "50%") == ["a lighthouse on a cliff, 50% fog"]
    assert prompts(team, "%") == ["a lighthouse on a cliff, 50% fog"]
    assert prompts(team, "_") == []
    assert prompts(team, "'; DROP TABLE generations_generation; --") == []
    assert Generation.objects.count() == 4
    # Full-text operators are not operators: "|" is text that no prompt contains.
    assert prompts(team, "fox |") == []
    # PostgreSQL searches the words of a term ("fox!" → fox); SQLite the term as text.
    assert prompts(team, "fox!:*") == (["a red fox in the snow"] if ON_POSTGRES else [])


def test_fragment_pages_continue_as_fragments(team, member, endpoint):
    # On PostgreSQL the first page falls back to fragments, and its cursor says so.
    made = [make_generation(member, endpoint, prompt=f"cyberpunk alley {i}") for i in range(5)]
    first = history_page(team, HistoryQuery(text="erpun"), page_size=2)
    second = history_page(team, HistoryQuery(text="erpun"), cursor=first.next_cursor, page_size=2)
    assert [g.pk for g in first.generations + second.generations] == [
        g.pk for g in reversed(made[1:])
    ]


def test_a_search_finds_rare_words_older_than_its_window(team, member, endpoint, monkeypatch):
    """Past the newest SEARCH_WINDOW rows, a search asks the index; pages stay in order."""
    monkeypatch.setattr(history, "SEARCH_WINDOW", 3)
    rare = [make_generation(member, endpoint, prompt=f"an old zebra number {i}") for i in range(3)]
    for i in range(6):
        make_generation(member, endpoint, prompt=f"a common scene {i}")
    first = history_page(team, HistoryQuery(text="zebra"), page_size=2)
    rest = history_page(team, HistoryQuery(text="zebra"), cursor=first.next_cursor, page_size=2)
    assert [g.pk for g in first.generations] == [rare[2].pk, rare[1].pk]
    assert [g.pk for g in rest.generations] == [rare[0].pk]
    assert rest.next_cursor is None


def test_a_search_reads_its_steps_newest_first_in_the_queries_of_any_search(
    team, member, endpoint, monkeypatch, django_assert_num_queries
):
    """Matches among the newest rows, the next step and the index step come out in order, with
    the queries of a search found among the newest rows alone."""
    monkeypatch.setattr(history, "SEARCH_WINDOW", 2)  # steps: 2 rows, 6 more, then the index
    newest_first = ["zebra", "-", "-", "zebra", "-", "-", "-", "-", "-", "zebra", "zebra"]
    made = {}
    for position, word in reversed(list(enumerate(newest_first))):
        made[position] = make_generation(member, endpoint, prompt=f"a {word} at {position}")
    with django_assert_num_queries(4):  # where the steps start, the page, images, tags
        first = history_page(team, HistoryQuery(text="zebra"), page_size=2)
    with django_assert_num_queries(4):
        rest = history_page(team, HistoryQuery(text="zebra"), cursor=first.next_cursor, page_size=2)
    assert [g.pk for g in first.generations] == [made[0].pk, made[3].pk]
    assert [g.pk for g in rest.generations] == [made[9].pk, made[10].pk]
    assert rest.next_cursor is None


# --- cursor pages --------------------------------------------------------------------------------
def test_a_cursor_walk_visits_every_generation_once_newest_first(team, member, endpoint):
    made = [make_generation(member, endpoint, prompt=f"fox {i}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = history_page(team, HistoryQuery(text="fox"), cursor=cursor, page_size=3)
        seen += [g.pk for g in page.generations]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == [g.pk for g in reversed(made)]


def test_cursor_after_starts_just_after_a_generation(team, member, endpoint):
    made = [make_generation(member, endpoint) for _ in range(4)]
    assert ids(team, HistoryQuery(), cursor=cursor_after(made[2])) == [made[1].pk, made[0].pk]


def test_a_page_of_exactly_the_rest_has_no_next_cursor(team, member, endpoint):
    for _ in range(4):
        make_generation(member, endpoint)
    assert history_page(team, HistoryQuery(), page_size=4).next_cursor is None
    assert history_page(team, HistoryQuery(), page_size=3).next_cursor is not None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "MTIz",  # base64 of an id, without a signature
        signing.Signer(salt="another.salt").sign_object(5),
        signing.Signer(salt=history._CURSOR_SALT).sign_object(-5),
        signing.Signer(salt=history._CURSOR_SALT).sign_object("5"),
        signing.Signer(salt=history._CURSOR_SALT).sign_object([5, 2]),
        "é" * 30,
    ],
)
def test_a_malformed_or_tampered_cursor_is_refused(team, member, endpoint, cursor):
    make_generation(member, endpoint)
    with pytest.raises(ValidationError) as raised:
        history_page(team, HistoryQuery(), cursor=cursor)
    assert "cursor" in raised.value.message_dict


def test_a_changed_cursor_is_refused(team, member, endpoint):
    generation = make_generation(member, endpoint)
    cursor = cursor_after(generation)
    signature = cursor.rsplit(":", 1)[1]
    forged = f"{signing.b64_encode(str(generation.pk + 1000).encode()).decode()}:{signature}"
    assert forged != cursor
    with pytest.raises(ValidationError):
        history_page(team, HistoryQuery(), cursor=forged)


def test_the_page_has_images_user_endpoint_and_tags_loaded(
    team, member, endpoint, django_assert_num_queries
):
    generation = make_stored_generation(member, endpoint)
    generations_add_tags(generations=[generation], names=["keeper"], user=member.user)
    [loaded] = history_page(team, HistoryQuery()).generations
    with django_assert_num_queries(0):
        assert [i.index for i in loaded.images.all()] == [0]
        assert [t.name for t in loaded.tags.all()] == ["keeper"]
        assert loaded.user.username == member.user.username
        assert loaded.endpoint.name == endpoint.name


# --- query count ---------------------------------------------------------------------------------
def _history_of(member, endpoint, size: int) -> None:
    """`size` generations with two image rows and a tag each (the files are not needed here)."""
    generations = [
        make_generation(member, endpoint, prompt=f"a red fox number {i}") for i in range(size)
    ]
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            generation=generation,
            index=index,
            file=f"x/{generation.pk}-{index}.png",
            width=8,
            height=8,
            bytes=1,
            sha256="0" * 64,
        )
        for generation in generations
        for index in range(2)
    )
    generations_add_tags(generations=generations, names=["keeper"], user=member.user)


@pytest.mark.parametrize(
    ("params", "queries"),
    [
        ({}, 3),  # the page, its images, its tags
        ({"tag": "keeper", "user": "", "starred": ""}, 3),
        ({"q": "fox"}, 4),  # + where the search window starts
        ({"q": "fox red", "from": "2000-01-01"}, 4),
        # Nothing found: where the steps start, the page; on PostgreSQL the page again as
        # fragments. Nothing to prefetch.
        ({"q": "zebra"}, 3 if ON_POSTGRES else 2),
    ],
)
def test_query_count_does_not_grow_with_the_history(
    team, member, endpoint, django_assert_num_queries, params, queries
):
    query = parse_history_query(params)
    _history_of(member, endpoint, 5)
    with django_assert_num_queries(queries):
        small = history_page(team, query, page_size=4)
    _history_of(member, endpoint, 45)
    with django_assert_num_queries(queries):
        large = history_page(team, query, page_size=4)
    if large.next_cursor:
        with django_assert_num_queries(queries):
            history_page(team, query, cursor=large.next_cursor, page_size=4)
    assert len(small.generations) == len(large.generations)
