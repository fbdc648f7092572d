"""worker/start.sh against fake SwarmUI installs (stand-in launch scripts, no network, no GPU).

The stand-in `launch-linux.sh` runs the SwarmUI emulator on the host/port start.sh asks for, so
the real handler can be started behind it; the stand-in `comfy-install-linux.sh` only creates
`dlbackend/ComfyUI/main.py`. A first boot clones from a local git repository via SWARMUI_REPO.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import REPO_ROOT, free_port

START_SH = REPO_ROOT / "worker" / "start.sh"

LAUNCH_STANDIN = """#!/usr/bin/env bash
# Stand-in for SwarmUI's launch-linux.sh: the SwarmUI emulator on the requested host and port.
set -euo pipefail
echo "$*" >> "$STANDIN_RECORD/launch-args"
while [ $# -gt 0 ]; do
    case "$1" in
        --host) host="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        *) shift ;;
    esac
done
exec "$PYTHON" -m emulators.swarmui --host "$host" --port "$port" --volume "$VOLUME_PATH" \\
    --step-delay 0
"""

MOVING_STANDIN = """#!/usr/bin/env bash
# Stand-in that behaves like SwarmUI finding its port busy (Network.PortCanChange).
while [ $# -gt 0 ]; do
    case "$1" in --port) port="$2"; shift 2 ;; *) shift ;; esac
