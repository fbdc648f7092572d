"""Benchmark: does the prompt history stay as fast at 100,000 generations as at 100?

Seeds a throwaway PostgreSQL database with a big team (100,000 generations, 200,000 images) and a
small team (100 generations, 200 images) built the same way, then requests, as a signed-in member
of each team, the same history views through the real URLs (the history page and the API list
route, in-process through django.test.Client): the first page, a page deep in the history,
searches for a word of mid selectivity (~2% of prompts), a rare one (~0.1%), a common one (~30%),
last month's project codename and a partial word, and two filtered pages (model + status +
starred; a tag). Search words and filter values are picked from the big team's history, which
stays as realistic as the seeder makes it; the small team's history is then arranged so that
each request fills a whole page there too (fill_pages), and its deep page starts where exactly
one page and one more row are left. Both sides therefore show as many rows, and a next page:
the ratio measures the size of the history, not 24 rows rendered against 2 (the benchmark
fails if the row counts differ). Every response is checked against `history_page`, so that a
route ignoring a parameter cannot be timed on the wrong question.

- value: the big team's server time (median of --repeats after --warmup) and query count
- floor: the same request for the small team, interleaved so both see the same machine load
- ratio = value / floor; targets: ≤ 1.5 for time, 1.0 for queries (the count must not grow)
- also per request: `sql_ms` (time spent in the database) and `rows` (generations shown), each
  with its `_floor`.

    python tests/benchmarks/history_scale.py [--generations 100000] [--images-per-generation 2]
                                             [--repeats 15] [--explain]

The database server comes from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres;
when nothing answers there, a private cluster is started and stopped); the benchmark creates its
own database on it and drops it at the end. --explain prints EXPLAIN ANALYZE of the big team's
history queries to stderr. The last line printed is one JSON object in the format of
ARCHITECTURE.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import (
    DEFAULT_POSTGRES,
    cleaning_up,
    figure,
    log,
    postgres_answers,
    postgres_from_environment,
    print_result,
    throwaway_database,
)

SMALL_GENERATIONS = 100
MEMBERS = 20
TIME_TARGET = 1.5
QUERY_TARGET = 1.0
DEEP_FRACTION = 0.9
# Shares of the big team's history that the searched words should match: a word a person would
# really type ("lighthouse"), neither in every prompt nor in a handful; a rare one (the planner's
# hardest choice: walk newest first, or read every match from the index and sort); and a common
# one (found among the newest rows at once).
MID_SELECTIVITY = 0.02
RARE_SELECTIVITY = 0.001
COMMON_SELECTIVITY = 0.3
# How many of the small team's generations match each request (fill_pages): a page of 24, the
# row that shows there is more, and room to spare.
FILLED = 40

MODELS = [
    "OfficialStableDiffusion/sd_xl_base_1.0",
    "OfficialStableDiffusion/sd_xl_refiner_1.0",
    "OfficialStableDiffusion/sd3.5_large",
    "OfficialStableDiffusion/sd3.5_medium",
    "OfficialStableDiffusion/v1-5-pruned-emaonly",
    "Flux/flux1-dev-fp8",
    "Flux/flux1-schnell-fp8",
    "Flux/flux1-kontext-dev",
    "Juggernaut/juggernautXL_v9",
    "Juggernaut/juggernautXL_ragnarok",
    "RealVis/realvisxlV50",
    "RealVis/realvisxlV40_lightning",
    "DreamShaper/dreamshaperXL_turbo",
    "DreamShaper/dreamshaper_8",
    "Pony/ponyDiffusionV6XL",
    "Illustrious/illustriousXL_v01",
    "Animagine/animagine-xl-4.0",
    "NoobAI/noobaiXL_vpred10",
    "Playground/playground-v2.5-1024px",
    "Kolors/kolors",
    "HiDream/hidream_i1_fast",
    "Chroma/chroma-unlocked-v37",
    "Wan/wan2.1_t2i_14B",
    "Qwen/qwen_image_fp8",
    "SDXL/copaxTimelessXL_v13",
    "SDXL/zavychromaxl_v100",
    "SDXL/albedobaseXL_v21",
    "SDXL/nightvisionXL_v9",
    "SD15/epicrealism_naturalSin",
    "SD15/absolutereality_v181",
]

# A few hundred words of the kind people put in prompts. Word frequency follows Zipf's law over a
# shuffled order, so searches range from "in every prompt" to "in a handful".
_VOCABULARY_TEXT = """
        portrait landscape cityscape seascape still life close-up macro aerial panorama interior
        woman man child girl boy elder knight wizard witch robot android cyborg astronaut samurai
        ninja pirate sailor soldier dancer musician painter farmer monk queen king princess dragon
        phoenix unicorn griffin wolf fox cat dog horse owl raven eagle tiger lion bear deer rabbit
        whale dolphin octopus jellyfish butterfly beetle spider koi shark turtle frog lizard snake
        castle cathedral temple pagoda lighthouse windmill cottage cabin mansion skyscraper tower
        bridge harbor market alley street plaza garden greenhouse library laboratory workshop tavern
        forest jungle desert canyon glacier volcano mountain valley meadow river waterfall lake
        ocean beach island cliff cave swamp marsh tundra savanna reef nebula galaxy planet moon
        sunrise sunset dusk dawn midnight twilight noon storm rain snow fog mist thunder lightning
        rainbow aurora eclipse wind blizzard drizzle haze smoke fire ember flame ice frost crystal
        golden silver crimson scarlet azure cobalt emerald jade amber violet indigo teal turquoise
        ivory obsidian copper bronze rust pastel neon monochrome sepia vibrant muted saturated
        cinematic dramatic moody serene whimsical ethereal surreal gothic baroque rococo minimalist
        brutalist futuristic retro vintage steampunk cyberpunk solarpunk dieselpunk art-deco
        nouveau impressionist expressionist cubist watercolor gouache oil acrylic charcoal pencil
        ink woodcut linocut lithograph mosaic stained-glass origami papercraft claymation lowpoly
        voxel isometric pixel anime manga comic illustration concept photograph photorealistic
        hyperrealistic painterly sketch render octane unreal blender volumetric bokeh depth field
        wide-angle telephoto fisheye tilt-shift long-exposure backlit rim-light softbox studio
        golden-hour blue-hour overcast candlelight moonlight lantern spotlight glow shadow
        silhouette reflection refraction caustics sparkle glitter dust particles embers bubbles
        velvet silk leather lace linen denim wool fur feathers scales armor cloak robe gown kimono
        crown helmet mask goggles scarf hat boots gloves jewelry necklace ring earrings tattoo
        freckles wrinkles smile tears laughter gaze profile pose running flying floating sitting
        dancing reading sleeping fighting singing cooking painting climbing swimming riding
        ancient medieval victorian modern postapocalyptic utopian dystopian abandoned overgrown
        ruined flooded frozen burning floating hidden secret forgotten enchanted haunted sacred
        cozy lonely crowded quiet bustling peaceful chaotic majestic tiny giant colossal intricate
        detailed ornate delicate rough weathered polished glossy matte translucent iridescent
        holographic glowing bioluminescent fractal geometric symmetrical asymmetrical spiral
        tea coffee bread fruit flowers roses lilies orchids sunflowers cherry blossoms lotus moss
        ferns vines mushrooms bamboo cactus pine oak willow maple birch palm lavender wheat
        train tram bicycle motorcycle car truck airship balloon sailboat submarine spaceship
        rocket satellite station city village town kingdom empire colony outpost fortress
