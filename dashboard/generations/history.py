"""A team's prompt history as people browse it: filters from the URL, search, and keyset pages.

Pages are keyset (cursor) pages on the id, newest first, so a page deep in a large history costs
what the first one costs. The cursor is signed (a client cannot forge a position) and remembers
whether the search fell back to fragments (search.py), so later pages search the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch, Q, QuerySet, Subquery, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.accounts.models import Team
from dashboard.generations.models import GeneratedImage, Generation, Status, Tag
from dashboard.generations.search import (
    MAX_SEARCH_LENGTH,
    matching_fragments,
    matching_words,
    search_terms,
)
from dashboard.generations.tag_names import clean_tag_name

MAX_PAGE_SIZE = 100
# How many of the newest rows a search tests one by one before it looks further back
# (_Window): first SEARCH_WINDOW rows, then up to SEARCH_STEP times as many, then the index.
SEARCH_WINDOW = 2000
SEARCH_STEP = 4
_CURSOR_SALT = "dashboard.generations.history.cursor"
_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"", "0", "false", "off", "no"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class HistoryQuery:
    text: str = ""  # search over prompt and negative prompt
    user: str = ""  # username of the member who generated
    model: str = ""
    status: str = ""  # a Status value
    endpoint: int | None = None  # RunPodEndpoint id (of this team)
    tag: str = ""  # tag name (case-insensitive)
    starred: bool = False
    created_from: date | None = None  # inclusive, in the team's time zone
    created_to: date | None = None  # inclusive
    # Exact instants (ISO 8601), for scripts; the pages use the dates above.
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive

    def as_params(self) -> dict[str, str]:
        """The non-default values under their GET names, for building URLs."""
        params: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value in (None, "", False):
                continue
            name = _GET_NAMES[field.name]
            if isinstance(value, bool):
                params[name] = "1"
            elif isinstance(value, date):  # datetimes too
                params[name] = value.isoformat()
            else:
                params[name] = str(value)
        return params

    def is_empty(self) -> bool:
        return not self.as_params()


_GET_NAMES = {
    "text": "q",
    "user": "user",
    "model": "model",
    "status": "status",
    "endpoint": "endpoint",
    "tag": "tag",
    "starred": "starred",
    "created_from": "from",
    "created_to": "to",
    "created_after": "created_after",
    "created_before": "created_before",
}
_MAX_LENGTHS = {"user": 150, "model": 300}


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date(errors: dict[str, str], params: Mapping[str, str], name: str) -> date | None:
    value = _text(params, name)
    if not value:
        return None
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors[name] = "Enter a date as YYYY-MM-DD."
    return None


def _instant(errors: dict[str, str], params: Mapping[str, str], name: str) -> datetime | None:
    value = _text(params, name)
    if not value:
        return None
    try:
        parsed = parse_datetime(value) if len(value) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        errors[name] = "Enter a date and time in ISO 8601, e.g. 2025-01-31T18:00:00Z."
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def parse_history_query(params: Mapping[str, str]) -> HistoryQuery:
    """GET names: q, user, model, status, endpoint, tag, starred (1/true/on), from, to (YYYY-MM-DD),
    created_after, created_before (ISO 8601 instants).

    Raises ValidationError({field: message}) naming the GET field; unknown params are ignored.
    """
    errors: dict[str, str] = {}
    text = _text(params, "q")
    if len(text) > MAX_SEARCH_LENGTH:
        errors["q"] = f"Search for at most {MAX_SEARCH_LENGTH} characters."
    values = {name: _text(params, name) for name in ("user", "model")}
    for name, limit in _MAX_LENGTHS.items():
        if len(values[name]) > limit:
            errors[name] = f"Enter at most {limit} characters."
    status = _text(params, "status")
    if status and status not in Status.values:
        errors["status"] = f"Unknown status; use one of: {', '.join(Status.values)}."
    endpoint = None
    endpoint_text = _text(params, "endpoint")
    if endpoint_text:
        if endpoint_text.isascii() and endpoint_text.isdigit() and int(endpoint_text) <= _MAX_ID:
            endpoint = int(endpoint_text)
        else:
            errors["endpoint"] = "Choose an endpoint by its id (a whole number)."
    tag = _text(params, "tag")
    if tag:
        try:
            tag = clean_tag_name(tag)
        except ValueError as exc:
            errors["tag"] = str(exc)
    starred_text = _text(params, "starred").lower()
    if starred_text not in _TRUE | _FALSE:
        errors["starred"] = "Use 1 for starred only, or leave it out."
    created_from = _date(errors, params, "from")
    created_to = _date(errors, params, "to")
    if created_from and created_to and created_from > created_to:
        errors["to"] = "The end date is before the start date."
    created_after = _instant(errors, params, "created_after")
    created_before = _instant(errors, params, "created_before")
    if "q" not in errors:
        try:  # the search text has rules of its own (e.g. how many words)
            search_terms(text)
        except ValueError as exc:
            errors["q"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return HistoryQuery(
        text=text,
        user=values["user"],
        model=values["model"],
        status=status,
        endpoint=endpoint,
        tag=tag,
        starred=starred_text in _TRUE,
        created_from=created_from,
        created_to=created_to,
        created_after=created_after,
        created_before=created_before,
    )


@dataclass
class HistoryPage:
    generations: list[Generation]  # newest first; images, user, endpoint and tags prefetched
    next_cursor: str | None  # opaque; None on the last page


def _team_zone(team) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(team, "time_zone", "") or "UTC")
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of `day` in the team's time zone: "from 3 May" means the team's 3 May."""
    return datetime.combine(day, time.min, tzinfo=zone)


