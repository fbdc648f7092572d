"""worker/Dockerfile and worker/requirements.txt, read as text (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess

from tests.support.processes import REPO_ROOT

WORKER = REPO_ROOT / "worker"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (WORKER / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def requirements() -> dict[str, str]:
    pins = {}
    for line in (WORKER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_base_image_is_cuda_with_a_pinned_tag():
    (base,) = [args for keyword, args in instructions() if keyword == "FROM"]
    image, _, tag = base.partition(":")
    assert image == "nvidia/cuda"
    assert re.fullmatch(r"\d+\.\d+\.\d+-[a-z-]+-ubuntu\d\d\.\d\d", tag), tag
    assert "latest" not in base


def test_python_311_and_a_pinned_dotnet_sdk_are_installed():
    text = (WORKER / "Dockerfile").read_text()
    assert "python3.11 python3.11-venv" in text
    assert re.search(r"ARG DOTNET_SDK_VERSION=10\.0\.\d+", text)
    assert '--version "$DOTNET_SDK_VERSION"' in text


def test_nothing_is_unpinned_or_latest():
    text = (WORKER / "Dockerfile").read_text().lower()
    assert ":latest" not in text
    assert "--channel" not in text  # exact .NET versions, not "whatever is newest"


def test_every_requirement_is_pinned():
    pins = requirements()
    assert set(pins) >= {"runpod", "requests", "websocket-client", "pydantic", "boto3"}
    for name, version in pins.items():
        assert re.fullmatch(r"\d+(\.\d+)+", version), f"{name} is not pinned with =="


def test_runpod_is_at_least_1_10_1():
    version = tuple(int(part) for part in requirements()["runpod"].split("."))
    assert version >= (1, 10, 1)


def test_the_image_copies_the_worker_and_starts_start_sh():
    steps = instructions()
    copies = [args for keyword, args in steps if keyword == "COPY"]
    assert "requirements.txt /app/worker/requirements.txt" in copies
    assert ". /app/worker/" in copies
    (cmd,) = [args for keyword, args in steps if keyword == "CMD"]
    assert cmd == '["/app/worker/start.sh"]'
    assert (WORKER / "start.sh").exists()
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "PYTHONPATH=/app" in env
    assert "PYTHON=/opt/worker-venv/bin/python" in env


def test_swarmui_is_pinned_to_a_release_tag_not_a_branch():
    text = (WORKER / "start.sh").read_text()
    match = re.search(r'SWARMUI_VERSION="\$\{SWARMUI_VERSION:-([^}]+)\}"', text)
    assert match, "start.sh must pin SWARMUI_VERSION"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?-Beta", match.group(1))
    assert "releases/tag/" + match.group(1) in text


def test_start_sh_is_bash_n_clean():
    subprocess.run(["bash", "-n", str(WORKER / "start.sh")], check=True)