"""
VOCABULARY = sorted(set(_VOCABULARY_TEXT.split()))

# Teams work in projects: for three weeks a codename is in half of the prompts, then never again.
# Searching one from last month is the case a newest-first walk handles worst (no match among
# the recent rows, thousands further back).
PROJECT_NAMES = [
    "halcyon",
    "juniper",
    "kestrel",
    "meridian",
    "nocturne",
    "quasar",
    "solstice",
    "tessellate",
    "umbra",
    "verdigris",
    "zephyr",
    "alcove",
]
PROJECT_DAYS = 21
HISTORY_DAYS = 365


def project_window(index: int) -> tuple[int, int]:
    """Days since the history began during which project `index` runs: one starts each month."""
    start = 5 + index * 30
    return start, start + PROJECT_DAYS


NEGATIVE_PROMPTS = [
    "",
    "blurry, low quality, watermark",
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, cropped",
    "deformed, disfigured, ugly, jpeg artifacts, signature",
    "nsfw, text, logo, frame, border",
    "oversaturated, overexposed, grainy, noisy",
]
TAG_NAMES = [
    "keeper",
    "client-acme",
    "client-northwind",
    "portfolio",
    "wip",
    "reference",
    "moodboard",
    "print",
    "social",
    "needs-upscale",
    "archive",
    "experiment",
]
SIZES = [(1024, 1024), (832, 1216), (1216, 832), (768, 1344), (512, 512), (896, 1152)]
STEPS = [4, 8, 20, 25, 30, 40]
CFG_SCALES = [1.0, 3.5, 5.0, 7.0, 7.5]
FAILURES = [
    "SwarmUI: Model not found.",
    "CUDA out of memory. Tried to allocate 2.50 GiB",
    "Worker lost during job",
]


def start_private_postgres(directory: Path) -> tuple[str, Callable[[], None]]:
    """A throwaway cluster on a free port (toolchain.md: initdb + pg_ctl, fsync off, run as the
    `postgres` user when we are root), and a function that stops it."""
    from tests.support.processes import free_port

    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            "No PostgreSQL answers at DATABASE_URL and initdb is not installed "
            "(apt-get install postgresql, or set DATABASE_URL to a server)."
        )
    bindir, data, port = Path(found).parent, directory / "data", free_port()
    as_owner = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(directory, user="postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_owner, bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off"
    pg_ctl = [*as_owner, bindir / "pg_ctl", "-D", data]
    subprocess.run(
        [*pg_ctl, "-l", directory / "postgres.log", "-w", "start", "-o", options],
        check=True,
        capture_output=True,
    )
    log(f"started a private PostgreSQL on port {port}")

    def stop() -> None:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    return f"postgres://postgres@127.0.0.1:{port}/postgres", stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=100_000, help="of the big team")
    parser.add_argument("--images-per-generation", type=float, default=2.0)
    parser.add_argument("--small-generations", type=int, default=SMALL_GENERATIONS)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the big team's history queries"
    )
    args = parser.parse_args()
    # Search words and filter values are picked from the histories: too small ones have none.
    if args.generations < 1000:
        parser.error("--generations: at least 1000")
    # The small team needs FILLED succeeded generations (fill_pages), ~92% of them succeed.
    if not 60 <= args.small_generations <= args.generations // 10:
        parser.error("--small-generations: at least 60 and at most a tenth of --generations")
    if args.images_per_generation < 0 or args.repeats < 1 or args.warmup < 0:
        parser.error("--images-per-generation and --warmup: 0 or more; --repeats: 1 or more")

    # The question is PostgreSQL's plans at scale; SQLite would answer a different one.
    server = postgres_from_environment() or DEFAULT_POSTGRES
    workdir = Path(tempfile.mkdtemp(prefix="swarmdeck-history-bench-"))
    with cleaning_up() as cleanups:
        cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        if not postgres_answers(server):
            server, stop = start_private_postgres(workdir)
            cleanups.append(stop)
        database_url = throwaway_database(workdir, cleanups, server=server)
        os.environ.update(
            {
                "DATABASE_URL": database_url,
                "DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "ALLOWED_HOSTS": "testserver",
                "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            }
        )
        return run(args)


def run(args) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The pages use {% static %}; without collectstatic the manifest storage would raise, and
    # WhiteNoise would warn about the missing STATIC_ROOT on every start.
    warnings.filterwarnings("ignore", message="No directory at")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    teams = seed(
        big=args.generations,
        small=args.small_generations,
        images_per_generation=args.images_per_generation,
    )
    log(f"seeded in {time.perf_counter() - started:.1f} s")
    for team in teams.values():
        log(
            f"  {team.label}: {team.generation_count:,} generations, "
            f"{team.image_count:,} images, {MEMBERS} members"
        )

    requests = history_requests(teams)
    results = measure(requests, teams, repeats=args.repeats, warmup=args.warmup)
    print_table(results)
    if args.explain:
        explain_history_queries(requests, teams["big"])
    print_result("history_scale", json_results(results))
    return 0


# --- seeding --------------------------------------------------------------------------------------


@dataclass
class SeededTeam:
    """A seeded team, its parts, and what its history holds (to pick requests from)."""

    label: str
    team: object
    member: object  # who makes the requests
    users: list
    endpoints: list
    tag_objects: list
    generation_count: int = 0
    image_count: int = 0
    prompt_words: Counter = field(default_factory=Counter)  # generations per word
    starred_succeeded_by_model: Counter = field(default_factory=Counter)
    tags: Counter = field(default_factory=Counter)  # generations per tag name


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    """Cumulative weights for random.choices: the first item common, the last rare."""
    return list(accumulate(1 / rank**exponent for rank in range(1, count + 1)))


class Seeder:
    """Rows for one shared timeline: ids increase with created_at across both teams, as they
    would in one database that several teams write to."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng, self.start = rng, start  # start: when the history begins
        self.words = VOCABULARY[:]
        rng.shuffle(self.words)
        self.word_weights = zipf_weights(len(self.words))
        self.model_weights = zipf_weights(len(MODELS), 0.9)
        self.member_weights = zipf_weights(MEMBERS, 0.8)
        self.tag_weights = zipf_weights(len(TAG_NAMES))

    def prompt(self, day: float) -> str:
        rng = self.rng
        words = rng.choices(self.words, cum_weights=self.word_weights, k=rng.randint(6, 18))
        # Commas every few words, like people write them.
        parts, chunk = [], []
        for word in words:
            chunk.append(word)
            if len(chunk) >= rng.randint(2, 4):
                parts.append(" ".join(chunk))
                chunk = []
        if chunk:
            parts.append(" ".join(chunk))
        for index, name in enumerate(PROJECT_NAMES):
            start, end = project_window(index)
            if start <= day < end and rng.random() < 0.5:
                parts.append(name)
        return "a " + ", ".join(parts)

    def status(self, newest_rank: int) -> str:
        if newest_rank < 3:  # the team's very latest ones are still in flight
            return ("running", "submitted", "queued")[newest_rank]
        roll = self.rng.random()
        if roll < 0.92:
            return "succeeded"
        if roll < 0.97:
            return "failed"
        if roll < 0.99:
            return "cancelled"
        return "timed_out"

    def generation(
        self, seeded: SeededTeam, *, pk: int, created_at: datetime, newest_rank: int
    ) -> dict:
        """One generations_generation row (image_count is set once images are dealt out)."""
        rng = self.rng
        status = self.status(newest_rank)
        finished = status not in ("queued", "submitted", "running")
        width, height = rng.choice(SIZES)
        delay_ms = rng.randint(200, 90_000)
        execution_ms = rng.randint(2_000, 60_000) if status == "succeeded" else None
        submitted_at = created_at + timedelta(milliseconds=rng.randint(20, 400))
        started_at = submitted_at + timedelta(milliseconds=delay_ms) if finished else None
        run_ms = execution_ms or rng.randint(500, 30_000)
        finished_at = started_at + timedelta(milliseconds=run_ms) if finished else None
        return {
            "id": pk,
            "team_id": seeded.team.pk,
            "user_id": rng.choices(seeded.users, cum_weights=self.member_weights)[0].pk,
            "endpoint_id": seeded.endpoints[0 if rng.random() < 0.8 else rng.randint(1, 2)].pk,
            "retry_of_id": None,
            "prompt": self.prompt(day=(created_at - self.start).total_seconds() / 86400),
            "negative_prompt": rng.choice(NEGATIVE_PROMPTS),
            "model": rng.choices(MODELS, cum_weights=self.model_weights)[0],
            "width": width,
            "height": height,
            "steps": rng.choice(STEPS),
            "cfg_scale": rng.choice(CFG_SCALES),
            "seed": rng.randrange(2**32),
            "image_count": 0,
            "extra_params": '{"sampler": "euler_a"}' if rng.random() < 0.3 else "{}",
            "starred": status == "succeeded" and rng.random() < 0.05,
            "status": status,
            "runpod_job_id": "" if status == "queued" else f"{uuid.UUID(int=rng.getrandbits(128))}",
            "webhook_token": f"{rng.getrandbits(192):048x}",
            "submit_attempts": 0 if status == "queued" else 1,
            "submit_claimed_at": None,
            "delay_ms": delay_ms if finished else None,
            "execution_ms": execution_ms,
            "cost": Decimal(execution_ms or 0) * Decimal("0.00000031") if finished else None,
            "error": rng.choice(FAILURES) if status == "failed" else "",
            "progress": "{}",
            "progress_percent": 100 if status == "succeeded" else None,
            "worker_id": f"worker-{rng.randint(1, 40)}" if finished else "",
            "created_at": created_at,
            "submitted_at": None if status == "queued" else submitted_at,
            "started_at": started_at,
            "finished_at": finished_at,
            "last_checked_at": finished_at,
        }

    def tags(self, seeded: SeededTeam) -> set:
        """About one generation in seven carries one or two of the team's tags."""
        if self.rng.random() >= 0.15:
            return set()
        return set(self.rng.choices(seeded.tag_objects, cum_weights=self.tag_weights, k=2))

    def images(self, own: list[dict], images_per_generation: float) -> list[dict]:
        """Every succeeded generation gets at least one image; the rest of the wanted total is
        dealt out at random, so counts vary (1 to 6 or so) the way batch sizes do."""
        rng = self.rng
        succeeded = [row for row in own if row["status"] == "succeeded"]
        wanted = round(len(own) * images_per_generation)
        counts = Counter()
        if succeeded and wanted >= len(succeeded):
            counts.update(row["id"] for row in succeeded)
            counts.update(row["id"] for row in rng.choices(succeeded, k=wanted - len(succeeded)))
        elif succeeded:
            counts.update(row["id"] for row in rng.sample(succeeded, wanted))
        images = []
        for row in own:
            # A generation that produced nothing still asked for some images.
            row["image_count"] = counts[row["id"]] or rng.choice((1, 1, 2, 4))
            images.extend(self.image(row, index) for index in range(counts[row["id"]]))
        return images

    def image(self, generation: dict, index: int) -> dict:
        """One generations_generatedimage row; the files need not exist (lists show URLs)."""
        created_at = generation["created_at"]
        folder = f"generations/{generation['team_id']}/{created_at:%Y/%m}/{generation['id']}"
        name = f"{created_at:%Y-%m-%d}-{generation['id']:07d}-{index}.png"
        seed_value = generation["seed"] + index
        # Roughly what SwarmUI embeds; list pages should not need it, so it costs what it would.
        metadata = {
            "sui_image_params": {
                "prompt": generation["prompt"],
                "negativeprompt": generation["negative_prompt"],
                "model": generation["model"],
                "seed": seed_value,
                "steps": generation["steps"],
                "cfgscale": generation["cfg_scale"],
                "width": generation["width"],
                "height": generation["height"],
            }
        }
        return {
            "generation_id": generation["id"],
            "index": index,
            "file": f"{folder}/{name}",
            "thumbnail": f"{folder}/thumb-{name[:-4]}.webp",
            "filename": name,
            "mime": "image/png",
            "width": generation["width"],
            "height": generation["height"],
            "bytes": self.rng.randint(900_000, 3_500_000),
            "sha256": f"{self.rng.getrandbits(256):064x}",
            "seed": seed_value,
            "metadata": json.dumps(metadata),
            "created_at": generation["finished_at"] or created_at,
        }