def _filtered(team, query: HistoryQuery, search: Q) -> QuerySet[Generation]:
    """The team's generations matching `query` (its text as the `search` filter), unordered.

    Related lookups are scalar subqueries rather than joins, so PostgreSQL can walk one
    (team, <filter>, -id) index and stop after a page.
    """
    generations = Generation.objects.filter(search, team=team)
    if query.user:
        users = get_user_model().objects.filter(username=query.user).values("pk")[:1]
        generations = generations.filter(user_id=users)
    if query.model:
        generations = generations.filter(model=query.model)
    if query.status:
        generations = generations.filter(status=query.status)
    if query.endpoint is not None:
        generations = generations.filter(endpoint_id=query.endpoint)
    if query.tag:
        tags = Tag.objects.filter(team=team, name__iexact=query.tag).values("pk")[:1]
        tagged = Generation.tags.through.objects.filter(tag_id=tags).values("generation_id")
        generations = generations.filter(pk__in=tagged)
    if query.starred:
        generations = generations.filter(starred=True)
    if query.created_from:
        generations = generations.filter(
            created_at__gte=_start_of(query.created_from, _team_zone(team))
        )
    if query.created_to and query.created_to < date.max:
        generations = generations.filter(
            created_at__lt=_start_of(query.created_to + timedelta(days=1), _team_zone(team))
        )
    if query.created_after:
        generations = generations.filter(created_at__gte=query.created_after)
    if query.created_before:
        generations = generations.filter(created_at__lt=query.created_before)
    return generations


def _cursor(before_id: int, *, fragments: bool = False) -> str:
    position = [before_id, 1] if fragments else before_id
    return signing.Signer(salt=_CURSOR_SALT).sign_object(position)


def cursor_after(generation: Generation) -> str:
    """The cursor of the page that starts just after `generation`."""
    return _cursor(generation.pk)


def _position(cursor: str) -> tuple[int, bool]:
    """(id to continue below, whether the search fell back to fragments)."""
    try:
        position = signing.Signer(salt=_CURSOR_SALT).unsign_object(cursor)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        position = None
    fragments = isinstance(position, list) and len(position) == 2 and position[1] == 1
    before_id = position[0] if fragments else position
    if type(before_id) is not int or not 0 < before_id <= _MAX_ID:
        raise ValidationError({"cursor": "This page link is invalid; start from the first page."})
    return before_id, fragments


def history_page(
    team, query: HistoryQuery, *, cursor: str | None = None, page_size: int = 24
) -> HistoryPage:
    """One page of the team's history, newest first.

    Three SQL queries (the page, its images, its tags); a search adds one (where its steps
    start), and one more when its words find nothing (fragments); whatever the size of the
    history and wherever the matches are. A malformed or tampered cursor raises
    ValidationError({"cursor": ...}).
    """
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    before_id, fragments = _position(cursor) if cursor else (None, False)
    search = matching_fragments(query.text) if fragments else matching_words(query.text)
    if search is None:  # a fragment cursor for a query that has no fragment search
        raise ValidationError({"cursor": "This page link is invalid; start from the first page."})
    # One row more than the page tells whether another page follows, without a COUNT.
    window = _Window(team, before_id, limit=page_size + 1, searching=bool(query.text))
    rows = window.rows(_filtered(team, query, search))
    if not rows and not cursor and query.text:
        fallback = matching_fragments(query.text)
        if fallback is not None:
            fragments = True
            rows = window.rows(_filtered(team, query, fallback))
    page, more = rows[:page_size], len(rows) > page_size
    prefetch_related_objects(
        page, Prefetch("images", GeneratedImage.objects.order_by("index")), "tags"
    )
    next_cursor = _cursor(page[-1].pk, fragments=fragments) if more else None
    return HistoryPage(generations=page, next_cursor=next_cursor)


