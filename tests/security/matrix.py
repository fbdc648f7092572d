"""The engine of the access matrix: request one route as one actor, inside a savepoint that is
rolled back (so a write that got through changes nothing for the next cell, and we can still
see what it changed), and judge the answer against the route's access level.

Levels (what a route needs from a signed-in user of team A):
  read   — any member, viewers included;   write — members and up (not viewers);
  admin  — the team's owners and admins;   self  — any signed-in user, on their own account;
  owners — the object named belongs to team A's owner personally (their API token);
  invitee — the object is an invitation addressed to someone who is none of the actors
           (404 for everyone: only its invitee may answer it);
  none   — the method is not served (405 for everyone signed in).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.test import Client

from dashboard.accounts.models import Team
from tests.security.routes import Route
from tests.security.world import World

LEVELS = {"read", "write", "admin", "self", "owners", "invitee", "none"}
ALLOWED = {
    "viewer": {"read", "self"},
    "member": {"read", "write", "self"},
    "owner": {"read", "write", "admin", "self", "owners"},
}
SIGNED_OUT = ("anonymous", "revoked token", "expired token")
OUR_APPS = ("accounts", "fleet", "generations", "catalogue")
# Fields that change on a mere read and say nothing about a write.
VOLATILE_FIELDS = {"last_used_at"}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the exception a view raised, if any
    changed: list[str] = field(default_factory=list)  # team A's tables the request changed


@dataclass
class Finding:
    kind: str  # "leak" (data or a write crossed a boundary), "secret", or "wrong"
    actor: str
    route: str
    status: int
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.actor:14} {self.route} → {self.status}: {self.detail}"


@dataclass
class Request:
    """What to send besides the path: a query string, a form or JSON body, and whether that body
    names team A's objects (so an outsider must be refused even without path parameters)."""

    query: dict = field(default_factory=dict)
    body: dict | None = None
    names_team_a: bool = False


# --- who asks ----------------------------------------------------------------------------------
class Actor:
    """One kind of requester: a browser session for pages, a Bearer token for the API."""

    def __init__(self, name: str, *, user=None, token: str = "", headers: dict | None = None):
        self.name = name
        self.user = user
        self.token = token
        self.headers = headers or {}
        self.session_key = ""
        if user is not None:
            login = Client()
            login.force_login(user)
            self.session_key = login.cookies[settings.SESSION_COOKIE_NAME].value

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    def client(self, route: Route) -> Client:
        # A fresh client per request: a request that signs out or rotates the session must not
        # leave the next request without one (the session row comes back with the rollback).
        if route.kind == "api":
            bearer = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
            return Client(**bearer, **self.headers)
        client = Client(**self.headers)
        if self.session_key:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.session_key
        return client


def actors(world: World) -> dict[str, Actor]:
    from dashboard.accounts.services import api_token_create

    def with_token(name: str, membership, **headers) -> Actor:
        _, plain = api_token_create(user=membership.user, name=f"matrix {name}")
        return Actor(name, user=membership.user, token=plain, headers=headers)

    return {
        "anonymous": Actor("anonymous"),
        "revoked token": Actor("revoked token", token=world.tokens["revoked"]),
        "expired token": Actor("expired token", token=world.tokens["expired"]),
        "viewer": with_token("viewer", world.viewer),
        "member": with_token("member", world.member),
        "outsider": with_token("outsider", world.outsider),
        # asking to act as team A (the header that picks the team): no way in either
        "outsider as A": with_token("outsider as A", world.outsider, HTTP_X_TEAM=world.team.slug),
        "owner": with_token("owner", world.owner),
    }


# --- what team A has -----------------------------------------------------------------------------
def _paths_to(model, target, depth: int = 3, prefix: str = "") -> list[str]:
    """Lookup paths from `model` to `target` along foreign keys (`endpoint__team`, …)."""
    if depth == 0:
        return []
    found = []
    for model_field in model._meta.get_fields():
        if not (model_field.many_to_one or model_field.one_to_one) or not model_field.concrete:
            continue
        related = model_field.related_model
        path = f"{prefix}{model_field.name}"
        if related is target:
            found.append(path)
        elif related._meta.app_label in OUR_APPS:
            found += _paths_to(related, target, depth - 1, f"{path}__")
    return found


