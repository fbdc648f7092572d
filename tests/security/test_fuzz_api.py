"""Fuzzing the REST API with schemathesis: inputs generated from `/api/v1/openapi.json` (valid and
invalid), sent in-process through the WSGI application with team A's owner token; no answer may
be a server error or break the response schema the document promises.

Excluded, because a generated example could take the fuzzer's own access away and make every
later example a meaningless 401: revoking a token by id (`DELETE /tokens/{token_id}`, ids are
small integers, the fuzzer's own among them) and changing or removing a membership by id.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from dashboard.accounts.services import api_token_create
from dashboard.api import api
from dashboard.wsgi import application
from tests.security.routes import API_PREFIX
from tests.security.world import build_world

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 20
EXCLUDED = [
    "DELETE /api/v1/tokens/{token_id}",
    "PATCH /api/v1/team/members/{membership_id}",
    "DELETE /api/v1/team/members/{membership_id}",
]
CALLS: dict[str, int] = {}


def load_schema():
    """The document `/api/v1/openapi.json` serves, bound to the WSGI application: requests run
    in this process, inside the test's database transaction."""
    document = json.loads(json.dumps(api.get_openapi_schema(path_prefix=API_PREFIX), default=str))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


@pytest.fixture
def keep_connection():
    """Like Django's test client: requests through the WSGI handler must not close the database
    connection at their end (it holds the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owner_token(db, keep_connection) -> str:
    world = build_world()
    return api_token_create(user=world.owner.user, name="fuzz")[1]


schema = load_schema().exclude(name=EXCLUDED)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI cannot flake on a lucky draw
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_errors_and_keeps_its_schema(case, owner_token):
    CALLS[case.operation.label] = CALLS.get(case.operation.label, 0) + 1
    case.call_and_validate(
        headers={"Authorization": f"Bearer {owner_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


def test_fuzzing_covered_every_operation_but_the_excluded():
    """Runs after the fuzzing above (same module, in order): print the figures."""
    document = api.get_openapi_schema(path_prefix=API_PREFIX)
    operations = [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    ]
    print(
        json.dumps(
            {
                "fuzz": "api",
                "operations": len(operations),
                "excluded": len(EXCLUDED),
                "examples": sum(CALLS.values()),
            }
        )
    )
    assert sorted(set(operations) - set(EXCLUDED) - set(CALLS)) == []
