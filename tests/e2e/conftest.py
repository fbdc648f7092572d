"""The whole stack for end-to-end tests: live web server (pytest-django), a real Celery worker on
real Redis, the RunPod emulator running the real worker handler, and the SwarmUI emulator."""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connection

from dashboard.accounts.models import Role
from dashboard.accounts.services import api_token_create
from dashboard.devstack import ensure_redis, stop_process
from tests.dashboard import factories
from tests.dashboard.broker import use_broker
from tests.dashboard.stack import start_stack
from tests.e2e.harness import CeleryWorker, database_url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """REDIS_URL when a Redis answers there, else a private redis-server for this session."""
    wanted = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    url, process = ensure_redis(wanted, tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(process)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("e2e-cloud"),
        runpod_flags=("--workers-min", "1", "--webhook-retry-interval", "0.5"),
        swarmui_flags=("--step-delay", "0.01"),
    )
    yield stack
    stack.stop()


@pytest.fixture
def broker_queue(redis_url):
    """This test's own queue on the real Redis, so no other worker takes its tasks."""
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    use_broker(redis_url, queue)
    yield queue
    use_broker("memory://")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return settings.MEDIA_ROOT


@pytest.fixture
def start_celery(transactional_db, redis_url, broker_queue, media_root, tmp_path):
    """`start_celery(PUBLIC_BASE_URL=..., ...)` → a worker on this test's queue and database."""
    workers: list[CeleryWorker] = []

    def start(**env: str) -> CeleryWorker:
        worker = CeleryWorker(
            queue=broker_queue,
            log_path=tmp_path / f"celery-{len(workers)}.log",
            env={
                "DATABASE_URL": database_url(connection.settings_dict),
                "REDIS_URL": redis_url,
                "MEDIA_ROOT": str(media_root),
                "PUBLIC_BASE_URL": "",
                **env,
            },
        )
        workers.append(worker.start())
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def team_on_cloud(transactional_db, cloud):
    """A team whose default endpoint is the emulated cloud, and a member's Bearer token."""
    cloud.reset()
    team = factories.make_team("E2E")
    member = factories.make_member(team, Role.MEMBER)
    endpoint = factories.make_endpoint(team, name="emulated", api_base_url=cloud.api_base)
    _, token = api_token_create(user=member.user, name="e2e")
    return {"team": team, "member": member, "endpoint": endpoint, "token": token}