done
echo "Port $port was taken, using $((port + 1)) instead."
exec sleep 60
"""

CRASHING_STANDIN = """#!/usr/bin/env bash
echo "Unhandled exception: could not load Settings.fds"
exit 3
"""

COMFY_STANDIN = """#!/usr/bin/env bash
# Stand-in for launchtools/comfy-install-linux.sh: records the call, creates main.py.
echo "$1" >> "$STANDIN_RECORD/comfy-installs"
mkdir -p dlbackend/ComfyUI
echo "# ComfyUI" > dlbackend/ComfyUI/main.py
"""


@dataclass
class Boot:
    returncode: int
    output: str
    volume: Path
    record: Path
    pid_file: Path

    @property
    def swarmui(self) -> Path:
        return self.volume / "SwarmUI"


@pytest.fixture
def boot(tmp_path):
    """Run start.sh once with a given volume and extra env; kills what it left behind."""
    groups: list[int] = []

    def run(
        volume: Path,
        *command: str,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        port: int | None = None,
    ) -> Boot:
        record = tmp_path / "record"
        record.mkdir(exist_ok=True)
        log_path = tmp_path / f"start-{len(groups)}.log"
        pid_file = tmp_path / "swarmui.pid"
        full_env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "VOLUME_PATH": str(volume),
            "SWARMUI_PORT": str(port or free_port()),
            "SWARMUI_PID_FILE": str(pid_file),
            "SWARMUI_LOG": str(tmp_path / "swarmui.log"),
            "STARTUP_TIMEOUT": "30",
            "PYTHON": sys.executable,
            "STANDIN_RECORD": str(record),
            "RUNPOD_SKIP_GPU_CHECK": "true",
            **(env or {}),
        }
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                ["bash", str(START_SH), *command],
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # start.sh, SwarmUI and the tail share a group
            )
            groups.append(process.pid)
            try:
                process.wait(timeout=timeout)
            finally:
                _kill_group(process.pid)
        return Boot(process.returncode, log_path.read_text(), volume, record, pid_file)

    yield run
    for group in groups:
        _kill_group(group)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def fake_install(volume: Path, launcher: str = LAUNCH_STANDIN, *, comfy: bool = True) -> Path:
    """A SwarmUI folder as start.sh expects it on the volume."""
    swarmui = volume / "SwarmUI"
    (swarmui / "launchtools").mkdir(parents=True)
    (swarmui / "launch-linux.sh").write_text(launcher)
    (swarmui / "launchtools" / "comfy-install-linux.sh").write_text(COMFY_STANDIN)
    if comfy:
        (swarmui / "dlbackend" / "ComfyUI").mkdir(parents=True)
        (swarmui / "dlbackend" / "ComfyUI" / "main.py").write_text("# ComfyUI\n")
    return swarmui


def git_release(path: Path, tag: str) -> str:
    """A local git repository holding a fake SwarmUI release under `tag`."""
    fake_install(path, comfy=False)
    source = path / "SwarmUI"
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "--quiet", str(source)], check=True)
    subprocess.run([*git, "-C", str(source), "add", "."], check=True)
    subprocess.run([*git, "-C", str(source), "commit", "--quiet", "-m", "release"], check=True)
    subprocess.run([*git, "-C", str(source), "tag", tag], check=True)
    return f"file://{source}"


def test_boots_an_existing_install_and_runs_the_handler(boot, tmp_path):
    volume = tmp_path / "volume"
    fake_install(volume)
    job = json.dumps({"input": {"action": "health"}})
    result = boot(volume, sys.executable, "-m", "worker.handler", "--test_input", job)
    assert result.returncode == 0, result.output
    assert "reusing the ComfyUI backend" in result.output
    assert '"ready": True' in result.output or "'ready': True" in result.output
    args = (result.record / "launch-args").read_text().split()
    assert args[:2] == ["--launch_mode", "none"]
    assert "--port" in args
    assert "--host" in args
    assert int(result.pid_file.read_text()) > 0


def test_writes_a_headless_configuration_once(boot, tmp_path):
    volume = tmp_path / "volume"
    swarmui = fake_install(volume)
    result = boot(volume, "true")
    assert result.returncode == 0, result.output
    settings = (swarmui / "Data" / "Settings.fds").read_text()
    backends = (swarmui / "Data" / "Backends.fds").read_text()
    assert "IsInstalled: true" in settings
    assert "LaunchMode: none" in settings
    assert "\ttype: comfyui_selfstart" in backends
    assert "\t\tStartScript: dlbackend/ComfyUI/main.py" in backends
    (swarmui / "Data" / "Backends.fds").write_text("# edited by an operator\n")
    again = boot(volume, "true")
    assert again.returncode == 0, again.output
    assert (swarmui / "Data" / "Backends.fds").read_text() == "# edited by an operator\n"


def test_first_boot_installs_the_pinned_release_and_comfyui_then_reuses_them(boot, tmp_path):
    repo = git_release(tmp_path / "upstream", "9.9.9-Test")
    volume = tmp_path / "volume"
    uploaded = volume / "SwarmUI" / "Models" / "Stable-Diffusion" / "mine.safetensors"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_bytes(b"model uploaded through S3 before the first boot")
    env = {"SWARMUI_REPO": repo, "SWARMUI_VERSION": "9.9.9-Test"}

    first = boot(volume, "true", env=env)
    assert first.returncode == 0, first.output
    assert "first boot: installing SwarmUI 9.9.9-Test" in first.output
    assert (volume / "SwarmUI" / "launch-linux.sh").exists()
    assert (volume / "SwarmUI" / ".swarmdeck-version").read_text().strip() == "9.9.9-Test"
    assert uploaded.exists(), "the install must not wipe models already on the volume"
    assert (first.record / "comfy-installs").read_text().split() == ["nv"]

    second = boot(volume, "true", env=env)
    assert second.returncode == 0, second.output
    assert "reusing SwarmUI 9.9.9-Test" in second.output
    assert (second.record / "comfy-installs").read_text().split() == ["nv"], "installed twice"


def test_an_install_of_another_version_is_reused_with_a_warning(boot, tmp_path):
    volume = tmp_path / "volume"
    swarmui = fake_install(volume)
    (swarmui / ".swarmdeck-version").write_text("0.9.7-Beta\n")
    result = boot(volume, "true")
    assert result.returncode == 0, result.output
    assert "holds SwarmUI '0.9.7-Beta', this image pins '0.9.8-Beta'" in result.output


def test_an_incomplete_comfyui_install_is_moved_aside_and_redone(boot, tmp_path):
    volume = tmp_path / "volume"
    swarmui = fake_install(volume, comfy=False)
    (swarmui / "dlbackend" / "ComfyUI").mkdir(parents=True)  # a first boot died half-way
    result = boot(volume, "true")
    assert result.returncode == 0, result.output
    assert (swarmui / "dlbackend" / "ComfyUI" / "main.py").exists()
    assert list((swarmui / "dlbackend").glob("ComfyUI.incomplete.*"))


def test_without_a_volume_it_fails_loudly(boot, tmp_path):
    result = boot(tmp_path / "missing", "true")
    assert result.returncode != 0
    assert "FATAL: no network volume at VOLUME_PATH=" in result.output


def test_not_installed_and_no_git_fails_with_a_clear_message(boot, tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "cat", "mkdir", "rm", "cp", "mv", "date", "grep", "head"):
        os.symlink(shutil.which(tool), tools / tool)
    volume = tmp_path / "volume"
    volume.mkdir()
    result = boot(volume, "true", env={"PATH": str(tools)})
    assert result.returncode != 0
    assert f"SwarmUI is not installed at {volume}/SwarmUI and git is not available" in result.output


def test_a_busy_port_is_refused_before_swarmui_can_drift_away(boot, tmp_path):
    volume = tmp_path / "volume"
    fake_install(volume)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = boot(volume, "true", port=port)
    assert result.returncode != 0
    assert f"FATAL: port {port} is already in use" in result.output


def test_swarmui_moving_to_another_port_fails_loudly(boot, tmp_path):
    volume = tmp_path / "volume"
    fake_install(volume, launcher=MOVING_STANDIN)
    port = free_port()
    result = boot(volume, "true", port=port)
    assert result.returncode != 0
    assert (
        f"SwarmUI did not get port {port} (Port {port} was taken, using {port + 1}" in result.output
    )


def test_swarmui_dying_during_start_fails_with_its_output(boot, tmp_path):
    volume = tmp_path / "volume"
    fake_install(volume, launcher=CRASHING_STANDIN)
    result = boot(volume, "true")
    assert result.returncode != 0
    assert "could not load Settings.fds" in result.output
    assert "FATAL: SwarmUI exited while starting" in result.output


def test_start_sh_is_valid_bash():
    subprocess.run(["bash", "-n", str(START_SH)], check=True)
    assert os.access(START_SH, os.X_OK)
