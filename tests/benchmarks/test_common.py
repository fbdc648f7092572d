"""The benchmarks' shared helpers, and that run_all.py runs the benchmarks and nothing else."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.benchmarks import run_all
from tests.benchmarks.common import cleaning_up, figure, percentile
from tests.support.processes import REPO_ROOT

BENCHMARKS = [
    "burst_throughput",
    "handler_overhead",
    "history_scale",
    "inventory_sync",
    "pipeline_latency",
    "warm_pool",
]


def test_percentile_is_the_nearest_rank():
    samples = [float(n) for n in range(20, 0, -1)]
    assert percentile(samples, 0.5) == 10.0
    assert percentile(samples, 0.95) == 19.0
    assert percentile(samples, 0.0) == 1.0
    assert percentile([3.0], 0.95) == 3.0


def test_figure_divides_before_rounding_and_keeps_the_architecture_key_order():
    shown = figure("p50", 1.23456, 0.98765, target=1.1, unit="s", digits=2, queries=7)
    assert list(shown) == ["name", "value", "floor", "ratio", "target", "unit", "queries"]
    assert (shown["value"], shown["floor"]) == (1.23, 0.99)
    assert shown["ratio"] == round(1.23456 / 0.98765, 3) != round(1.23 / 0.99, 3)


def test_figure_without_a_floor_has_no_ratio():
    shown = figure("writes", 0, 0, target=0, unit="rows", target_applies_to="value")
    assert shown == {
        "name": "writes",
        "value": 0,
        "floor": 0,
        "ratio": None,
        "target": 0,
        "target_applies_to": "value",
        "unit": "rows",
    }
    assert list(shown).index("target_applies_to") == list(shown).index("target") + 1


def test_cleaning_up_runs_every_step_newest_first_even_past_a_failing_one(capsys):
    ran = []

    def failing() -> None:
        ran.append("failing")
        raise RuntimeError("the server is gone")

    with cleaning_up() as cleanups:
        cleanups.append(lambda: ran.append("first"))
        cleanups.append(failing)
        cleanups.append(lambda: ran.append("last"))
    assert ran == ["last", "failing", "first"]
    assert "cleanup failed: the server is gone" in capsys.readouterr().err


def test_run_all_runs_every_benchmark_and_none_of_their_helpers():
    assert [path.stem for path in run_all.benchmarks()] == BENCHMARKS


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_starts_from_the_repository_root(name):
    """`python tests/benchmarks/NAME.py` finds the shared module (`--help` stops before work)."""
    finished = subprocess.run(
        [sys.executable, f"tests/benchmarks/{name}.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage:")