def create_team(label: str, name: str, password_hash: str) -> SeededTeam:
    """The team with its members, three endpoints and its tags (the ORM: a few dozen rows)."""
    from django.contrib.auth import get_user_model

    from dashboard.accounts.models import Membership, Role, Team
    from dashboard.fleet.models import RunPodEndpoint
    from dashboard.generations.models import Tag

    team = Team.objects.create(name=name, slug=f"{label}-studio")
    users = get_user_model().objects.bulk_create(
        get_user_model()(
            username=f"{label}-member-{n}", email=f"{label}{n}@example.com", password=password_hash
        )
        for n in range(MEMBERS)
    )
    Membership.objects.bulk_create(
        Membership(team=team, user=user, role=Role.OWNER if n == 0 else Role.MEMBER)
        for n, user in enumerate(users)
    )
    endpoints = []
    for n, endpoint_name in enumerate(("production", "staging", "big-gpu")):
        endpoint = RunPodEndpoint(
            team=team,
            name=endpoint_name,
            endpoint_id=f"{label}{n}bench",
            default_model=MODELS[0],
            is_default=n == 0,
            gpu_price_per_second=Decimal("0.00031"),
        )
        endpoint.set_api_key(f"{label}-bench-key-{n}")
        endpoint.save()
        endpoints.append(endpoint)
    tags = Tag.objects.bulk_create(Tag(team=team, name=tag) for tag in TAG_NAMES)
    return SeededTeam(
        label=label, team=team, member=users[0], users=users, endpoints=endpoints, tag_objects=tags
    )


