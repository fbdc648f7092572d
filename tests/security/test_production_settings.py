"""Production settings: `manage.py check --deploy` is clean with a production-like environment,
every security setting comes from the environment, and responses carry the security headers
and cookie flags those settings promise."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client

from tests.dashboard import factories
from tests.support.processes import REPO_ROOT

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "swarmdeck.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://swarmdeck.example.com",
    "SESSION_COOKIE_SECURE": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SIGN_IN_FAILURE_LIMIT": "7",
    "SIGN_IN_COOLOFF_MINUTES": "30",
    "SIGN_IN_TRUSTED_PROXIES": "1",
}
SETTINGS_DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: str(getattr(s, name, None)) for name in %r}))
"""


def run_django(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """A fresh Python with only `env` (plus PATH) for settings, the database a SQLite file."""
    base = {"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_django(
        tmp_path, PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_names_what_a_bare_environment_leaves_insecure(tmp_path):
    result = run_django(tmp_path, {"DEBUG": "false"}, "manage.py", "check", "--deploy")
    report = result.stdout + result.stderr
    for warning in ("W004", "W008", "W009", "W012", "W016"):  # HSTS, redirect, key, cookies
        assert f"security.{warning}" in report, report


@pytest.mark.slow
def test_every_security_setting_comes_from_the_environment(tmp_path):
    names = [
        "DEBUG",
        "ALLOWED_HOSTS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "SIGN_IN_TRUSTED_PROXIES",
    ]
    result = run_django(tmp_path, PRODUCTION, "-c", SETTINGS_DUMP % names)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "DEBUG": "False",
        "ALLOWED_HOSTS": "['swarmdeck.example.com']",
        "SESSION_COOKIE_SECURE": "True",
        "CSRF_COOKIE_SECURE": "True",
        "SECURE_SSL_REDIRECT": "True",
        "SECURE_PROXY_SSL_HEADER": "('HTTP_X_FORWARDED_PROTO', 'https')",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
        "SECURE_HSTS_PRELOAD": "True",
        "AXES_FAILURE_LIMIT": "7",
        "AXES_COOLOFF_TIME": "0:30:00",
        "SIGN_IN_TRUSTED_PROXIES": "1",
    }


@pytest.fixture
def production(settings):
    """This process's settings as the production environment above makes them."""
    settings.ALLOWED_HOSTS = ["swarmdeck.example.com"]
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    return Client(HTTP_HOST="swarmdeck.example.com")


def test_plain_http_is_redirected_to_https(production):
    response = production.get("/accounts/sign-in/")
    assert response.status_code == 301
    assert response["Location"] == "https://swarmdeck.example.com/accounts/sign-in/"


def test_https_through_the_proxy_carries_the_security_headers(production):
    response = production.get("/accounts/sign-in/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_secure_and_http_only(production, db):
    user = factories.make_user("ines")
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = production.get("/accounts/sign-in/", **https)
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"]
    assert csrf["httponly"]
    assert csrf["samesite"] == "Lax"
    signed_in = production.post(
        "/accounts/sign-in/",
        {"username": user.username, "password": factories.PASSWORD},
        **https,
    )
    assert signed_in.status_code == 302
    session = signed_in.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
