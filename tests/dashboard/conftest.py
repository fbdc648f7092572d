"""Fixtures for dashboard tests: a team with an owner, a member, a viewer, and an endpoint."""

from __future__ import annotations

import uuid

import boto3
import pytest
from django.test import Client

from dashboard.accounts.models import Role
from dashboard.accounts.services import api_token_create
from tests.dashboard import factories
from tests.dashboard.broker import SentTasks, use_broker
from tests.support.emulators import moto_server


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    """Media in a temporary directory; static files without collectstatic's manifest."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def team(db):
    return factories.make_team("Fox Studio")


@pytest.fixture
def owner(team):
    return factories.make_member(team, Role.OWNER)


@pytest.fixture
def member(team):
    return factories.make_member(team, Role.MEMBER)


@pytest.fixture
def viewer(team):
    return factories.make_member(team, Role.VIEWER)


@pytest.fixture
def endpoint(team):
    return factories.make_endpoint(team, name="main")


@pytest.fixture
def api_client():
    """`api_client(membership)` → a test client sending that user's Bearer token."""

    def build(membership) -> Client:
        _, plain = api_token_create(user=membership.user, name="tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    return build


@pytest.fixture(autouse=True)
def sent_tasks():
    """Celery publishes to an in-memory broker in these tests; read what was sent."""
    use_broker("memory://")
    tasks = SentTasks()
    tasks.drain()
    return tasks


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """A real S3 protocol server (moto) standing in for a network volume's S3 API."""
    server = moto_server(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def volume_bucket(moto_s3):
    """A fresh bucket named like a volume id, and a boto3 client to seed it."""
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3.base_url,
        region_name="us-east-1",
        aws_access_key_id="user_test",
        aws_secret_access_key="rps_test",
    )
    name = f"vol-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name, s3
