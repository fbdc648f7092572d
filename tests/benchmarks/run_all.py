"""Run every benchmark in tests/benchmarks/ and print one table and one JSON document.

Each `NAME.py` runs as its own process from the repository root (its progress goes to stderr as it
happens); its last JSON line on stdout is its result. The table (every figure, its floor, the ratio
and the target) goes to stderr, the combined JSON to stdout:

    {"benchmarks": [{"benchmark": NAME, "results": [...]}, ...], "failed": [NAME, ...]}

The exit status is non-zero if any benchmark failed or printed no result.

    python tests/benchmarks/run_all.py [--quick] [--only NAME ...]

`--quick` passes `--quick` to each benchmark that understands it and smaller sizes to the others
(QUICK_ARGS): the whole suite in minutes, with figures that are rougher but of the same kind.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import log

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

# Sizes for `--quick` of benchmarks that have no `--quick` of their own.
QUICK_ARGS = {
    "handler_overhead": ["--jobs", "20"],
    "pipeline_latency": ["--runs", "10", "--warmup", "1"],
    "history_scale": ["--generations", "10000", "--repeats", "3", "--warmup", "1"],
    "inventory_sync": ["--objects", "5000"],
}


def benchmarks() -> list[Path]:
    """Every NAME.py here but this runner, the helpers the benchmarks share, and their tests."""
    return sorted(
        path
        for path in HERE.glob("*.py")
        if path.name not in (Path(__file__).name, "common.py")
        and not path.name.startswith(("_", "test_"))
    )


def arguments(path: Path, quick: bool) -> list[str]:
    if not quick:
        return []
    if '"--quick"' in path.read_text():
        return ["--quick"]
    return QUICK_ARGS.get(path.stem, [])


def last_json_line(output: str) -> dict | None:
    for line in reversed(output.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "results" in parsed:
            return parsed
    return None


def run(path: Path, extra: list[str]) -> tuple[dict | None, float]:
    started = time.monotonic()
    log(f"== {path.stem} {' '.join(extra)}".rstrip())
    finished = subprocess.run(
        [sys.executable, str(path), *extra],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=None,  # progress shows as it happens
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    result = last_json_line(finished.stdout) if finished.returncode == 0 else None
    if result is None:
        log(f"!! {path.stem} failed (exit {finished.returncode}) after {seconds:.0f} s")
        log(finished.stdout[-2000:])
    return result, seconds


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(results: list[dict]) -> str:
    rows = [("benchmark", "figure", "value", "floor", "ratio", "target", "unit")]
    for document in results:
        for figure in document["results"]:
            rows.append(
                (
                    document["benchmark"],
                    str(figure.get("name")),
                    *(_number(figure.get(key)) for key in ("value", "floor", "ratio", "target")),
                    str(figure.get("unit") or ""),
                )
            )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs of every benchmark")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these benchmarks")
    args = parser.parse_args(argv)
    chosen = [path for path in benchmarks() if not args.only or path.stem in args.only]
    unknown = set(args.only or ()) - {path.stem for path in chosen}
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")

    results, failed, durations = [], [], {}
    for path in chosen:
        result, durations[path.stem] = run(path, arguments(path, args.quick))
        if result is None:
            failed.append(path.stem)
        else:
            results.append(result)
    log()
    log(table(results))
    log()
    log("took " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items()))
    if failed:
        log(f"FAILED: {', '.join(failed)}")
    print(json.dumps({"benchmarks": results, "failed": failed, "quick": args.quick}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