def seed(*, big: int, small: int, images_per_generation: float) -> dict[str, SeededTeam]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    rng = random.Random(5)  # the same history on every run
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=HISTORY_DAYS)
    seeder = Seeder(rng, start)
    password_hash = make_password("bench-password-not-secret")  # hashed once, not 40 times
    teams = {
        "big": create_team("big", "Big Studio", password_hash),
        "small": create_team("small", "Small Studio", password_hash),
    }

    # One timeline over a year; which slots belong to the small team is random.
    total = big + small
    small_slots = set(rng.sample(range(total), small))
    offsets = sorted(rng.random() * HISTORY_DAYS * 86400 for _ in range(total))
    slots = {"big": [], "small": []}
    for slot, offset in enumerate(offsets):
        slots["small" if slot in small_slots else "big"].append((slot + 1, offset))
    rows, links = {}, {}
    # The big team first: what its history holds picks the requests (Targets), and the small
    # team's history is then arranged so that each of them fills a page there too.
    for label in ("big", "small"):
        seeded, count = teams[label], len(slots[label])
        rows[label] = [
            seeder.generation(
                seeded,
                pk=pk,
                created_at=start + timedelta(seconds=offset),
                newest_rank=count - 1 - position,
            )
            for position, (pk, offset) in enumerate(slots[label])
        ]
        links[label] = [
            {"generation_id": row["id"], "tag_id": tag.pk}
            for row in rows[label]
            for tag in seeder.tags(seeded)
        ]
        if label == "big":
            count_history(seeded, rows[label], links[label])
            targets = choose_targets(seeded)
        else:
            fill_pages(rng, seeded, rows[label], links[label], targets)
            count_history(seeded, rows[label], links[label])

    images = []
    for label, seeded in teams.items():
        team_images = seeder.images(rows[label], images_per_generation)
        seeded.image_count = len(team_images)
        images.extend(team_images)
    images.sort(key=lambda image: (image["generation_id"], image["index"]))  # ids follow time
    generations = sorted(rows["big"] + rows["small"], key=lambda row: row["id"])

    copy_rows("generations_generation", generations)
    copy_rows("generations_generation_tags", links["big"] + links["small"])
    copy_rows("generations_generatedimage", images)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('generations_generation', 'id'), %s)", [total]
        )
        # VACUUM too, not only ANALYZE: a table written over a year has been vacuumed by
        # autovacuum many times (index-only scans need its visibility map); one filled in
        # seconds would otherwise be vacuumed by autovacuum in the middle of the measurement.
        started = time.perf_counter()
        cursor.execute("VACUUM (ANALYZE)")
        log(f"  VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")
    return teams


