"""Input no database can store (NUL characters, lone surrogates, integers past 64 bits) gets a
422 naming the field from every API operation, before any service sees it — found by the fuzzer
as 500s (`POST /tokens` with a NUL in the name, `GET /catalogue/sync-runs?offset=10**24`)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dashboard.accounts.models import ApiToken, Role
from dashboard.accounts.services import api_token_create
from tests.dashboard import factories


@pytest.fixture
def client(db) -> Client:
    membership = factories.make_member(factories.make_team(), Role.OWNER)
    factories.make_endpoint(membership.team)
    _, plain = api_token_create(user=membership.user, name="hostile")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nul\x00byte", "Text cannot contain NUL characters."),
        # (pydantic refuses these itself, in its own words)
        (
            "lone \udaac surrogate",
            "Input should be a valid string, unable to parse raw data as a unicode string",
        ),
    ],
)
def test_text_the_database_cannot_hold_is_refused_with_the_field(client, name, message):
    before = ApiToken.objects.count()
    body = json.dumps({"name": name})  # json escapes both, as a client would send them
    response = client.post("/api/v1/tokens", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "message": message}]
    assert ApiToken.objects.count() == before


def test_integers_past_64_bits_are_refused_with_the_field(client):
    response = client.get("/api/v1/catalogue/sync-runs", {"offset": 10**24})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "offset", "message": "This number is too large."}
    ]


def test_nested_values_are_checked_too(client):
    body = json.dumps({"ids": [1, 2**70], "action": "star"})
    response = client.post("/api/v1/generations/bulk", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "ids.1", "message": "This number is too large."}]
