"""No secret is ever logged: a full run through the real stack — gunicorn (with its access log,
as deployed) and a Celery worker at DEBUG, the RunPod emulator running the real GPU worker, the
SwarmUI emulator, moto as the volume's S3 API — with known secret values, then every log file
of every process is searched for them.

The run: a password traded for an API token (and a wrong one tried), an endpoint created over
the API with its RunPod key and volume S3 credentials, Hugging Face and CivitAI tokens saved
through the admin form, a generation to the end, a catalogue sync over S3, and a download from
each provider (the worker hands the token to SwarmUI; no network here, so they end in errors —
error texts are where tokens like to leak).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from django.db import connection

from dashboard.accounts.models import Role
from dashboard.catalogue.models import ActionStatus, ModelAction, SyncRun, SyncStatus
from dashboard.devstack import ensure_redis, stop_process
from dashboard.generations.models import FINAL_STATUSES, Generation
from tests.dashboard import factories
from tests.dashboard.stack import start_stack
from tests.e2e.harness import CeleryWorker, database_url
from tests.support.emulators import moto_server
from tests.support.processes import REPO_ROOT, ServerProcess, free_port, wait_until

pytestmark = pytest.mark.slow


def secret(label: str) -> str:
    return f"{label}{uuid.uuid4().hex}LOGCANARY"


SECRETS = {
    "RunPod API key": secret("rpa_"),
    "volume S3 secret key": secret("rps_"),
    "volume S3 access key": secret("user_"),
    "Hugging Face token": secret("hf_"),
    "CivitAI token": secret("civ"),
    "password": secret("pw-"),
    "wrong password tried": secret("guess-"),
}


class Site:
    """The dashboard over HTTP: a Bearer token for the API, a session for the forms."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.api = requests.Session()
        self.browser = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def sign_in_to_api(self, username: str, password: str) -> requests.Response:
        body = {"username": username, "password": password, "name": "log test"}
        return self.api.post(self.url("/api/v1/auth/token"), json=body, timeout=30)

    def post_form(self, path: str, data: dict) -> requests.Response:
        """GET the form (for its CSRF token), then POST it as a browser would."""
        page = self.browser.get(self.url(path), timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.browser.post(
            self.url(path),
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": self.url(path)},
            timeout=30,
        )


@pytest.fixture
def stack(transactional_db, tmp_path):
    """Every process of a deployment, each writing its own log file under tmp_path/logs."""
    logs = tmp_path / "logs"
    logs.mkdir()
    stops = []
    redis_url, redis_process = ensure_redis(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), tmp_path / "redis"
    )
    stops.append(lambda: stop_process(redis_process))
    try:
        cloud = start_stack(
            logs,
            runpod_flags=("--api-key", SECRETS["RunPod API key"], "--workers-min", "1"),
            swarmui_flags=("--step-delay", "0"),
            worker_env={"LOG_LEVEL": "DEBUG"},
        )
        stops.append(cloud.stop)
        moto = moto_server(logs)
        stops.append(moto.start().stop)
        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        env = {
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "CELERY_TASK_DEFAULT_QUEUE": f"logs-{uuid.uuid4().hex[:8]}",
            "PUBLIC_BASE_URL": web_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "DEBUG",
            "DEBUG": "false",
            "STATIC_ROOT": str(tmp_path / "static"),
            # No DNS here: let the download links through the address check (not the allow-list).
            "MODEL_DOWNLOAD_PRIVATE_HOSTS": "huggingface.co,civitai.com",
            "MODEL_DOWNLOAD_CHECK_REDIRECTS": "false",  # no network: redirects cannot be followed
            "RUNPOD_RETRIES": "1",
        }
        # as deployed: DEBUG off, so the pages need collectstatic's manifest
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            check=True,
            timeout=120,
        )
        web = ServerProcess(
            args=[
                str(Path(sys.executable).parent / "gunicorn"),
                "dashboard.wsgi:application",
                *("--bind", f"127.0.0.1:{web_port}", "--workers", "2"),
                *("--access-logfile", "-", "--log-level", "debug"),
            ],
            host="127.0.0.1",
            port=web_port,
            log_path=logs / "gunicorn.log",
            env=env,
        )
        stops.append(web.start(timeout=60).stop)
        celery = CeleryWorker(
            queue=env["CELERY_TASK_DEFAULT_QUEUE"], env=env, log_path=logs / "celery.log"
        )
        stops.append(celery.start(timeout=60).stop)
        yield {"cloud": cloud, "moto": moto, "site": Site(web_url), "logs": logs}
    finally:
        for stop in reversed(stops):
            stop()


