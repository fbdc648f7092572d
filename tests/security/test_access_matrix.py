"""The access matrix: every page and API route (found from the URL configuration and the OpenAPI
document, see routes.py), requested by anonymous, a revoked and an expired token, a viewer, a
member and team A's owner, and an admin of another team, with real ids of team A's objects.

Anonymous and dead tokens: sign-in redirect (pages) or 401 (API). Another team's admin: 404 for
anything naming team A's objects, never data. Viewers: 403/404 on writes; members: 403/404 on
admin routes. Nothing a refused request sends changes a row of team A (checked before/after).
A route whose parameter or access level is not declared below fails the test: new routes must
join the matrix.
"""

from __future__ import annotations

import json

import pytest

from tests.security import routes as found
from tests.security.matrix import LEVELS, Request, run_matrix
from tests.security.world import World

# Which of team A's objects each path parameter names.
PARAMS = {
    "generation_id": lambda w: w.generation.pk,
    "image_id": lambda w: w.image.pk,
    "membership_id": lambda w: w.target.pk,
    "token_id": lambda w: w.owner_token.pk,
    "endpoint_pk": lambda w: w.endpoint.pk,
    "schedule_pk": lambda w: w.schedule.pk,
    "alert_pk": lambda w: w.alert.pk,
    "alert_id": lambda w: w.alert.pk,
    "model_id": lambda w: w.model_file.pk,
    "run_id": lambda w: w.sync_run.pk,
    "action_id": lambda w: w.model_action.pk,
    "name": lambda w: w.tag.name,
    "preset_id": lambda w: w.preset.pk,
    "invitation_id": lambda w: w.invitation.pk,
}

# Access level of every page (per method when they differ); see matrix.py for the levels.
READ, WRITE, ADMIN, SELF, OWNERS, NONE = "read", "write", "admin", "self", "owners", "none"
INVITEE = "invitee"
GET_ONLY = {"GET": READ, "POST": NONE}
POST_WRITE = {"GET": NONE, "POST": WRITE}
POST_ADMIN = {"GET": NONE, "POST": ADMIN}
PAGES = {
    "generations:generate": {"GET": READ, "POST": WRITE},
    "generations:history": GET_ONLY,
    "generations:history-more": GET_ONLY,
    "generations:density": {"GET": NONE, "POST": SELF},
    "generations:selection": POST_WRITE,
    "generations:selection-zip": {"GET": NONE, "POST": READ},
    "generations:tag-options": GET_ONLY,
    "generations:compare": GET_ONLY,
    "generations:my-activity": {"GET": SELF, "POST": NONE},
    "generations:cancel-mine": POST_WRITE,  # only the caller's own generations
    "generations:detail": READ,
    "generations:progress": READ,
    "generations:cancel": POST_WRITE,
    "generations:retry": POST_WRITE,
    "generations:rerun": POST_WRITE,
    "generations:star": POST_WRITE,
    "generations:tag-add": POST_WRITE,
    "generations:tag-remove": POST_WRITE,
    # GET is the confirmation page (it shows what would go); the POST is the write.
    "generations:delete": {"GET": READ, "POST": WRITE},
    "generations:image": READ,
    "generations:thumbnail": READ,
    "generations:image-panel": GET_ONLY,
    "generations:presets": GET_ONLY,
    "generations:preset-create": WRITE,  # GET is the empty form: members and up save presets
    "generations:preset-save": POST_WRITE,
    # its creator (the member) or an owner/admin; GET is the form or the confirmation
    "generations:preset-edit": WRITE,
    "generations:preset-delete": WRITE,
    "accounts:sign-out": {"GET": NONE, "POST": SELF},
    "accounts:switch-team": {"GET": NONE, "POST": SELF},
    "accounts:create-team": SELF,
    "accounts:leave-team": SELF,
    "accounts:tokens": SELF,
    "accounts:members": {"GET": READ, "POST": ADMIN},
    "accounts:member-role": POST_ADMIN,
    "accounts:member-remove": ADMIN,
    "accounts:revoke-token": {"GET": NONE, "POST": OWNERS},
    "accounts:invitations": {"GET": SELF, "POST": NONE},
    "accounts:invitation-accept": {"GET": NONE, "POST": INVITEE},
    "accounts:invitation-decline": {"GET": NONE, "POST": INVITEE},
    "accounts:invitation-revoke": POST_ADMIN,
    "fleet:list": READ,
    "fleet:create": ADMIN,
    "fleet:edit": ADMIN,
    "fleet:test": POST_ADMIN,
    "fleet:refresh-models": POST_ADMIN,
    "fleet:warm-pool": READ,
    "fleet:warm-state": READ,
    "fleet:warm-schedule-create": ADMIN,
    "fleet:warm-schedule-edit": ADMIN,
    "fleet:warm-schedule-delete": POST_ADMIN,
    "fleet:warm-keep": POST_ADMIN,
    "fleet:warm-cool-down": POST_ADMIN,
    "fleet:warm-up": POST_ADMIN,
    "fleet:health": READ,
    "fleet:health-record": POST_ADMIN,
    "fleet:alert-restore": POST_ADMIN,
    "fleet:alert-dismiss": POST_ADMIN,
    "fleet:usage": READ,
    "fleet:usage-csv": READ,
    "fleet:budget": {"GET": READ, "POST": ADMIN},
    "fleet:budget-member": POST_ADMIN,
    "fleet:cost-estimate": READ,
    "catalogue:list": READ,
    "catalogue:detail": READ,
    "catalogue:preview": READ,
    "catalogue:sync": POST_ADMIN,
    "catalogue:sync-run": READ,
    "catalogue:download": ADMIN,
    "catalogue:action": ADMIN,
    "catalogue:action-progress": ADMIN,
    "catalogue:action-cancel": POST_ADMIN,
    "catalogue:model-edit": ADMIN,
    "catalogue:model-rename": ADMIN,
    "catalogue:model-delete": ADMIN,
    "catalogue:provider-tokens": ADMIN,
    "catalogue:audit-log": ADMIN,
}
# Pages fetched by the page's own script: a signed-out request gets 401 JSON, not a redirect.
SIGNED_OUT_401 = {"generations:my-activity"}