def count_history(seeded: SeededTeam, rows: list[dict], links: list[dict]) -> None:
    """What the history holds, to pick searches and filters with a known selectivity."""
    names = {tag.pk: tag.name for tag in seeded.tag_objects}
    seeded.generation_count = len(rows)
    seeded.prompt_words = Counter(
        word for row in rows for word in set(row["prompt"].replace(",", "").split())
    )
    seeded.starred_succeeded_by_model = Counter(
        row["model"] for row in rows if row["starred"] and row["status"] == "succeeded"
    )
    seeded.tags = Counter(names[link["tag_id"]] for link in links)


@dataclass(frozen=True)
class Targets:
    """What the benchmarked requests look for, picked from the big team's history."""

    word: str  # a word of mid selectivity
    rare: str
    common: str
    project: str  # last month's project codename
    prefix: str  # the start of `prefix_word`, itself no word of the vocabulary
    prefix_word: str
    model: str  # with status succeeded and starred
    tag: str


def choose_targets(big: SeededTeam) -> Targets:
    def words_near(share: float) -> list[str]:
        """Vocabulary words by how close their share of big-team prompts is to `share`."""
        target = share * big.generation_count
        words = [w for w in VOCABULARY if w.isalpha()]
        return sorted(words, key=lambda w: (abs(big.prompt_words[w] - target), w))

    # The project that ended about a month ago.
    last_month = HISTORY_DAYS - 35
    project = min(
        PROJECT_NAMES,
        key=lambda name: abs(project_window(PROJECT_NAMES.index(name))[1] - last_month),
    )
    # A partial word: the start of a real word that is not itself a word of the vocabulary, so
    # only prefix matching can find it.
    prefix_word = next(
        w for w in words_near(MID_SELECTIVITY) if len(w) >= 8 and w[:5] not in VOCABULARY
    )
    by_use = sorted(big.tags, key=lambda t: (big.tags[t], t))
    return Targets(
        word=next(w for w in words_near(MID_SELECTIVITY) if len(w) >= 7),
        rare=words_near(RARE_SELECTIVITY)[0],
        common=words_near(COMMON_SELECTIVITY)[0],
        project=project,
        prefix=prefix_word[:5],
        prefix_word=prefix_word,
        model=max(big.starred_succeeded_by_model, key=lambda m: big.starred_succeeded_by_model[m]),
        tag=by_use[len(by_use) // 2],
    )


def fill_pages(
    rng: random.Random, seeded: SeededTeam, rows: list[dict], links: list[dict], targets: Targets
) -> None:
    """Arrange the small team's history so that every benchmarked request fills a whole page
    there too (FILLED rows match each): the floor is then the same page on a short history,
    and the ratio measures the history's size, not 24 rows rendered against 2."""
    for word in (targets.word, targets.rare, targets.common, targets.project, targets.prefix_word):
        for row in rng.sample(rows, FILLED):
            row["prompt"] += f", {word}"
    succeeded = [row for row in rows if row["status"] == "succeeded"]
    for row in rng.sample(succeeded, FILLED):
        row["model"], row["starred"] = targets.model, True
    [tag] = [tag for tag in seeded.tag_objects if tag.name == targets.tag]
    tagged = {link["generation_id"] for link in links if link["tag_id"] == tag.pk}
    untagged = [row for row in rows if row["id"] not in tagged]
    for row in rng.sample(untagged, max(0, FILLED - len(tagged))):
        links.append({"generation_id": row["id"], "tag_id": tag.pk})


def ensure_all_required_columns(table: str, columns) -> None:
    """Fail loudly when a migration added a NOT NULL column without a database default that this
    seeder does not fill (Django defaults live in Python, which COPY bypasses)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT column_name FROM information_schema.columns
            WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL
              AND is_generated = 'NEVER' AND is_identity = 'NO'
            """,
            [table],
        )
        missing = sorted({row[0] for row in cursor.fetchall()} - set(columns))
    if missing:
        raise RuntimeError(f"history_scale cannot fill {table}.{', '.join(missing)}: update it")


