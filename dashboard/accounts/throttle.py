"""Sign-in throttling with django-axes: after SIGN_IN_FAILURE_LIMIT failed sign-ins for one
username from one address, that pair is refused for SIGN_IN_COOLOFF_MINUTES (429), on the sign-in
page, the admin's sign-in and `POST /api/v1/auth/token` alike (all three call `authenticate` with
the request). Failures are kept in the database, so every web process counts the same ones.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


class SignInThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check, for sign-ins that come with a request.

    `authenticate()` without a request is not a sign-in from the web (the shell, management
    commands, the test client's `login()`), and axes would refuse it outright.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The address failures are counted against: with SIGN_IN_TRUSTED_PROXIES proxies in front,
    the one the outermost of ours saw (X-Forwarded-For entries further left are the client's
    to choose), else the peer address."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.SIGN_IN_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return hops[-proxies] if len(hops) >= proxies else remote


def _minutes(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """429 with a sentence a person can act on: the API's error shape, or the sign-in page."""
    message = (
        f"Too many failed sign-ins for this username from your address: try again in "
        f"{_minutes(request)} minutes."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": []}, status=429)
    username = request.POST.get("username", "")[:150]
    form = AuthenticationForm(request, initial={"username": username})
    return render(request, "accounts/sign_in.html", {"form": form, "lockout": message}, status=429)
