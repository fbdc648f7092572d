"""Hostile and concurrent clients: after each, the emulator still serves (reference §1.1, §1.4)."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from tests.emulators.swarmui.helpers import (
    BAD_CONTENT_LENGTH,
    INTERNAL_ERROR,
    SwarmAPI,
    api_request,
    raw_http,
)

pytestmark = pytest.mark.usefixtures("emulator_survives")
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(start_api):
    """20 ms per step, so generations overlap and can be abandoned midway."""
    return start_api("--step-delay", "0.02")


def test_declared_length_over_the_200_mib_limit_is_refused_before_reading(api):
    request = api_request(
        "GetNewSession", headers={**JSON, "Content-Length": str(300 * 1024 * 1024)}, body=b"{}"
    )

    status, _, body = raw_http(api.base_url, request)

    assert (status, body) == (400, BAD_CONTENT_LENGTH)


def test_large_body_under_the_limit_is_accepted(api):
    response = api.post("GetNewSession", {"padding": "x" * (5 * 1024 * 1024)})

    assert response.status_code == 200
    assert "session_id" in response.json()


def test_binary_garbage_body_gets_400_internal_error(api):
    response = api.post("GetNewSession", data=b"\xff\xfe\x00" + os.urandom(256), headers=JSON)

    assert (response.status_code, response.text) == (400, INTERNAL_ERROR)


def test_client_hanging_up_before_the_body_is_complete(api):
    parts = urlsplit(api.base_url)
    request = api_request("GetNewSession", headers={**JSON, "Content-Length": "100"}, body=b'{"a"')
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1024)


def test_client_giving_up_on_a_slow_generation(api):
    with pytest.raises(requests.Timeout):
        api.post("GenerateText2Image", api.generation_request(steps=50), timeout=0.3)


@pytest.mark.parametrize(
    "first_message",
    [b"\x00\xff" + os.urandom(64), b"not json", b"[1, 2, 3]"],
    ids=["binary-garbage", "text-garbage", "array"],
)
def test_garbage_first_websocket_message_gets_an_error_then_close(api, first_message):
    with api.socket("GenerateText2ImageWS") as sock:
        sock.send_bytes(first_message)
        messages = sock.read_to_end()

    assert len(messages) == 1
    assert "error" in messages[0]
    assert sock.close_code == 1000


def test_websocket_closed_before_the_first_message(api):
    with api.socket("GenerateText2ImageWS"):
        pass


def test_concurrent_generations_from_two_sessions_both_finish(api):
    clients = [api, SwarmAPI(api.server)]
    assert clients[0].session_id != clients[1].session_id

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(client.generate_one, prompt=f"client {n}", steps=20)
            for n, client in enumerate(clients)
        ]
        images = [future.result(timeout=30) for future in futures]

    assert images[0] != images[1]
    assert all(api.output_file(image).is_file() for image in images)


def test_many_new_sessions_at_once_are_all_distinct(api):
    with ThreadPoolExecutor(max_workers=10) as pool:
        sessions = list(pool.map(lambda _: SwarmAPI(api.server).new_session(), range(30)))

    assert len({session["session_id"] for session in sessions}) == 30
