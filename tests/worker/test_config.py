"""WorkerConfig.from_env: defaults, the original variables, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import MEGABYTE, ConfigError, WorkerConfig


def test_defaults_match_the_original_worker():
    config = WorkerConfig.from_env({})
    assert config.swarmui_api_url == "http://127.0.0.1:7801"
    assert config.startup_timeout == 1800
    assert config.generation_timeout == 600
    assert config.volume_path == Path("/runpod-volume")
    assert config.swarmui_dir == Path("/runpod-volume/SwarmUI")
    assert config.output_mode == "auto"
    assert config.output_inline_max_bytes == 8 * MEGABYTE
    assert config.huggingface_api_token is None


def test_original_variables_are_read():
    config = WorkerConfig.from_env(
        {
            "SWARMUI_API_URL": "http://swarm:7900/",
            "STARTUP_TIMEOUT": "60",
            "GENERATION_TIMEOUT": "120.5",
            "HUGGINGFACE_API_TOKEN": "hf_x",
            "VOLUME_PATH": "/data",
        }
    )
    assert config.swarmui_api_url == "http://swarm:7900"
    assert (config.startup_timeout, config.generation_timeout) == (60, 120.5)
    assert config.huggingface_api_token == "hf_x"
    assert config.swarmui_dir == Path("/data/SwarmUI")


def test_bucket_mode_reads_the_worker_comfyui_variables():
    config = WorkerConfig.from_env(
        {
            "OUTPUT_MODE": "Bucket",
            "BUCKET_NAME": "outputs",
            "BUCKET_ENDPOINT_URL": "http://s3.local",
            "BUCKET_ACCESS_KEY_ID": "k",
            "BUCKET_SECRET_ACCESS_KEY": "s",
        }
    )
    assert config.output_mode == "bucket"
    assert config.bucket.configured
    assert config.bucket.endpoint_url == "http://s3.local"


def test_empty_pid_file_variable_turns_process_watching_off():
    assert WorkerConfig.from_env({"SWARMUI_PID_FILE": ""}).swarmui_pid_file is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"STARTUP_TIMEOUT": "soon"}, "STARTUP_TIMEOUT must be a number"),
        ({"GENERATION_TIMEOUT": "-1"}, "GENERATION_TIMEOUT must be at least 0"),
        ({"OUTPUT_MODE": "email"}, "OUTPUT_MODE must be one of auto, inline, volume, bucket"),
        ({"OUTPUT_MODE": "bucket"}, "OUTPUT_MODE=bucket needs BUCKET_NAME"),
        ({"VALIDATE_SWARM_PARAMS": "perhaps"}, "VALIDATE_SWARM_PARAMS must be true or false"),
    ],
)
def test_bad_values_name_the_variable(environ, message):
    with pytest.raises(ConfigError, match=message):
        WorkerConfig.from_env(environ)


def test_every_variable_is_documented_in_the_readme():
    import re

    source = (Path(__file__).parents[2] / "worker" / "config.py").read_text()
    readme = (Path(__file__).parents[2] / "worker" / "README.md").read_text()
    variables = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source))
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not missing, f"not in worker/README.md: {missing}"