def copy_rows(table: str, rows: list[dict]) -> None:
    """COPY is ~10x faster than INSERT for a hundred thousand rows."""
    from django.db import connection
    from psycopg import sql

    if not rows:
        return
    columns = list(rows[0])
    ensure_all_required_columns(table, columns)
    connection.ensure_connection()
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    started = time.perf_counter()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])
    log(f"  COPY {len(rows):,} rows into {table} in {time.perf_counter() - started:.1f} s")


# --- the requests ---------------------------------------------------------------------------------


@dataclass
class HistoryRequest:
    name: str
    params: dict[str, dict[str, str]]  # per team label: the query string


def history_requests(teams: dict[str, SeededTeam]) -> list[HistoryRequest]:
    """The same requests for both teams; search words and filter values come from the big
    team's history (choose_targets), so that they have the intended selectivity there."""
    from dashboard.generations.history import cursor_after
    from dashboard.generations.models import Generation
    from dashboard.generations.views.history import HISTORY_PAGE_SIZE

    big = teams["big"]
    targets = choose_targets(big)
    log(
        "big-team prompts with: "
        + ", ".join(
            f"{w!r} {big.prompt_words[w]:,}"
            for w in (targets.word, targets.rare, targets.common, targets.project)
        )
        + f"; prefix {targets.prefix!r}, model {targets.model!r}, "
        + f"tag {targets.tag!r} ({big.tags[targets.tag]:,})"
    )

    # The big team's page ~90% deep; the small team's at the row that leaves exactly one full
    # page and the row that shows there is more (~74% of 100), as the big team's page has.
    deep = {}
    for label, seeded in teams.items():
        newest_first = Generation.objects.filter(team=seeded.team).order_by("-id")
        if label == "big":
            position = int(DEEP_FRACTION * seeded.generation_count)
        else:
            position = seeded.generation_count - (HISTORY_PAGE_SIZE + 2)
        deep[label] = {"cursor": cursor_after(newest_first[position])}

    def same(params: dict[str, str]) -> dict[str, dict[str, str]]:
        return {label: params for label in teams}

    return [
        HistoryRequest("first", same({})),
        HistoryRequest("deep", deep),
        HistoryRequest("search_word", same({"q": targets.word})),
        HistoryRequest("search_rare", same({"q": targets.rare})),
        HistoryRequest("search_common", same({"q": targets.common})),
        HistoryRequest("search_last_month", same({"q": targets.project})),
        HistoryRequest("search_prefix", same({"q": targets.prefix})),
        HistoryRequest(
            "filter_model_status_starred",
            same({"model": targets.model, "status": "succeeded", "starred": "true"}),
        ),
        HistoryRequest("filter_tag", same({"tag": targets.tag})),
    ]


