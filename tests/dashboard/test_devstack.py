"""`make dev`'s pieces: the idempotent bootstrap, and finding or starting a Redis."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from dashboard.accounts.models import Membership, Role, Team
from dashboard.devstack import (
    DevConfig,
    bootstrap,
    ensure_redis,
    redis_answers,
    redis_server_binary,
    stop_process,
)
from dashboard.fleet.models import RunPodEndpoint
from tests.support.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bootstrap_creates_the_superuser_team_and_endpoint_once(db):
    first = bootstrap(DevConfig(superuser="boss"))
    assert first.created_user
    assert first.password  # generated and printed, since none was given
    user = get_user_model().objects.get(username="boss")
    assert user.is_superuser
    assert user.check_password(first.password)
    second = bootstrap(DevConfig(superuser="boss"))
    assert not second.created_user
    assert second.password is None
    assert get_user_model().objects.count() == 1
    assert Team.objects.count() == 1
    assert Membership.objects.get(user=user).role == Role.OWNER
    endpoint = RunPodEndpoint.objects.get()
    assert endpoint.api_base_url == "http://127.0.0.1:8900/v2"
    assert endpoint.get_api_key() == "local-dev-key"
    assert endpoint.is_default


def test_bootstrap_uses_the_given_password_and_follows_port_changes(db):
    report = bootstrap(DevConfig(superuser="boss", superuser_password="s3cret-pass"))
    assert report.password is None
    assert get_user_model().objects.get(username="boss").check_password("s3cret-pass")
    bootstrap(DevConfig(superuser="boss", runpod_port=9911))
    assert RunPodEndpoint.objects.get().api_base_url == "http://127.0.0.1:9911/v2"


def test_config_reads_the_environment():
    config = DevConfig.from_env(
        {"WEB_PORT": "8100", "DJANGO_SUPERUSER_USERNAME": "ops", "RUNPOD_EMULATOR_PORT": "8901"}
    )
    assert (config.web_port, config.superuser, config.runpod_base) == (
        8100,
        "ops",
        "http://127.0.0.1:8901/v2",
    )
    env = config.process_env()
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8100"
    assert env["SWARMUI_API_URL"] == "http://127.0.0.1:7801"


def test_private_redis_starts_when_none_answers(tmp_path):
    assert redis_server_binary() is not None
    url, process = ensure_redis(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    try:
        assert process is not None
        assert redis_answers(url)
    finally:
        stop_process(process)
    assert not redis_answers(url, timeout=0.2)


def test_reachable_redis_is_used_as_is(tmp_path):
    url, process = ensure_redis(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    try:
        assert ensure_redis(url, tmp_path) == (url, None)
    finally:
        stop_process(process)


@pytest.mark.parametrize("name", ["web", "worker", "beat", "runpod", "swarmui"])
def test_procfile_runs_every_part_of_the_stack(name):
    lines = (REPO_ROOT / "Procfile.dev").read_text().splitlines()
    assert any(line.startswith(f"{name}: ") for line in lines)


def test_procfile_variables_are_all_provided_by_devstack():
    import re

    text = (REPO_ROOT / "Procfile.dev").read_text()
    used = set(re.findall(r"\$([A-Z_]+)", text))
    assert used <= set(DevConfig().process_env())
