"""A module-wide emulated cloud (SwarmUI + RunPod + the real worker) and an endpoint on it."""

from __future__ import annotations

import pytest

from dashboard.accounts.models import Role
from tests.dashboard import factories
from tests.dashboard.stack import start_stack


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("cloud"),
        runpod_flags=("--workers-min", "1", "--run-retention", "3"),
    )
    yield stack
    stack.stop()


@pytest.fixture
def cloud_endpoint(cloud, team):
    cloud.reset()
    return factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)


@pytest.fixture
def rival(db):
    """The owner of another team: whatever they try on this team's history finds nothing."""
    return factories.make_member(factories.make_team("Rivals"), Role.OWNER)


@pytest.fixture
def rival_endpoint(rival):
    return factories.make_endpoint(rival.team, name="rival-main")
