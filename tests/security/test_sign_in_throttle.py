"""Sign-in throttling (django-axes): SIGN_IN_FAILURE_LIMIT failures for one username from one
address lock that pair out for the cool-off, on the sign-in page, the admin's and the API's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from dashboard.accounts.models import ApiToken
from dashboard.accounts.throttle import client_ip
from tests.dashboard import factories
from tests.dashboard.factories import PASSWORD

LIMIT = 3


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def user(db):
    return factories.make_user("rita")


def sign_in(password: str, *, username: str = "rita", address: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/sign-in/", {"username": username, "password": password}
    )


def token_request(password: str, *, username: str = "rita", address: str = "198.51.100.7"):
    body = json.dumps({"username": username, "password": password})
    return Client(REMOTE_ADDR=address).post(
        "/api/v1/auth/token", body, content_type="application/json"
    )


def test_sign_in_page_locks_a_username_and_address_out_after_the_limit(user):
    assert [sign_in("wrong").status_code for _ in range(LIMIT - 1)] == [200] * (LIMIT - 1)
    locked = sign_in("wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "try again in 15 minutes" in locked.content.decode()
    # the right password does not get in while locked out
    assert sign_in(PASSWORD).status_code == 429


def test_lockout_is_per_username_and_address(user):
    factories.make_user("sam")
    for _ in range(LIMIT):
        sign_in("wrong")
    assert sign_in(PASSWORD, address="203.0.113.9").status_code == 302  # rita elsewhere
    assert sign_in(PASSWORD, username="sam").status_code == 302  # someone else, same address


def test_lockout_ends_after_the_cool_off(user):
    for _ in range(LIMIT):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 429
    # the cool-off has passed (moved back rather than waited for)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in(PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_earlier_failures(user):
    for _ in range(LIMIT - 1):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 302
    assert [sign_in("wrong").status_code for _ in range(LIMIT - 1)] == [200] * (LIMIT - 1)


def test_api_token_endpoint_is_throttled_with_the_api_error_shape(user):
    assert [token_request("wrong").status_code for _ in range(LIMIT - 1)] == [401] * (LIMIT - 1)
    locked = token_request("wrong")
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("Too many failed sign-ins")
    assert locked.json()["errors"] == []
    refused = token_request(PASSWORD)
    assert refused.status_code == 429
    assert ApiToken.objects.filter(user=user).count() == 0  # no token handed out while locked


def test_admin_sign_in_is_throttled_too(db):
    factories.make_user("root", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    assert (
        client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 429
    )


def test_client_address_behind_trusted_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5, 10.0.0.2"
    )
    settings.SIGN_IN_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"  # no proxy of ours: the header is the client's own
    settings.SIGN_IN_TRUSTED_PROXIES = 1
    assert client_ip(request) == "10.0.0.2"
    settings.SIGN_IN_TRUSTED_PROXIES = 2
    assert client_ip(request) == "203.0.113.5"  # "1.1.1.1" was made up by the client