class TeamRows:
    """Every row of our apps that belongs to team A, reaches it by foreign keys, or belongs to
    one of its people: compared before and after a request that should have changed nothing."""

    def __init__(self, world: World):
        self.world = world
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
        people = [m.user_id for m in (world.owner, world.member, world.viewer, world.target)]
        self.querysets: dict[str, models.QuerySet] = {}
        for label in OUR_APPS:
            for model in apps.get_app_config(label).get_models(include_auto_created=True):
                links = [Q(**{path: world.team}) for path in _paths_to(model, Team)]
                links += [Q(**{f"{path}__in": people}) for path in _paths_to(model, user_model)]
                if model is Team:
                    links.append(Q(pk=world.team.pk))
                if links:  # a table that names neither a team nor a person holds nothing of A's
                    condition = links[0]
                    for link in links[1:]:
                        condition |= link
                    self.querysets[model._meta.label] = model.objects.filter(condition)
        self.querysets["auth.User"] = user_model.objects.filter(pk__in=people)
        # Every request is rolled back, so this is team A's state before each of them.
        self.baseline = self.snapshot()

    def snapshot(self) -> dict[str, list]:
        rows = {}
        for label, queryset in self.querysets.items():
            values = queryset.order_by("pk").values()
            rows[label] = [
                {k: v for k, v in row.items() if k not in VOLATILE_FIELDS} for row in values
            ]
        return rows

    def changed(self) -> list[str]:
        after = self.snapshot()
        return [label for label in self.baseline if self.baseline[label] != after[label]]


class WriteRecorder:
    """Notes whether a request sent any SQL that writes (sessions aside): only then is team A's
    state compared, which keeps the matrix fast."""

    _WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)

    def __init__(self):
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if self._WRITE.match(sql) and "django_session" not in sql:
            self.wrote = True
        return execute(sql, params, many, context)


# --- one request ------------------------------------------------------------------------------
class _Rollback(Exception):
    pass


def _read(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def send(
    actor: Actor,
    route: Route,
    values: dict,
    request: Request,
    rows: TeamRows,
) -> Answer:
    """Request the route as the actor and say which of team A's tables it changed; nothing it
    writes survives it."""
    path = route.path(values)
    answer = Answer(status=0)
    recorder = WriteRecorder()
    try:
        with transaction.atomic():
            try:
                with connection.execute_wrapper(recorder):
                    response = _dispatch(actor.client(route), route, path, request)
            except Exception as exc:  # the matrix reports every route, not just the first
                answer.error = f"{type(exc).__name__}: {exc}"
                answer.status = 500
            else:
                answer.status = response.status_code
                answer.body = _read(response)
                answer.headers = {k: v for k, v in response.items()}
            if recorder.wrote:
                answer.changed = rows.changed()
            raise _Rollback
    except _Rollback:
        pass
    rows.world.restore_files()  # a delete that got through removed files, not only rows
    return answer


def _dispatch(client: Client, route: Route, path: str, request: Request):
    if route.kind == "page":
        if route.method == "GET":
            return client.get(path, request.query)
        return client.post(path, request.body or {})
    if route.method == "GET":
        return client.get(path, request.query)
    body = json.dumps(request.body if request.body is not None else {})
    query = "?" + "&".join(f"{k}={v}" for k, v in request.query.items()) if request.query else ""
    return client.generic(route.method, path + query, body, content_type="application/json")


# --- judging ----------------------------------------------------------------------------------
def digests_of(world: World) -> set[str]:
    """sha256 of every file of team A a response could carry (images and thumbnails)."""
    found = set()
    for image in world.images:
        for stored in (image.file, image.thumbnail):
            if stored:
                with stored.storage.open(stored.name, "rb") as handle:
                    found.add(hashlib.sha256(handle.read()).hexdigest())
    return found


def carried_data(answer: Answer, canaries: list[str], digests: set[str]) -> str:
    """What of team A the answer carries (empty when nothing): a canary string in its body or
    headers, a stored file whole, or a zip member that is one."""
    text = answer.body
    headers = " ".join(v for k, v in answer.headers.items() if k.lower() != "location")
    for canary in canaries:
        if canary.encode() in text or canary in headers:
            return f"carries {canary!r}"
    if answer.body and hashlib.sha256(answer.body).hexdigest() in digests:
        return "carries one of team A's files"
    if answer.body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(answer.body)) as archive:
            for member in archive.namelist():
                if hashlib.sha256(archive.read(member)).hexdigest() in digests:
                    return f"zip member {member!r} is one of team A's files"
    return ""