API = {
    "GET /api/v1/me": SELF,
    "GET /api/v1/tokens": SELF,
    "POST /api/v1/tokens": SELF,
    "DELETE /api/v1/tokens/{token_id}": OWNERS,
    "POST /api/v1/teams": SELF,
    "POST /api/v1/team/leave": SELF,
    "GET /api/v1/team/members": READ,
    "PATCH /api/v1/team/members/{membership_id}": ADMIN,
    "DELETE /api/v1/team/members/{membership_id}": ADMIN,
    "GET /api/v1/team/invitations": ADMIN,
    "POST /api/v1/team/invitations": ADMIN,
    "DELETE /api/v1/team/invitations/{invitation_id}": ADMIN,
    "GET /api/v1/invitations": SELF,
    "POST /api/v1/invitations/{invitation_id}/accept": INVITEE,
    "POST /api/v1/invitations/{invitation_id}/decline": INVITEE,
    "GET /api/v1/endpoints": READ,
    "POST /api/v1/endpoints": ADMIN,
    "PATCH /api/v1/endpoints/{endpoint_pk}": ADMIN,
    "POST /api/v1/endpoints/{endpoint_pk}/test": ADMIN,
    "POST /api/v1/endpoints/{endpoint_pk}/refresh-models": ADMIN,
    "GET /api/v1/endpoints/{endpoint_pk}/warm-pool": READ,
    "GET /api/v1/endpoints/{endpoint_pk}/warm-schedules": READ,
    "POST /api/v1/endpoints/{endpoint_pk}/warm-schedules": ADMIN,
    "PATCH /api/v1/endpoints/{endpoint_pk}/warm-schedules/{schedule_pk}": ADMIN,
    "DELETE /api/v1/endpoints/{endpoint_pk}/warm-schedules/{schedule_pk}": ADMIN,
    "POST /api/v1/endpoints/{endpoint_pk}/warm-pool/keep-warm": ADMIN,
    "POST /api/v1/endpoints/{endpoint_pk}/warm-pool/cool-down": ADMIN,
    "POST /api/v1/endpoints/{endpoint_pk}/warm-pool/warm-up": ADMIN,
    "GET /api/v1/endpoints/{endpoint_pk}/warm-pool/warmups": READ,
    "GET /api/v1/endpoints/{endpoint_pk}/health": READ,
    "POST /api/v1/endpoints/{endpoint_pk}/health": ADMIN,
    "GET /api/v1/endpoints/{endpoint_pk}/alerts": READ,
    "GET /api/v1/team/alerts": READ,
    "POST /api/v1/team/alerts/{alert_id}/restore": ADMIN,
    "POST /api/v1/team/alerts/{alert_id}/dismiss": ADMIN,
    "GET /api/v1/team/usage": READ,
    "GET /api/v1/team/usage/csv": READ,
    "GET /api/v1/team/cold-starts": READ,
    "GET /api/v1/team/budget": READ,
    "PATCH /api/v1/team/budget": ADMIN,
    "PATCH /api/v1/team/budget/members/{membership_id}": ADMIN,
    "GET /api/v1/team/cost-estimate": READ,
    "POST /api/v1/generations": WRITE,
    "GET /api/v1/generations": READ,
    "POST /api/v1/generations/bulk": WRITE,
    "POST /api/v1/generations/cancel-mine": WRITE,
    "GET /api/v1/generations/{generation_id}": READ,
    "DELETE /api/v1/generations/{generation_id}": WRITE,
    "POST /api/v1/generations/{generation_id}/cancel": WRITE,
    "POST /api/v1/generations/{generation_id}/retry": WRITE,
    "POST /api/v1/generations/{generation_id}/star": WRITE,
    "DELETE /api/v1/generations/{generation_id}/star": WRITE,
    "POST /api/v1/generations/{generation_id}/tags": WRITE,
    "DELETE /api/v1/generations/{generation_id}/tags/{name}": WRITE,
    "GET /api/v1/tags": READ,
    "GET /api/v1/presets": READ,
    "POST /api/v1/presets": WRITE,
    "GET /api/v1/presets/{preset_id}": READ,
    "PATCH /api/v1/presets/{preset_id}": WRITE,
    "DELETE /api/v1/presets/{preset_id}": WRITE,
    "POST /api/v1/images/zip": READ,
    "GET /api/v1/images/{image_id}": READ,
    "GET /api/v1/images/{image_id}/file": READ,
    "GET /api/v1/images/{image_id}/thumbnail": READ,
    "GET /api/v1/models": READ,
    "GET /api/v1/models/{model_id}": READ,
    "DELETE /api/v1/models/{model_id}": ADMIN,
    "GET /api/v1/models/{model_id}/preview": READ,
    "GET /api/v1/volume/usage": READ,
    "POST /api/v1/catalogue/sync": ADMIN,
    "GET /api/v1/catalogue/sync-runs": READ,
    "GET /api/v1/catalogue/sync-runs/{run_id}": READ,
    "POST /api/v1/models/downloads": ADMIN,
    "GET /api/v1/models/actions/{action_id}": ADMIN,
    "POST /api/v1/models/actions/{action_id}/cancel": ADMIN,
    "PATCH /api/v1/models/{model_id}/metadata": ADMIN,
    "POST /api/v1/models/{model_id}/rename": ADMIN,
    "GET /api/v1/audit-log": ADMIN,
}


