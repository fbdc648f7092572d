"""Request transport, parameter binding and framework errors (reference §1.1-§1.4, §9: 1, 2, 7).

Framework error bodies are compared byte for byte: they are compact JSON with a fixed key order.
After every test the emulator must still serve a good request.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.emulators.swarmui.helpers import (
    BAD_CONTENT_LENGTH,
    BAD_ROUTE,
    INTERNAL_ERROR,
    INVALID_SESSION,
    MISSING_SESSION,
    NEEDS_HTTP,
    NEEDS_WEBSOCKET,
    WRONG_CONTENT_TYPE,
    api_request,
    chunked,
    raw_http,
)

UNKNOWN_SESSION = "0" * 40
LIST_ROOT = {"path": "", "depth": 1}
pytestmark = pytest.mark.usefixtures("emulator_survives")


@pytest.mark.parametrize(
    "route", ["GetNewSession", "getnewsession", "GETNEWSESSION", "gEtNeWsEsSiOn"]
)
def test_route_names_are_looked_up_case_insensitively(api, route):
    response = api.post(route, {})

    assert response.status_code == 200
    assert "session_id" in response.json()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_non_post_request_is_redirected_to_error_no_get_api(api, method):
    response = api.http.request(
        method, f"{api.base_url}/API/GetNewSession", allow_redirects=False, timeout=10
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/Error/NoGetAPI"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/json"]
)
def test_wrong_content_type_gets_400_wrong_content_type(api, content_type):
    response = api.post("GetNewSession", data=b"{}", headers={"Content-Type": content_type})

    assert (response.status_code, response.text) == (400, WRONG_CONTENT_TYPE)


def test_request_without_content_type_gets_400_wrong_content_type(api):
    status, _, body = raw_http(
        api.base_url, api_request("GetNewSession", headers={"Content-Length": "2"}, body=b"{}")
    )

    assert (status, body) == (400, WRONG_CONTENT_TYPE)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/vnd.swarm+json"],
)
def test_json_content_types_are_accepted(api, content_type):
    response = api.post("GetNewSession", data=b"{}", headers={"Content-Type": content_type})

    assert response.status_code == 200
    assert "session_id" in response.json()


def test_content_type_is_checked_before_content_length(api):
    status, _, body = raw_http(
        api.base_url,
        api_request("GetNewSession", headers={"Content-Type": "text/plain", "Content-Length": "0"}),
    )

    assert (status, body) == (400, WRONG_CONTENT_TYPE)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Content-Length": "0"}, id="zero-length"),
        pytest.param({}, id="no-content-length-no-body"),
    ],
)
def test_empty_body_gets_400_bad_content_length(api, headers):
    request = api_request("GetNewSession", headers={"Content-Type": "application/json", **headers})

    status, _, body = raw_http(api.base_url, request)

    assert (status, body) == (400, BAD_CONTENT_LENGTH)


def test_chunked_body_gets_400_bad_content_length(api):
    request = api_request(
        "GetNewSession",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        body=chunked(b"{}"),
    )

    status, _, body = raw_http(api.base_url, request)

    assert (status, body) == (400, BAD_CONTENT_LENGTH)


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"a string"', b"42", b"null", b"not json at all", b'{"unterminated": '],
    ids=["array", "string", "number", "null", "garbage", "truncated"],
)
def test_body_that_is_not_a_json_object_gets_400_internal_error(api, body):
    response = api.post("GetNewSession", data=body, headers={"Content-Type": "application/json"})

    assert (response.status_code, response.text) == (400, INTERNAL_ERROR)


def test_missing_session_gets_400_missing_session_id(api):
    response = api.post("ListModels", LIST_ROOT)

    assert (response.status_code, response.text) == (400, MISSING_SESSION)


@pytest.mark.parametrize(
    "route",
    [
        pytest.param("ListModels", id="known-route"),
        pytest.param("NoSuchRoute", id="unknown-route-session-checked-first"),
        pytest.param("GenerateText2ImageWS", id="websocket-route-session-checked-first"),
    ],
)
def test_unknown_session_gets_401_invalid_session_id(api, route):
    response = api.post(route, {"session_id": UNKNOWN_SESSION, **LIST_ROOT})

    assert (response.status_code, response.text) == (401, INVALID_SESSION)


def test_session_id_in_x_session_id_header_is_accepted(api):
    response = api.post("ListModels", LIST_ROOT, headers={"X-Session-ID": api.session_id})

    assert response.status_code == 200
    assert "files" in response.json()


def test_unknown_route_with_a_valid_session_gets_400_bad_route(api):
    response = api.post("NoSuchRoute", {"session_id": api.session_id})

    assert (response.status_code, response.text) == (400, BAD_ROUTE)


@pytest.mark.parametrize("route", ["GenerateText2ImageWS", "DoModelDownloadWS"])
def test_plain_post_to_a_websocket_route_gets_400_bad_request_method(api, route):
    response = api.post(route, {"session_id": api.session_id, "images": 1})

    assert (response.status_code, response.text) == (400, NEEDS_WEBSOCKET)


@pytest.mark.parametrize("route", ["ListModels", "GetCurrentStatus", "GenerateText2Image"])
def test_websocket_to_an_http_route_gets_one_error_message_then_close_1000(api, route):
    with api.socket(route) as sock:
        sock.send({"session_id": api.session_id, **LIST_ROOT, "images": 1})
        messages = sock.read_to_end()

    assert messages == [NEEDS_HTTP]
    assert sock.close_code == 1000


@pytest.mark.parametrize(
    ("body", "missing"),
    [({"depth": 1}, "path"), ({"path": ""}, "depth"), ({"Path": "", "Depth": 1}, "path")],
    ids=["path", "depth", "keys-are-case-sensitive"],
)
def test_missing_required_parameter_is_an_http_200_error(api, body, missing):
    response = api.post("ListModels", {"session_id": api.session_id, **body})

    assert response.status_code == 200
    assert response.json() == {"error": f"Missing required parameter '{missing}'"}


@pytest.mark.parametrize(
    ("name", "value", "shown", "type_name"),
    [
        ("depth", "abc", "abc", "Int32"),
        ("depth", 1.5, "1.5", "Int32"),
        ("sortReverse", 1, "1", "Boolean"),
        ("sortReverse", "yes", "yes", "Boolean"),
    ],
)
def test_uncoercible_parameter_is_an_http_200_invalid_value(api, name, value, shown, type_name):
    response = api.post("ListModels", {"session_id": api.session_id, **LIST_ROOT, name: value})

    assert response.status_code == 200
    assert response.json() == {
        "error": f"Invalid value '{shown}' for parameter '{name}', must be type '{type_name}'"
    }


def test_numeric_and_boolean_strings_are_coerced(api):
    answer = api.call("ListModels", path="", depth="2", sortReverse="TRUE")

    assert "error" not in answer
    assert "files" in answer


def test_query_parameters_are_not_read(api):
    response = api.post(
        "ListModels?path=&depth=1", {"session_id": api.session_id}, params={"session_id": "x"}
    )

    assert response.status_code == 200
    assert response.json() == {"error": "Missing required parameter 'path'"}


def test_extra_keys_are_ignored(api):
    answer = api.call("ListModels", **LIST_ROOT, noSuchParameter=[1, 2, 3])

    assert "files" in answer


def test_success_is_compact_json_that_must_not_be_cached(api):
    response = api.post("GetNewSession", {})

    assert response.headers["Content-Type"].startswith("application/json")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.text == json.dumps(response.json(), separators=(",", ":"))
