"""No Docker engine runs here, so these read Dockerfile, docker-compose.yml and .env.example and
check that every command, path, port and variable they name exists in the project."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_SERVICES = {"migrate", "web", "worker", "beat"}
EMULATOR_SERVICES = {"swarmui", "runpod"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


@cache
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_variables_read_by_the_project() -> set[str]:
    settings_text = (REPO / "dashboard" / "settings.py").read_text()
    devstack_text = (REPO / "dashboard" / "devstack.py").read_text()
    names = set(re.findall(r'env(?:str|bool|int|float|list)\("([A-Z0-9_]+)"', settings_text))
    names |= set(re.findall(r'env\.get\("([A-Z0-9_]+)"', devstack_text))
    return names


def env_example_names() -> set[str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z0-9_]+=", line)}


@cache
def cli_help(module: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    return result.stdout


# --- .env.example ------------------------------------------------------------------------------
def test_env_example_lists_every_variable_the_project_reads():
    assert env_variables_read_by_the_project() - env_example_names() == set()


def test_env_example_lists_nothing_the_project_ignores():
    assert env_example_names() - env_variables_read_by_the_project() == set()


# --- Dockerfile ---------------------------------------------------------------------------------
def test_dockerfile_copies_only_paths_that_exist():
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY":
            continue
        parts = [p for p in shlex.split(rest) if not p.startswith("--")]
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such path"


def test_dockerfile_stages_are_the_ones_compose_builds():
    stages = {
        rest.split(" AS ")[1].strip()
        for keyword, rest in dockerfile_instructions()
        if keyword == "FROM" and " AS " in rest
    }
    targets = {s["build"]["target"] for s in compose()["services"].values() if "build" in s}
    assert targets <= stages
    assert {"dashboard", "emulators"} <= stages


def test_dockerfile_command_serves_the_wsgi_app_on_the_exposed_port():
    instructions = dockerfile_instructions()
    cmd = json.loads(next(rest for keyword, rest in instructions if keyword == "CMD"))
    assert cmd[0] == "gunicorn"
    module, _, attribute = cmd[1].partition(":")
    assert hasattr(importlib.import_module(module), attribute)
    port = cmd[cmd.index("--bind") + 1].rsplit(":", 1)[1]
    exposed = {p for keyword, rest in instructions if keyword == "EXPOSE" for p in rest.split()}
    assert port in exposed


def test_dockerfile_runs_real_management_commands():
    for keyword, rest in dockerfile_instructions():
        for command in re.findall(r"manage\.py (\w+)", rest) if keyword == "RUN" else []:
            assert command in get_commands()


def test_dockerfile_installs_the_worker_requirements_file_that_exists():
    for keyword, rest in dockerfile_instructions():
        for path in re.findall(r"pip install -r (\S+)", rest) if keyword == "RUN" else []:
            if not path.startswith("/tmp/"):
                assert (REPO / path).exists()


# --- docker-compose.yml -------------------------------------------------------------------------
def test_compose_has_the_whole_stack_and_an_emulators_profile():
    services = compose()["services"]
    assert DASHBOARD_SERVICES | {"redis", "postgres"} | EMULATOR_SERVICES <= set(services)
    for name in EMULATOR_SERVICES:
        assert services[name]["profiles"] == ["emulators"]


def test_compose_references_only_declared_services_and_volumes():
    services = compose()["services"]
    declared_volumes = set(compose()["volumes"])
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, (dict, list)) else []:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared_volumes or source.startswith((".", "/"))


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


@pytest.mark.parametrize("name", sorted(DASHBOARD_SERVICES | EMULATOR_SERVICES))
def test_compose_commands_exist(name):
    command = _command(compose()["services"][name])
    program = command[0]
    if program == "python" and command[1] == "-m":
        module = command[2]
        assert importlib.util.find_spec(module) is not None
        flags = (
            [arg for arg in command[3 : command.index("--")] if arg.startswith("--")]
            if ("--" in command)
            else [arg for arg in command[3:] if arg.startswith("--")]
        )
        for flag in flags:
            assert flag in cli_help(module), f"{module} has no {flag}"
        if "--" in command:
            worker = command[command.index("--") + 1 :]
            assert worker[:2] == ["python", "-m"]
            assert importlib.util.find_spec(worker[2]) is not None
    elif program == "python":
        assert command[1] == "manage.py"
        assert command[2] in get_commands()
    elif program == "celery":
        assert command[1:3] == ["-A", "dashboard"]
        assert command[3] in ("worker", "beat")
        assert (Path(sys.executable).parent / "celery").exists()
    elif program == "gunicorn":
        module, _, attribute = command[1].partition(":")
        assert hasattr(importlib.import_module(module), attribute)
        assert (Path(sys.executable).parent / "gunicorn").exists()
    else:
        pytest.fail(f"unexpected program {program}")


def _port_flag(command: list[str]) -> str:
    if "--bind" in command:
        return command[command.index("--bind") + 1].rsplit(":", 1)[1]
    return command[command.index("--port") + 1]


@pytest.mark.parametrize(
    ("name", "port"), [("web", "8000"), ("runpod", "8900"), ("swarmui", "7801")]
)
def test_compose_ports_match_what_the_processes_listen_on(name, port):
    service = compose()["services"][name]
    assert _port_flag(_command(service)) == port
    assert f"{port}:{port}" in service["ports"]


def test_compose_wires_the_worker_to_the_swarmui_service():
    services = compose()["services"]
    url = services["runpod"]["environment"]["SWARMUI_API_URL"]
    assert url == f"http://swarmui:{_port_flag(_command(services['swarmui']))}"
    worker_config = (REPO / "worker" / "config.py").read_text()
    for variable in services["runpod"]["environment"]:
        assert f'"{variable}"' in worker_config, f"the worker does not read {variable}"


def test_compose_dashboard_variables_are_settings():
    known = env_variables_read_by_the_project()
    for name in DASHBOARD_SERVICES:
        for variable in compose()["services"][name]["environment"]:
            assert variable in known, f"{name} sets {variable}, which settings never read"


def test_compose_points_the_dashboard_at_its_own_redis_and_postgres():
    environment = compose()["services"]["web"]["environment"]
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    postgres = compose()["services"]["postgres"]["environment"]
    assert (
        f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@"
        in environment["DATABASE_URL"]
    )