def requests_for(world: World):
    """What each route is sent: a minimal valid body (so the view, not the schema, answers),
    and team A's ids wherever a query or body names an object."""
    a = world
    endpoint = {"endpoint": a.endpoint.pk}
    specific = {
        # pages
        "generations:generate POST": Request(body={"prompt": "x", **endpoint}, names_team_a=True),
        "generations:selection POST": Request(
            body={"action": "star", "generation": [a.generation.pk]}, names_team_a=True
        ),
        "generations:selection-zip POST": Request(body={"image": [a.image.pk]}, names_team_a=True),
        "generations:compare GET": Request(
            query={"a": a.images[0].pk, "b": a.images[1].pk}, names_team_a=True
        ),
        "generations:tag-add POST": Request(body={"name": "new-tag"}),
        "generations:tag-remove POST": Request(body={"name": a.tag.name}),
        "generations:delete POST": Request(body={"confirm": "1"}),
        "generations:preset-create POST": Request(body={"name": "matrix", "prompt": "x"}),
        "generations:preset-save POST": Request(
            body={"name": "matrix", "prompt": "x", **endpoint}, names_team_a=True
        ),
        "generations:preset-edit POST": Request(body={"name": "renamed", "steps": 30}),
        "accounts:switch-team POST": Request(body={"team": a.team.slug}, names_team_a=True),
        "accounts:members POST": Request(body={"email": "new-hire@example.com", "role": "member"}),
        "accounts:member-role POST": Request(body={"role": "viewer"}),
        "catalogue:sync POST": Request(body=endpoint, names_team_a=True),
        "fleet:cost-estimate GET": Request(query=endpoint, names_team_a=True),
        "fleet:budget-member POST": Request(body={"monthly_limit": "5"}),
        # API
        "POST /api/v1/tokens": Request(body={"name": "matrix"}),
        "POST /api/v1/teams": Request(body={"name": "matrix team"}),
        "POST /api/v1/team/invitations": Request(body={"email": "new-hire@example.com"}),
        "PATCH /api/v1/team/members/{membership_id}": Request(body={"role": "viewer"}),
        "POST /api/v1/endpoints": Request(
            body={"name": "n", "endpoint_id": "e", "api_key": "rpa_matrix"}
        ),
        "PATCH /api/v1/endpoints/{endpoint_pk}": Request(body={"name": "renamed"}),
        "POST /api/v1/endpoints/{endpoint_pk}/warm-schedules": Request(
            body={"weekdays": [0], "start_time": "08:00", "end_time": "09:00"}
        ),
        "PATCH /api/v1/endpoints/{endpoint_pk}/warm-schedules/{schedule_pk}": Request(
            body={"warm_workers": 2}
        ),
        "POST /api/v1/endpoints/{endpoint_pk}/warm-pool/keep-warm": Request(body={"minutes": 5}),
        "PATCH /api/v1/team/budget": Request(body={"monthly_soft_limit": 10}),
        "PATCH /api/v1/team/budget/members/{membership_id}": Request(body={"monthly_limit": 5}),
        "GET /api/v1/team/cost-estimate": Request(query=endpoint, names_team_a=True),
        "POST /api/v1/generations": Request(body={"prompt": "x", **endpoint}, names_team_a=True),
        "GET /api/v1/generations": Request(query=endpoint),
        "POST /api/v1/generations/bulk": Request(
            body={"ids": [a.generation.pk], "action": "star"}, names_team_a=True
        ),
        "POST /api/v1/generations/{generation_id}/tags": Request(body={"names": ["new-tag"]}),
        "POST /api/v1/images/zip": Request(body={"image_ids": [a.image.pk]}, names_team_a=True),
        "POST /api/v1/presets": Request(body={"name": "matrix", "negative_prompt": "blurry"}),
        "PATCH /api/v1/presets/{preset_id}": Request(body={"description": "changed"}),
        "GET /api/v1/models": Request(query=endpoint),
        "GET /api/v1/volume/usage": Request(query=endpoint, names_team_a=True),
        "POST /api/v1/catalogue/sync": Request(body=endpoint, names_team_a=True),
        "GET /api/v1/catalogue/sync-runs": Request(query=endpoint),
        "POST /api/v1/models/downloads": Request(
            body={"url": "https://huggingface.co/o/r/resolve/main/m.safetensors", **endpoint},
            names_team_a=True,
        ),
        "PATCH /api/v1/models/{model_id}/metadata": Request(body={"title": "t"}),
        "POST /api/v1/models/{model_id}/rename": Request(body={"new_name": "renamed.safetensors"}),
    }

    def request(route: found.Route) -> Request:
        if route.key in specific:
            return specific[route.key]
        if route.kind == "api" and route.operation.get("requestBody"):
            raise AssertionError(f"{route.key} takes a body: give a minimal one in requests_for")
        return Request()

    return request


