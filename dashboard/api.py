"""The REST API root at /api/v1: one NinjaAPI, one router per app, one error shape.

Every error answers `{"detail": "<sentence>", "errors": [{"field": ..., "message": ...}]}`;
`errors` names the fields for 422s and is empty otherwise.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import BaseModel

from dashboard.accounts.api import router as accounts_router
from dashboard.accounts.auth import session_auth, token_auth
from dashboard.accounts.invitation_api import router as invitations_router
from dashboard.catalogue.api import router as catalogue_router
from dashboard.errors import Conflict
from dashboard.fleet.api import router as fleet_router
from dashboard.fleet.runpod_client import RunPodError
from dashboard.fleet.team_api import router as team_router
from dashboard.generations.api import router as generations_router
from dashboard.generations.preset_api import router as presets_router

logger = logging.getLogger(__name__)


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


api = NinjaAPI(
    title="SwarmDeck API",
    version="1",
    description="Generate images on your team's RunPod endpoints and keep every result.",
    auth=[token_auth, session_auth],
    urls_namespace="api",
)


# --- input no database can store, refused (422, naming the field) before any service sees it ----
_LARGEST_INTEGER = 2**63 - 1  # a BIGINT (and SQLite's INTEGER)


def _unstorable(value: object, loc: tuple) -> Iterator[tuple[tuple, str]]:
    """(where, why) for each part of a validated argument that PostgreSQL cannot hold: NUL
    characters, lone surrogates (not UTF-8), integers beyond 64 bits."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _LARGEST_INTEGER:
            yield loc, "This number is too large."
    elif isinstance(value, str):
        if "\x00" in value:
            yield loc, "Text cannot contain NUL characters."
        elif not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                yield loc, "Text must be valid Unicode."
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _unstorable(getattr(value, name), (*loc, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unstorable(key, (*loc, str(key)))
            yield from _unstorable(item, (*loc, str(key)))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _unstorable(item, (*loc, index))


def refuse_unstorable_input(view: Callable) -> Callable:
    @functools.wraps(view)
    def checked(request: HttpRequest, *args, **kwargs):
        problems = [
            {"loc": loc, "msg": message, "type": "value_error"}
            for name, value in kwargs.items()
            # a schema's fields are named on their own ("offset", not "ninja_pagination.offset")
            for loc, message in _unstorable(value, () if isinstance(value, BaseModel) else (name,))
        ]
        if problems:
            raise NinjaValidationError(problems)
        return view(request, *args, **kwargs)

    return checked


api.add_decorator(refuse_unstorable_input)  # every operation, after ninja's own validation


def error_response(
    request: HttpRequest, status: int, detail: str, errors: list[dict] | None = None
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


# Where pydantic puts a parameter: ("body", "payload", "width") or ("query", "status").
_LOCATION_PARTS = {"body", "query", "path", "header", "cookie", "form", "file"}


def _is_union_branch(part: str) -> bool:
    # pydantic names the branch of a union that failed: ("cfg_scale", "int"), ("x", "list[str]")
    return "[" in part or part in ("int", "float", "str", "bool", "none", "dict", "list")


def _field_name(loc: list | tuple, schema_params: set[str]) -> str:
    parts = [str(part) for part in loc if not _is_union_branch(str(part))]
    if parts and parts[0] in _LOCATION_PARTS:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in schema_params:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict) -> str:
    if error.get("type") == "missing":
        return "This field is required."
    message = str(error.get("msg", "Invalid value."))
    return message.removeprefix("Value error, ")


@api.exception_handler(NinjaValidationError)
def on_invalid_input(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors, seen = [], set()
    for error in exc.errors:
        if "loc" in error:
            field, message = _field_name(error["loc"], {"payload", "filters"}), _message(error)
        else:  # ninja's own checks (e.g. a malformed cursor) say {"cursor": "Invalid Cursor"}
            field, message = next(iter(error.items()), ("body", "Invalid input."))
        if field not in seen:  # a union reports each branch; one message per field is enough
            seen.add(field)
            errors.append({"field": str(field), "message": str(message)})
    if not errors:
        errors = [{"field": "body", "message": "Invalid input."}]
    return error_response(request, 422, "The request has invalid fields.", errors)


@api.exception_handler(DjangoValidationError)
def on_service_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [{"field": "__all__", "message": message} for message in exc.messages]
    return error_response(request, 422, "The request has invalid fields.", errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, 401, "Authentication required: send 'Authorization: Bearer <token>'."
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, str(exc))


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, str(exc) or "You may not do that.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 404, "Not found.")


@api.exception_handler(ObjectDoesNotExist)
def on_missing_object(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
    return error_response(request, 404, "Not found.")


@api.exception_handler(Conflict)
def on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return error_response(request, 409, exc.detail)


@api.exception_handler(RunPodError)
def on_runpod_error(request: HttpRequest, exc: RunPodError) -> HttpResponse:
    logger.warning("RunPod call failed during %s %s: %s", request.method, request.path, exc)
    return error_response(request, 502, f"RunPod could not do it: {exc.message}")


api.add_router("/", accounts_router)
api.add_router("/", invitations_router)
api.add_router("/endpoints", fleet_router)
api.add_router("/team", team_router)
api.add_router("/", generations_router)
api.add_router("/", presets_router)
api.add_router("/", catalogue_router)
