"""Helpers every page module shares: the acting membership, visible objects, safe redirects."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
)
from django.shortcuts import get_object_or_404
from django.utils.http import url_has_allowed_host_and_scheme

from dashboard.accounts.selectors import current_membership
from dashboard.generations import selectors
from dashboard.generations.models import (
    Generation,
)

MAX_ID = 2**63 - 1  # the largest id PostgreSQL stores; bigger numbers are not ids


def parse_id(text: str) -> int | None:
    """The id a query parameter names, or None when it is not a whole number PostgreSQL stores."""
    if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        return int(text)
    return None


def membership_or_404(request: HttpRequest):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any team yet.")
    return membership


def visible_generation(request: HttpRequest, generation_id: int) -> Generation:
    return get_object_or_404(selectors.generations_visible_to(request.user), pk=generation_id)


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after a POST: the form's `next` if it is a path on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def first_error(exc: ValidationError) -> str:
    return " ".join(exc.messages)
