"""What the benchmarks in this folder share: progress on stderr, the result line of
ARCHITECTURE.md, a throwaway database for one run, and the team and endpoint they drive.

Not a benchmark itself: run_all.py skips it. Scripts import it as `tests.benchmarks.common` after
putting the repository root on sys.path. Django is imported only inside the functions that need
it, since each script configures its environment before Django starts.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Where a benchmark looks for PostgreSQL when DATABASE_URL names none (history_scale and
# inventory_sync measure PostgreSQL's plans and are worth little on SQLite).
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# The RunPod emulator's API key unless told otherwise (emulators/runpod/config.py).
EMULATOR_API_KEY = "local-dev-key"
DEFAULT_MODEL = "OfficialStableDiffusion/sd_xl_base_1.0"

Cleanups = list[Callable[[], object]]


def log(message: str = "") -> None:
    """Progress goes to stderr, so that stdout carries only the result line."""
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `share` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- the result line ------------------------------------------------------------------------------
def figure(
    name: str,
    value: float,
    floor: float,
    *,
    target: float | None,
    unit: str,
    digits: int = 3,
    ratio_digits: int = 3,
    target_applies_to: str | None = None,
    **extra: object,
) -> dict:
    """One entry of `results`: value and floor rounded to `digits`, and ratio = value / floor
    computed before rounding (None when there is no floor to divide by). `extra` keys follow
    `unit`."""
    shown: dict = {
        "name": name,
        "value": round(value, digits),
        "floor": round(floor, digits),
        "ratio": round(value / floor, ratio_digits) if floor else None,
        "target": target,
    }
    if target_applies_to is not None:  # e.g. "value": the target bounds the value, not the ratio
        shown["target_applies_to"] = target_applies_to
    return {**shown, "unit": unit, **extra}


def print_result(benchmark: str, results: list[dict], details: dict | None = None) -> None:
    """The last line on stdout, the one run_all.py reads."""
    document: dict = {"benchmark": benchmark, "results": results}
    if details is not None:
        document["details"] = details
    print(json.dumps(document))


# --- one run's throwaway state --------------------------------------------------------------------
@contextmanager
def cleaning_up() -> Iterator[Cleanups]:
    """A list to append undo steps to as things start; on exit they run newest first. A failing
    step is logged, not raised, so that the ones after it still run."""
    steps: Cleanups = []
    try:
        yield steps
    finally:
        for step in reversed(steps):
            try:
                step()
            except Exception as exc:  # report it and go on cleaning up
                log(f"cleanup failed: {exc}")


def postgres_from_environment() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server, else None."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


def maintenance_url(url: str) -> str:
    """The `postgres` database of the server `url` points at."""
    return url.rsplit("/", 1)[0] + "/postgres"


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(maintenance_url(url), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def create_postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of `url`, and a function that drops it. Its name is
    `swarmdeck_bench_` and a random suffix: never a database someone else uses."""
    import psycopg
    from psycopg import sql

    name = f"swarmdeck_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(maintenance_url(url), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        from django.apps import apps

        if apps.ready:  # let go of our own connections before forcing everyone else's closed
            from django.db import connections

            connections.close_all()
        with psycopg.connect(maintenance_url(url), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return url.rsplit("/", 1)[0] + f"/{name}", drop


def throwaway_database(workdir: Path, cleanups: Cleanups, *, server: str | None) -> str:
    """DATABASE_URL for one run: a new database on the PostgreSQL `server`, dropped at cleanup,
    or, with no server, a SQLite file in `workdir`."""
    if server is None:
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    database_url, drop = create_postgres_database(server)
    cleanups.append(drop)
    return database_url


# --- what the benchmarks drive (after django.setup()) ---------------------------------------------
def emulator_endpoint(*, team, api_base: str, **fields: object):
    """The team's default RunPodEndpoint, pointing at a RunPod emulator's `.../v2`."""
    from dashboard.fleet.models import RunPodEndpoint

    endpoint = RunPodEndpoint(
        team=team,
        name="emulator",
        endpoint_id="local",
        api_base_url=api_base,
        rest_base_url=api_base,
        default_model=DEFAULT_MODEL,
        is_default=True,
        **fields,
    )
    endpoint.set_api_key(EMULATOR_API_KEY)
    endpoint.save()
    return endpoint


def member_api_token(team) -> str:
    """A REST API token of a new member ("bench") of `team`."""
    from django.contrib.auth import get_user_model

    from dashboard.accounts.models import Membership, Role
    from dashboard.accounts.services import api_token_create

    user = get_user_model().objects.create_user("bench", password="x" * 12)
    Membership.objects.create(team=team, user=user, role=Role.MEMBER)
    _, token = api_token_create(user=user, name="bench")
    return token