def carried_secret(answer: Answer, secrets: list[str]) -> str:
    blob = answer.body + json.dumps(answer.headers).encode()
    for secret in secrets:
        if secret.encode() in blob:
            return f"renders the secret {secret[:6]}…"
    return ""


def _is_sign_in_redirect(answer: Answer) -> bool:
    login = settings.LOGIN_URL if settings.LOGIN_URL.startswith("/") else "/accounts/sign-in/"
    return answer.status == 302 and answer.headers.get("Location", "").startswith(login)


def judge(
    actor: Actor,
    route: Route,
    level: str,
    request: Request,
    answer: Answer,
    world: World,
    digests: set[str],
    signed_out_401: set[str],
) -> list[Finding]:
    """Every way this answer breaks the rules (an empty list when it keeps them)."""

    def finding(kind: str, detail: str) -> Finding:
        return Finding(kind, actor.name, route.key, answer.status, detail)

    found = []
    if secret := carried_secret(answer, world.secrets.values()):
        found.append(finding("secret", secret))
    if answer.error:
        return [*found, finding("wrong", f"the view raised {answer.error}")]
    status = answer.status
    # RunPod is unreachable for every endpoint in these tests: 502 says the view tried it.
    server_error = status >= 500 and status != 502

    if actor.name in SIGNED_OUT:
        if route.kind == "api":
            expected = status == 401
        else:  # 405 is the same for every path: it tells nothing
            expected = status == 405 or (
                status == 401 if route.name in signed_out_401 else _is_sign_in_redirect(answer)
            )
        if data := carried_data(answer, world.canaries, digests):
            found.append(finding("leak", data))
        elif answer.changed:
            found.append(finding("leak", f"changed {answer.changed}"))
        elif not expected:
            kind = "leak" if status < 300 else "wrong"
            found.append(finding(kind, "expected the sign-in redirect (pages) or 401 (API)"))
        return found

    if actor.name.startswith("outsider"):
        if data := carried_data(answer, world.canaries, digests):
            return [*found, finding("leak", data)]
        if answer.changed:
            return [*found, finding("leak", f"changed team A's {answer.changed}")]
        if route.params:
            if status == 403:
                found.append(finding("leak", "403 confirms that team A's object exists"))
            elif status < 400:
                found.append(finding("leak", "served team A's object to another team"))
            elif status != 404 and not (level == "none" and status == 405):
                found.append(finding("wrong", "expected 404 for another team's object"))
        elif request.names_team_a and route.kind == "api" and status not in (400, 404, 422):
            # (a page may answer 200 with the form's error: no data and no change, checked above)
            found.append(finding("wrong", "expected 400/404/422: the body names team A's objects"))
        elif server_error:
            found.append(finding("wrong", "server error"))
        return found

    # A signed-in user of team A: viewer, member or owner.
    if level == "none":
        if status != 405:
            found.append(finding("wrong", "expected 405 for a method the route does not serve"))
        return found
    if level in ALLOWED[actor.name]:
        if status in (401, 403, 404) or server_error:
            found.append(finding("wrong", f"a {actor.name} may use this route ({level})"))
        return found
    if answer.changed:
        found.append(finding("leak", f"a refused {actor.name} changed {answer.changed}"))
    elif level in ("owners", "invitee") and status != 404:
        found.append(finding("wrong", "expected 404 for another user's object"))
    elif status not in (403, 404):
        found.append(finding("wrong", f"expected 403/404: a {actor.name} may not ({level})"))
    return found


def run_matrix(
    world: World,
    routes: list[Route],
    levels: Callable[[Route], str],
    values: dict,
    requests: Callable[[Route], Request],
    actor_names: list[str],
    signed_out_401: set[str],
) -> tuple[int, list[Finding]]:
    """Request every route as every actor named; (cells requested, findings)."""
    everyone = actors(world)
    rows = TeamRows(world)
    digests = digests_of(world)
    cells, findings = 0, []
    for name in actor_names:
        actor = everyone[name]
        for route in routes:
            level = levels(route)
            request = requests(route)
            answer = send(actor, route, values, request, rows)
            cells += 1
            findings += judge(actor, route, level, request, answer, world, digests, signed_out_401)
    return cells, findings
