"""Searching prompts: every term must match the prompt or the negative prompt.

On PostgreSQL a term first matches as words: full-text search with English stemming and prefix
matching (`cyber` finds `cyberpunk`, `dresses` finds `dress`), on a stored tsvector column with a
GIN index (migration 0003). When that finds nothing, `matching_fragments` is the fallback: each
term as a fragment anywhere in the text (`punk` finds `cyberpunk`), through a pg_trgm index.
Quoted text is one term ("red dress"), a leading `-` excludes a term. On SQLite a term is a
case-insensitive substring, so it needs no fallback.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

MAX_SEARCH_LENGTH = 200
MAX_TERMS = 12
# pg_trgm needs three characters to narrow a fragment search down through its index.
MIN_FRAGMENT_LENGTH = 3
_TERM = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
# What PostgreSQL's parser keeps as words: letters and digits (it treats "_" as a separator).
_LEXEME = re.compile(r"[^\W_]+")
# Both must match what 0003_history_search creates: the column, and the trigram index expression.
_TABLE = '"generations_generation"'
VECTOR_SQL = f'{_TABLE}."search_vector"'
HAYSTACK_SQL = f'({_TABLE}."prompt" || \' \' || {_TABLE}."negative_prompt")'


def search_terms(text: str) -> list[tuple[str, bool]]:
    """(term, excluded) pairs of a search text; raises ValueError when it is too long."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise ValueError(f"Search for at most {MAX_SEARCH_LENGTH} characters.")
    terms = []
    for match in _TERM.finditer(text):
        minus, phrase = (match[1], match[2]) if match[2] is not None else (match[3], match[4])
        phrase = " ".join(phrase.split())
        if phrase and phrase != "-":
            terms.append((phrase, minus == "-"))
    if len(terms) > MAX_TERMS:
        raise ValueError(f"Search for at most {MAX_TERMS} words.")
    return terms


def _raw(clauses: list[str], params: list[str]) -> Q:
    # The SQL text is built from constants only; every user-given value is a parameter.
    return Q(RawSQL(" AND ".join(clauses), params, output_field=BooleanField()))  # noqa: S611


def _prefix_tsquery(term: str) -> str | None:
    """to_tsquery text for `term`: its words in sequence, the last one a prefix."""
    words = _LEXEME.findall(term)
    if not words:
        return None
    return " <-> ".join(f"'{word}'" for word in words) + ":*"


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _portable(terms: list[tuple[str, bool]]) -> Q:
    condition = Q()
    for term, excluded in terms:
        term_condition = Q(prompt__icontains=term) | Q(negative_prompt__icontains=term)
        condition &= ~term_condition if excluded else term_condition
    return condition


def matching_words(text: str) -> Q:
    """A filter on Generation: every term of `text` matches as (the start of) words.

    Raises ValueError for an over-long text. An empty text matches everything.
    """
    terms = search_terms(text)
    if connection.vendor != "postgresql":
        return _portable(terms)
    clauses, params = [], []
    for term, excluded in terms:
        tsquery = _prefix_tsquery(term)
        if tsquery is None:  # punctuation only ("50%" has a word, "%" has none): as text
            clause = f"{HAYSTACK_SQL} ILIKE %s"
            params.append(_like_pattern(term))
        else:
            # A term of stop words only ("the") has no lexeme; it then restricts nothing.
            # PostgreSQL folds this constant part when planning, so the GIN index still serves.
            query_sql = "to_tsquery('english'::regconfig, %s)"
            clause = f"(numnode({query_sql}) = 0 OR {VECTOR_SQL} @@ {query_sql})"
            params.extend([tsquery, tsquery])
        clauses.append(f"NOT {clause}" if excluded else clause)
    return _raw(clauses, params) if clauses else Q()


def matching_fragments(text: str) -> Q | None:
    """The fallback when `matching_words` finds nothing: every term as a fragment anywhere.

    None when there is no fallback: not PostgreSQL (words are already fragments there), or a
    term is too short for the trigram index.
    """
    terms = search_terms(text)
    if connection.vendor != "postgresql" or not terms:
        return None
    if any(len(term) < MIN_FRAGMENT_LENGTH for term, excluded in terms if not excluded):
        return None
    clauses = [
        f"{HAYSTACK_SQL} {'NOT ILIKE' if excluded else 'ILIKE'} %s" for term, excluded in terms
    ]
    return _raw(clauses, [_like_pattern(term) for term, _ in terms])
