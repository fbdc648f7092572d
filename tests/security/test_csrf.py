"""CSRF: every form route (each page of the access matrix, POSTed) and every API write made with
the session cookie refuses a request without the CSRF token, even from a signed-in admin; with
the token, the same request goes through. Bearer-token API calls need no token (no cookie)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from tests.security import routes as found
from tests.security.test_access_matrix import PARAMS, requests_for

pytestmark = pytest.mark.slow


def session_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post(client: Client, route: found.Route, world, **extra):
    path = route.path({name: build(world) for name, build in PARAMS.items()})
    request = requests_for(world)(route)
    if route.kind == "page":
        return client.post(path, request.body or {}, **extra)
    body = json.dumps(request.body or {})
    return client.generic(route.method, path, body, content_type="application/json", **extra)


def is_csrf_refusal(response) -> bool:
    text = response.content.decode(errors="replace")
    return response.status_code == 403 and "CSRF" in text


def test_every_form_route_refuses_a_post_without_the_csrf_token(world):
    routes = [r for r in found.page_routes() if r.method == "POST"]
    sign_in = found.Route("accounts:sign-in POST", "page", "POST", "/accounts/sign-in/", ())
    client = session_client(world.owner.user)
    accepted = [
        f"{route.key} → {response.status_code}"
        for route in [*routes, sign_in]
        if not is_csrf_refusal(response := post(client, route, world))
    ]
    print(json.dumps({"csrf": "pages", "routes": len(routes) + 1, "unprotected": len(accepted)}))
    assert accepted == []


def test_every_api_write_with_the_session_cookie_refuses_a_missing_csrf_token(world):
    writes = [r for r in found.api_routes() if r.method != "GET"]
    client = session_client(world.owner.user)
    accepted = [
        f"{route.key} → {response.status_code}"
        for route in writes
        if not is_csrf_refusal(response := post(client, route, world))
    ]
    print(json.dumps({"csrf": "api", "routes": len(writes), "unprotected": len(accepted)}))
    assert accepted == []


def test_the_same_requests_go_through_with_the_csrf_token(world):
    client = session_client(world.owner.user)
    page = client.get("/accounts/tokens/")
    token = page.context["csrf_token"]
    header = {"HTTP_X_CSRFTOKEN": str(token)}
    assert client.cookies[settings.CSRF_COOKIE_NAME].value
    created = client.post("/accounts/tokens/", {"name": "with token"}, **header)
    assert created.status_code == 200
    assert "with token" in created.content.decode()
    api = client.post(
        "/api/v1/tokens", json.dumps({"name": "api"}), content_type="application/json", **header
    )
    assert api.status_code == 201


def test_bearer_token_calls_need_no_csrf_token(world, api_token):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {api_token}")
    response = client.post(
        "/api/v1/tokens", json.dumps({"name": "script"}), content_type="application/json"
    )
    assert response.status_code == 201


@pytest.fixture
def api_token(world) -> str:
    from dashboard.accounts.services import api_token_create

    return api_token_create(user=world.owner.user, name="csrf test")[1]