def level_of(route: found.Route) -> str:
    policy = PAGES.get(route.name) if route.kind == "page" else API.get(route.key)
    if policy is None:
        raise AssertionError(f"{route.key}: declare its access level in PAGES or API")
    level = policy[route.method] if isinstance(policy, dict) else policy
    assert level in LEVELS, route.key
    return level


def all_routes() -> list[found.Route]:
    return found.page_routes() + found.api_routes()


def test_every_route_is_declared_and_every_parameter_known():
    routes = all_routes()
    unknown_params = sorted({p for r in routes for p in r.params if p not in PARAMS})
    undeclared = sorted({r.key for r in routes if r.name not in PAGES and r.key not in API})
    assert unknown_params == [], "add these path parameters to PARAMS (which object they name)"
    assert undeclared == [], "declare the access level of these routes in PAGES or API"
    assert found.api_patterns_missing_from_openapi() == []
    # and nothing declared that no longer exists, so the tables stay true
    page_names = {r.name for r in routes if r.kind == "page"}
    api_keys = {r.key for r in routes if r.kind == "api"}
    assert sorted(set(PAGES) - page_names) == []
    assert sorted(set(API) - api_keys) == []


# Cells that misbehave because of defects this matrix found in code owned by others, reported
# to them. Strict, like xfail(strict=True): each must still misbehave, so that a fix makes the
# test fail until its line here is removed.
REPORTED: dict[tuple[str, str], str] = {}

ACTORS = [
    "anonymous",
    "revoked token",
    "expired token",
    "outsider",
    "outsider as A",
    "viewer",
    "member",
    "owner",
]


@pytest.mark.slow
@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(world, actor):
    routes = all_routes()
    values = {name: build(world) for name, build in PARAMS.items()}
    cells, findings = run_matrix(
        world, routes, level_of, values, requests_for(world), [actor], SIGNED_OUT_401
    )
    reported = {key for key in REPORTED if key[0] == actor}
    seen = {(f.actor, f.route) for f in findings}
    unexpected = [f for f in findings if (f.actor, f.route) not in reported]
    leaks = [f for f in unexpected if f.kind in ("leak", "secret")]
    print(
        json.dumps(
            {
                "matrix": "access",
                "actor": actor,
                "routes": len(routes),
                "cells": cells,
                "leaks": len(leaks),
                "findings": len(findings),
                "reported_defects": len(reported),
            }
        )
    )
    assert cells == len(routes) > 100
    assert unexpected == [], "\n" + "\n".join(map(str, unexpected))
    assert sorted(reported - seen) == [], "fixed: remove these cells from REPORTED"
