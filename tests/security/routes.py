"""Every route the site answers, found (not listed by hand): the page URLs from the URL
configuration and the API operations from the OpenAPI document of the NinjaAPI, each with the
names of its path parameters, so that a new route joins the access matrix on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from dashboard.api import api

API_PREFIX = "/api/v1/"
PAGE_METHODS = ("GET", "POST")  # a page's other verbs are not used by its forms or scripts

# Routes outside the matrix on purpose, each with its reason.
EXCLUDED_PAGES = {
    "admin/": "Django's admin: staff only, guarded by Django itself (is_staff), not by teams",
    "hooks/runpod/": "RunPod's webhook: authenticated by its per-generation token, not a session "
    "(forged and replayed webhooks are tested in tests/dashboard/generations/)",
    "accounts/sign-in/": "the sign-in page is public by design (throttled: test_sign_in_throttle)",
}
EXCLUDED_API = {
    "/api/v1/openapi.json": "the API's public description (no data)",
    "/api/v1/docs": "the API's public documentation page (no data)",
    "/api/v1/": "ninja's API root (no data)",
}
PUBLIC_OPERATIONS = {
    "POST /api/v1/auth/token": "trades a password for a token (throttled: test_sign_in_throttle)",
}

_DJANGO_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_OPENAPI_PARAM = re.compile(r"\{(?:\w+:)?(\w+)\}")


@dataclass(frozen=True)
class Route:
    key: str  # "generations:detail GET" or "GET /api/v1/generations/{generation_id}"
    kind: str  # "page" or "api"
    method: str
    template: str  # the path with {name} where each parameter goes
    params: tuple[str, ...]
    operation: dict | None = None  # the OpenAPI operation (API routes)

    def path(self, values: dict[str, object]) -> str:
        return _OPENAPI_PARAM.sub(lambda m: str(values[m.group(1)]), self.template)

    @property
    def name(self) -> str:
        """The key without the method for pages ("generations:detail"); the key for the API."""
        return self.key.rsplit(" ", 1)[0] if self.kind == "page" else self.key


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace, pattern.name


def url_patterns() -> list[tuple[str, str | None, str | None]]:
    """(route, namespace, name) of every URL pattern, the admin's and the API's included."""
    return list(_walk(get_resolver().url_patterns))


def _as_template(django_route: str) -> str:
    return "/" + _DJANGO_PARAM.sub(lambda m: "{" + m.group(1) + "}", django_route)


def page_routes() -> list[Route]:
    routes = []
    for route, namespace, name in url_patterns():
        if route.startswith(API_PREFIX.lstrip("/")):
            continue
        if any(route.startswith(prefix) for prefix in EXCLUDED_PAGES):
            continue
        if not name:
            raise AssertionError(f"page {route!r} has no URL name: name it so the matrix can")
        label = f"{namespace}:{name}" if namespace else name
        params = tuple(_DJANGO_PARAM.findall(route))
        for method in PAGE_METHODS:
            routes.append(Route(f"{label} {method}", "page", method, _as_template(route), params))
    return routes


def openapi_document() -> dict:
    return api.get_openapi_schema(path_prefix=API_PREFIX)


def api_routes() -> list[Route]:
    """Every operation of the OpenAPI document that needs authentication."""
    routes = []
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            key = f"{method.upper()} {path}"
            if key in PUBLIC_OPERATIONS:
                continue
            if not operation.get("security"):
                raise AssertionError(
                    f"{key} needs no authentication: list it in PUBLIC_OPERATIONS with a reason"
                )
            params = tuple(_OPENAPI_PARAM.findall(path))
            routes.append(Route(key, "api", method.upper(), path, params, operation))
    return routes


def api_patterns_missing_from_openapi() -> list[str]:
    """API URL patterns the OpenAPI document does not describe (so the matrix would miss them)."""
    documented = {_OPENAPI_PARAM.sub("{}", path) for path in openapi_document()["paths"]}
    missing = []
    for route, _, _ in url_patterns():
        if not route.startswith(API_PREFIX.lstrip("/")):
            continue
        template = _OPENAPI_PARAM.sub("{}", _as_template(route))
        if template not in documented and template not in EXCLUDED_API:
            missing.append(template)
    return missing