ROUTES = {"page": "/history/", "api": "/api/v1/generations"}


def expected_page(team, params: dict[str, str]):
    """The page the back end finds, asked directly: what each response must show."""
    from dashboard.generations.history import history_page, parse_history_query
    from dashboard.generations.views.history import HISTORY_PAGE_SIZE

    query = parse_history_query(params)
    return history_page(team, query, cursor=params.get("cursor"), page_size=HISTORY_PAGE_SIZE)


def shown_ids(route: str, response) -> list[int]:
    """The generations a response shows, in order (the page marks each row or tile)."""
    if route == "api":
        return [generation["id"] for generation in response.json()["results"]]
    marked = re.findall(r'data-generation="(\d+)"', response.content.decode())
    return list(dict.fromkeys(int(pk) for pk in marked))  # a grid has a tile per image


@dataclass
class Measured:
    name: str
    ms: dict[str, float]  # server time
    sql_ms: dict[str, float]  # the part of it spent waiting for the database
    queries: dict[str, int]
    rows: dict[str, int]  # generations shown: fewer rows render faster, whatever the history


class SqlTimer:
    """Adds up the time of every SQL statement run while it is installed (execute_wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def measure(
    requests: list[HistoryRequest], teams: dict[str, SeededTeam], *, repeats: int, warmup: int
) -> list[Measured]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = {}
    for label, seeded in teams.items():
        clients[label] = Client()
        clients[label].force_login(seeded.member)

    def get(label: str, url: str):
        """The response, its server time and its SQL time (ms)."""
        timer = SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = clients[label].get(url)
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(
                f"{label} team: GET {url} → {response.status_code}: {response.content[:300]!r}"
            )
        return response, elapsed, timer.seconds * 1000

    results = []
    for request in requests:
        pages = {
            label: expected_page(seeded.team, request.params[label])
            for label, seeded in teams.items()
        }
        expected = {label: [g.pk for g in page.generations] for label, page in pages.items()}
        # The floor must be the same page on a short history: as many rows, and a next page
        # on both sides or on neither (fill_pages arranges the small team for that).
        shape = {
            label: (len(expected[label]), bool(page.next_cursor)) for label, page in pages.items()
        }
        if shape["big"] != shape["small"] or not expected["big"]:
            raise RuntimeError(
                f"{request.name}: (rows, more) of the big team's page {shape['big']}, "
                f"of the small team's {shape['small']}; the seed is wrong"
            )
        for route, path in ROUTES.items():
            name = f"{request.name}/{route}"
            urls = {
                label: f"{path}?{urlencode(request.params[label])}"
                if request.params[label]
                else path
                for label in teams
            }
            queries, rows = {}, {}
            for label in teams:
                for _ in range(warmup):
                    get(label, urls[label])
                with CaptureQueriesContext(connection) as captured:
                    response, _, _ = get(label, urls[label])
                queries[label] = len(captured)
                # The response must show what the back end found: a route that ignored a
                # parameter would otherwise be timed on the wrong question.
                shown = shown_ids(route, response)
                if shown != expected[label][: len(shown)] or bool(shown) != bool(expected[label]):
                    raise RuntimeError(
                        f"{name}: the {label} team's response shows {shown[:5]}…, "
                        f"the back end finds {expected[label][:5]}…"
                    )
                rows[label] = len(shown)
            if rows["big"] != rows["small"]:
                raise RuntimeError(
                    f"{name}: the big team's response shows {rows['big']} generations, the small "
                    f"team's {rows['small']}; the ratio would measure rendering, not the history"
                )
            times = {label: [] for label in teams}
            sql_times = {label: [] for label in teams}
            for repeat in range(repeats):
                # Alternate who goes first, so neither team always gets the warmer cache.
                order = list(teams) if repeat % 2 == 0 else list(reversed(teams))
                for label in order:
                    _, elapsed, sql_elapsed = get(label, urls[label])
                    times[label].append(elapsed)
                    sql_times[label].append(sql_elapsed)
            ms = {label: statistics.median(values) for label, values in times.items()}
            sql_ms = {label: statistics.median(values) for label, values in sql_times.items()}
            results.append(Measured(name, ms=ms, sql_ms=sql_ms, queries=queries, rows=rows))
            log(f"  {name}: big {ms['big']:.1f} ms, small {ms['small']:.1f} ms")
    return results


def print_table(results: list[Measured]) -> None:
    log("")
    log(
        f"{'request':34} {'big ms':>7} {'small ms':>8} {'ratio':>5}   "
        f"{'sql ms big/small':>16}   {'queries':>7}   {'rows':>7}"
    )
    for result in results:
        big, small = result.ms["big"], result.ms["small"]
        log(
            f"{result.name:34} {big:7.1f} {small:8.1f} {big / small:5.2f}   "
            f"{result.sql_ms['big']:7.1f} / {result.sql_ms['small']:<6.1f}   "
            f"{result.queries['big']:>3} / {result.queries['small']:<3}   "
            f"{result.rows['big']:>3} / {result.rows['small']:<3}"
        )


def json_results(results: list[Measured]) -> list[dict]:
    out = []
    for result in results:
        big, small = result.ms["big"], result.ms["small"]
        out.append(
            figure(
                result.name,
                big,
                small,
                target=TIME_TARGET,
                unit="ms",
                digits=2,
                queries=result.queries["big"],
                queries_floor=result.queries["small"],
                sql_ms=round(result.sql_ms["big"], 2),
                sql_ms_floor=round(result.sql_ms["small"], 2),
                rows=result.rows["big"],
                rows_floor=result.rows["small"],
            )
        )
    for result in results:
        big, small = result.queries["big"], result.queries["small"]
        out.append(
            figure(f"{result.name}/queries", big, small, target=QUERY_TARGET, unit="queries")
        )
    return out


def explain_history_queries(requests: list[HistoryRequest], seeded: SeededTeam) -> None:
    """EXPLAIN ANALYZE, to stderr, of each read of the history tables behind each big-team
    request (sessions, users and memberships are the same for every history size)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(seeded.member)
    for request in requests:
        for route, path in ROUTES.items():
            params = request.params["big"]
            with CaptureQueriesContext(connection) as captured:
                client.get(f"{path}?{urlencode(params)}" if params else path)
            # Only reads: EXPLAIN ANALYZE runs the statement.
            reads = [
                query["sql"]
                for query in captured.captured_queries
                if query["sql"].startswith("SELECT") and '"generations_' in query["sql"]
            ]
            for sql in reads:
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                statement = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", sql, count=1)
                log(f"\n== {request.name}/{route}: {statement}\n{plan}")


if __name__ == "__main__":
    sys.exit(main())
