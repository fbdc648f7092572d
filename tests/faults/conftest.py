"""Fixtures for fault tests: one emulated cloud for the whole package (SwarmUI + RunPod with six
real worker processes), the dashboard's own processes per test or per module, a team on the
cloud, and `report(...)`, which prints a test's figures into the normal log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

from dashboard.accounts.models import Role
from dashboard.accounts.services import api_token_create
from tests.dashboard import factories
from tests.dashboard.stack import Stack, start_stack
from tests.e2e.harness import database_url
from tests.faults.client import DashboardApi
from tests.faults.processes import DashboardProcesses
from tests.support.processes import wait_until

RUNPOD_WORKERS = 6
BACKEND_DOWN_GRACE = 2  # seconds; the worker's default is 15
RUNPOD_KEY = "local-dev-key"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


def runpod_call(cloud: Stack, method: str, op: str) -> requests.Response:
    return requests.request(
        method,
        f"{cloud.api_base}/local/{op}",
        headers={"Authorization": f"Bearer {RUNPOD_KEY}"},
        timeout=10,
    )


@pytest.fixture(scope="session")
def fault_cloud(tmp_path_factory) -> Iterator[Stack]:
    stack = start_stack(
        tmp_path_factory.mktemp("fault-cloud"),
        runpod_flags=(
            *("--workers-min", str(RUNPOD_WORKERS), "--workers-max", str(RUNPOD_WORKERS)),
            *("--webhook-retry-interval", "1", "--fault-timeout", "2"),
        ),
        swarmui_flags=("--step-delay", "0.02"),
        worker_env={
            "RUNPOD_LOG_LEVEL": "WARN",
            "BACKEND_DOWN_GRACE_SECONDS": str(BACKEND_DOWN_GRACE),
        },
    )
    try:
        wait_until(
            lambda: (
                runpod_call(stack, "GET", "health").json()["workers"]["ready"] >= RUNPOD_WORKERS
            ),
            timeout=90,
            interval=0.2,
            what=f"{RUNPOD_WORKERS} RunPod workers to come up",
        )
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def cloud(fault_cloud: Stack) -> Stack:
    """The shared cloud with no faults, no queued job and no job running."""
    fault_cloud.reset()
    runpod_call(fault_cloud, "POST", "purge-queue").raise_for_status()

    def idle() -> bool:
        return runpod_call(fault_cloud, "GET", "health").json()["jobs"]["inProgress"] == 0

    wait_until(idle, timeout=60, interval=0.1, what="the RunPod workers to finish their jobs")
    return fault_cloud


def launch_dashboard(directory: Path, **options) -> DashboardProcesses:
    """Start DashboardProcesses on the test database (options: see DashboardProcesses)."""
    stack = DashboardProcesses(
        directory, database_url=database_url(connection.settings_dict), **options
    )
    try:
        return stack.start()
    except Exception:
        stack.stop()
        raise


@pytest.fixture
def start_dashboard(
    request, transactional_db, tmp_path
) -> Iterator[Callable[..., DashboardProcesses]]:
    """`start_dashboard(webhooks=..., beat=..., settings={...})` → running DashboardProcesses,
    stopped after the test (their logs printed if it failed)."""
    started: list[DashboardProcesses] = []

    def start(**options) -> DashboardProcesses:
        started.append(launch_dashboard(tmp_path / f"dashboard-{len(started)}", **options))
        return started[-1]

    yield start
    for stack in started:
        if _failed(request):
            print(stack.logs())
        stack.stop()


@pytest.fixture
def team_on_cloud(transactional_db, cloud):
    """A team whose default endpoint is the emulated cloud, and a member's Bearer token."""
    team = factories.make_team("Faults")
    member = factories.make_member(team, Role.MEMBER)
    endpoint = factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)
    _, token = api_token_create(user=member.user, name="faults")
    return {"team": team, "member": member, "endpoint": endpoint, "token": token}


def api_for(dashboard: DashboardProcesses, team_on_cloud: dict) -> DashboardApi:
    return DashboardApi(dashboard.web_url, team_on_cloud["token"])


@pytest.fixture
def report(request, capsys) -> Callable[..., None]:
    """`report(figure=value, ...)`: one JSON line of figures, shown even without `-s`."""

    def emit(**figures) -> None:
        line = json.dumps({"test": request.node.name, **figures}, default=str, sort_keys=False)
        with capsys.disabled():
            print(f"\n[fault figures] {line}", flush=True)

    return emit