def test_no_secret_reaches_any_log_of_a_full_run(stack, settings):
    # the web process checks passwords with the real hasher (tests/conftest.py speeds up ours)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    site, cloud, moto = stack["site"], stack["cloud"], stack["moto"]
    team = factories.make_team("Logs")
    user = factories.make_user("logowner")
    user.set_password(SECRETS["password"])
    user.save()
    factories.make_member(team, Role.OWNER, user=user)

    # credentials in, over the API and a form
    assert site.sign_in_to_api("logowner", SECRETS["wrong password tried"]).status_code == 401
    signed_in = site.sign_in_to_api("logowner", SECRETS["password"])
    assert signed_in.status_code == 201, signed_in.text
    site.api.headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
    bucket = f"vol-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    s3.create_bucket(Bucket=bucket)
    created = site.api.post(
        site.url("/api/v1/endpoints"),
        json={
            "name": "emulated",
            "endpoint_id": "local",
            "api_key": SECRETS["RunPod API key"],
            "api_base_url": cloud.api_base,
            "rest_base_url": cloud.api_base,
            "default_model": "OfficialStableDiffusion/sd_xl_base_1.0",
            "output_mode": "inline",
            "is_default": True,
            "volume_id": bucket,
            "volume_s3_endpoint_url": moto.base_url,
            "volume_s3_region": "us-east-1",
            "volume_access_key": SECRETS["volume S3 access key"],
            "volume_secret_key": SECRETS["volume S3 secret key"],
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    signed_in_page = site.post_form(
        "/accounts/sign-in/", {"username": "logowner", "password": SECRETS["password"]}
    )
    assert "/accounts/sign-in/" not in signed_in_page.url  # redirected in
    saved = site.post_form(
        "/models/provider-tokens/",
        {
            "huggingface_token": SECRETS["Hugging Face token"],
            "civitai_token": SECRETS["CivitAI token"],
        },
    )
    assert saved.status_code == 200
    assert "Provider tokens saved" in saved.text

    # work that uses every secret
    generated = site.api.post(
        site.url("/api/v1/generations"),
        json={"prompt": "a lighthouse", "width": 512, "height": 512, "steps": 2},
        timeout=30,
    )
    assert generated.status_code == 201, generated.text
    synced = site.api.post(
        site.url("/api/v1/catalogue/sync"), json={"endpoint": endpoint_id}, timeout=30
    )
    assert synced.status_code == 202, synced.text
    for url in (
        "https://huggingface.co/org/repo/resolve/main/model.safetensors",
        "https://civitai.com/api/download/models/12345",
    ):
        download = site.api.post(
            site.url("/api/v1/models/downloads"),
            json={"url": url, "subtype": "LoRA", "name": f"m{uuid.uuid4().hex[:6]}"},
            timeout=30,
        )
        assert download.status_code == 201, download.text

    generation = wait_until(
        lambda: Generation.objects.filter(
            pk=generated.json()["id"], status__in=FINAL_STATUSES
        ).first(),
        timeout=120,
        interval=0.2,
        what="the generation",
    )
    assert generation.status == "succeeded", generation.error
    run = wait_until(
        lambda: (
            SyncRun.objects.exclude(status=SyncStatus.RUNNING)
            .filter(pk=synced.json()["id"])
            .first()
        ),
        timeout=60,
        interval=0.2,
        what="the catalogue sync",
    )
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    final = {ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED}
    wait_until(
        lambda: ModelAction.objects.filter(team=team, status__in=final).count() == 2,
        timeout=120,
        interval=0.2,
        what="both downloads",
    )
    assert ModelAction.objects.filter(team=team).count() == 2
    assert user.api_tokens.count() == 1
    # the tokens did travel: the worker got each in its download job (so their absence from the
    # logs below means something)
    downloads = [
        job["input"] for job in cloud.jobs() if job["input"].get("action") == "download_model"
    ]
    assert {"huggingface_api": SECRETS["Hugging Face token"]} in [
        d.get("api_keys") for d in downloads
    ]
    assert {"civitai_api": SECRETS["CivitAI token"]} in [d.get("api_keys") for d in downloads]

    # every process writes unbuffered (PYTHONUNBUFFERED): its log is whole already
    logs = {path.name: path.read_text(errors="replace") for path in stack["logs"].rglob("*.log")}
    _check(logs, signed_in.json()["token"])


def _check(logs: dict[str, str], api_token: str) -> None:
    secrets = {**SECRETS, "API token": api_token}
    assert {"gunicorn.log", "celery.log"} <= set(logs)
    assert any(name.startswith("moto-") for name in logs)
    [runpod_log] = [text for name, text in logs.items() if name.startswith("runpod-")]
    assert ": download_model" in runpod_log  # the worker's own log lines are in there
    assert any(name.startswith("swarmui-") for name in logs)
    total = sum(len(text) for text in logs.values())
    found = {
        f"{label} in {name}"
        for name, text in logs.items()
        for label, value in secrets.items()
        if value in text
    }
    print({"logs": len(logs), "bytes": total, "secrets": len(secrets), "found": len(found)})
    assert total > 10_000  # DEBUG logging of a whole run: the search had something to search
    assert found == set()