class _Window:
    """Reads the newest matching rows below a position, quickly however common the match is.

    Filters with an index of their own are read newest first through it. A search cannot be:
    walking the history newest first and testing each row is fastest for a common word but
    reads the whole history for a rare one, and the GIN index is fastest for a rare word but
    collects every match of a common one. PostgreSQL picks by estimate and can be wrong by
    orders of magnitude (EXPLAIN at 100,000 generations: 45 ms for a word found nowhere). So a
    search reads in steps, each of which can walk only a bounded number of rows: the newest
    SEARCH_WINDOW rows, the next (SEARCH_STEP - 1) * SEARCH_WINDOW (walked or read through the
    index as PostgreSQL estimates: a word common until last week is found there at once), then
    the rest through the search index, sorted. All steps are one statement that stops at the
    step that fills the page, so a search makes the same queries wherever its matches are and
    however long the history.
    """

    def __init__(self, team, before_id: int | None, *, limit: int, searching: bool) -> None:
        self.before_id, self.limit = before_id, limit
        self.bounds: tuple[int, int] | None = self._bounds(team) if searching else None

    def _bounds(self, team) -> tuple[int, int]:
        """The ids SEARCH_WINDOW and SEARCH_STEP * SEARCH_WINDOW rows below the position; 0 where
        the rest is shorter.

        Asked first, in a query of their own, because PostgreSQL plans each step well only when
        it sees the step's bounds as constants (as parameters, it guesses a tiny range and walks
        a 24,000-row one). A short history takes the same steps (its older parts are just
        empty), so that the queries a search makes never depend on the size of the history.
        """
        below = Generation.objects.filter(team=team)
        if self.before_id is not None:
            below = below.filter(pk__lt=self.before_id)
        ids = below.order_by("-pk").values("pk")
        near, far = SEARCH_WINDOW, SEARCH_STEP * SEARCH_WINDOW
        recent, older = (
            Team.objects.filter(pk=team.pk)
            .values_list(Subquery(ids[near : near + 1]), Subquery(ids[far : far + 1]))
            .get()
        )
        return recent or 0, older or 0

    def rows(self, generations: QuerySet[Generation]) -> list[Generation]:
        if self.before_id is not None:
            generations = generations.filter(pk__lt=self.before_id)
        if self.bounds is None:
            return list(
                generations.select_related("user", "endpoint").order_by("-pk")[: self.limit]
            )
        recent, older = self.bounds
        steps = [
            generations.filter(pk__gt=recent).order_by("-pk"),
            generations.filter(pk__gt=older, pk__lte=recent).order_by("-pk"),
            # "id + 0" has no index to walk, so PostgreSQL collects the (few) matches through the
            # search index and sorts them instead of walking the whole older history.
            generations.filter(pk__lte=older).order_by((F("pk") + 0).desc()),
        ]
        # Ids first, rows after: joining users and endpoints to every match of the index step
        # before keeping the newest made it 4x slower (EXPLAIN at 100,000 generations, 2,755
        # matches: 5.5 ms → 1.3 ms).
        page = Generation.objects.filter(pk__in=_first_ids(steps, self.limit))
        return list(page.select_related("user", "endpoint").order_by("-pk"))


def _first_ids(steps: list[QuerySet[Generation]], limit: int) -> RawSQL:
    """A subquery for the ids of the first `limit` rows of `steps`, read in order.

    UNION ALL runs its parts in order and LIMIT stops pulling rows once it has enough, so the
    steps after the one that fills the page never run (on PostgreSQL and SQLite alike).
    """
    parts, params = [], []
    for number, step in enumerate(steps):
        sql, step_params = step.values("pk")[:limit].query.sql_with_params()
        # Each step in a subquery of its own: SQLite takes no LIMIT on a part of a UNION.
        parts.append(f"SELECT * FROM ({sql}) AS step_{number}")  # noqa: S608 (ORM-compiled)
        params.extend(step_params)
    # The SQL text is ORM-compiled steps and constants; every value stays a parameter.
    union = " UNION ALL ".join(parts)
    return RawSQL(f"SELECT * FROM ({union}) AS steps LIMIT %s", [*params, limit])  # noqa: S608, S611
