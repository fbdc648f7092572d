"""Benchmark: how close does the inventory sync come to a plain boto3 walk of the same volume?

A SwarmUI-like tree of --objects objects (default 50,000) is seeded into moto server (real S3 over
HTTP, seeded from a child process in threads): ~4,000 models under SwarmUI/Models/ (LoRAs, one
LoRA folder of 1,400 that lists in several pages, checkpoints, VAEs, embeddings, ...) with
`.swarm.json` side files (85%, a tenth of those embedding their preview) and preview images (70%),
dated output folders of up to ~1,500 images, SwarmUI's ComfyUI backend and sources, empty-directory
markers, keys with spaces, '#', '+' and non-ASCII letters, and RunPod's multipart staging folder.
Then, in this one process:

- first sync: `run_sync` of an endpoint whose inventory is empty, beside its floor;
- re-sync with --changed (1%) of the objects changed: model files rewritten, added and deleted,
  `.swarm.json` files and previews edited, outputs added and deleted, other files rewritten;
- re-sync of the unchanged tree: how many inventory rows (ModelFile, FolderUsage) it writes.

The floor is a plain boto3 walk of the same tree the same way, with no database and no parsing: one
folder at a time with Delimiter='/' and the sync's page size (1000), following continuation
tokens, not descending into the staging folder; after each folder's listing it GETs the side files
the sync has to read on that pass, in a thread pool as wide as the sync's (sync.SIDE_FILE_READERS),
reading each body and dropping it. First pass: every `.swarm.json` and preview image in a model
folder. Re-sync: only the side files this benchmark just edited or added. Both sides' requests are
counted (botocore events on the shared default session) and the benchmark stops if the sync sent a
different number of ListObjectsV2 or GetObject calls than its floor: the floor does the same work.
Each sync runs between two plain walks and its floor is their mean, so that a change of the
machine's load during the measurement weighs on both sides; with --rounds N, value and floor are
medians of N such measurements. Beside the wall-clock time, `cpu_s` is this process's CPU time
(threads included) during the sync and `cpu_floor_s` during its floor, `server_cpu_s` and
`server_cpu_floor_s` moto's: CPU seconds do not depend on what else the machine runs, so they
show what the sync adds when the wall clock is noisy. moto scans the whole bucket on every
listing, so a list call costs more on a bigger tree: on both sides alike.

Memory (moto and the seeding run in other processes): `peak_rss` is this process's peak over the
whole run (resource.getrusage maxrss, and the VmHWM of each timed step, reset through
/proc/self/clear_refs before it), its floor the peak during the first plain walk, before any sync
ran; `<measurement>/rss_growth` is the peak during the sync less the RSS before it, its floor the
same for the plain walk before the sync.

    python tests/benchmarks/inventory_sync.py [--objects 50000] [--changed 0.01] [--rounds 3]

A full run takes about half an hour on two busy cores (seeding ~4 min, each walk ~1-1.5 min);
`--objects 5000 --rounds 1` takes about a minute and a half.

The database server comes from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres;
SQLite in a temporary directory when nothing answers); the benchmark creates its own database on it
and drops it at the end. Progress goes to stderr; the last line printed is one JSON object in the
format of ARCHITECTURE.md. Targets: both time ratios ≤ 1.3, no row written by the unchanged
re-sync, peak RSS ≤ 250 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.benchmarks.common import (
    DEFAULT_POSTGRES,
    Cleanups,
    cleaning_up,
    figure,
    log,
    postgres_answers,
    postgres_from_environment,
    print_result,
    throwaway_database,
)

FULL_SIZE = 50_000
TIME_TARGET = 1.3
RSS_TARGET_MB = 250
SEED_THREADS = 8
REGION = "EU-RO-1"
ACCESS_KEY, SECRET_KEY = "user_bench", "rps_bench"
MODELS = "SwarmUI/Models/"
STAGING_FOLDER = ".s3compat_uploads"  # RunPod's multipart staging: never walked (runpod.md §7)


# --- the tree -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str  # model, metadata, preview, output, file, marker, staging
    metadata: str = ""  # a model's `.swarm.json` key, if it has one
    preview: str = ""  # a model's preview image key, if it has one
    embedded: bool = False  # the metadata embeds a preview (SwarmUI's own edits do)


SD_FAMILIES = (
    "OfficialStableDiffusion",
    "Flux",
    "SDXL",
    "Pony",
    "Illustrious",
    "SD15",
    "Juggernaut",
    "RealVis",
    "DreamShaper",
    "Animagine",
    "NoobAI",
    "Chroma",
)
LORA_GROUPS = [
    f"{kind}/{topic}"
    for kind in ("styles", "characters", "concepts", "Flux")
    for topic in ("anime", "film", "ink", "paint", "photo", "pixel", "retro", "scifi", "xl")
]
# (folder under SwarmUI/Models/, its sub-folders, models in each, extensions to pick from)
MODEL_FOLDERS = [
    ("Stable-Diffusion", SD_FAMILIES, 30, (".safetensors",) * 8 + (".ckpt",)),
    ("Lora", LORA_GROUPS, 40, (".safetensors",)),
    ("Lora", ["civitai"], 1400, (".safetensors",)),  # > 1000 keys: several pages
    ("Lora", [""], 200, (".safetensors",)),
    ("VAE", ["", "Flux"], 12, (".safetensors", ".pt")),
    ("Embeddings", ["", "negative"], 125, (".safetensors", ".pt")),
    ("controlnet", ["", "SDXL"], 30, (".safetensors",)),
    ("clip", [""], 20, (".safetensors",)),
    ("text_encoders", [""], 20, (".safetensors", ".gguf")),
    ("clip_vision", [""], 8, (".safetensors",)),
    ("diffusion_models", ["wan", "hidream"], 20, (".gguf", ".safetensors")),
    ("unet", [""], 10, (".sft",)),
]
PREVIEW_SUFFIXES = (".preview.png",) * 5 + (".jpg",) * 3 + (".png", ".thumb.jpg")
ODD_NAMES = ("", "", "", "", "", "", " v2", "+fp8", " #3", " ünï")
WORDS = ("cat", "lighthouse", "forest", "neon", "portrait", "castle", "river", "storm", "fox")


def scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


def model_entries(scale: float) -> Iterator[Entry]:
    rng = random.Random(11)
    for top, subfolders, per_folder, extensions in MODEL_FOLDERS:
        for sub in subfolders:
            folder = f"{MODELS}{top}/{sub + '/' if sub else ''}"
            yield Entry(folder, "marker")  # RunPod lists directories as objects (runpod.md §7)
            for index in range(scaled(per_folder, scale)):
                stem = f"{folder}{sub.rsplit('/', 1)[-1] or top.lower()}_{index:04d}"
                stem += rng.choice(ODD_NAMES)
                key = stem + rng.choice(extensions)
                metadata = stem + ".swarm.json" if rng.random() < 0.85 else ""
                preview = stem + rng.choice(PREVIEW_SUFFIXES) if rng.random() < 0.7 else ""
                embedded = bool(metadata) and not preview and rng.random() < 0.3
                yield Entry(key, "model", metadata, preview, embedded)
                if metadata:
                    yield Entry(metadata, "metadata", embedded=embedded)
                if preview:
                    yield Entry(preview, "preview")


def other_entries(scale: float) -> Iterator[Entry]:
    """Everything that is not a model folder's: SwarmUI's backend and sources, junk in the model
    tree, ComfyUI's folder names (SwarmUI ignores them), the staging folder."""
    comfy_tops = ("comfy", "comfy_extras", "custom_nodes", "web", "models", "utils")
    for index in range(scaled(600, scale)):
        folder = f"SwarmUI/dlbackend/ComfyUI/{comfy_tops[index % 6]}/pkg_{index:03d}/"
        for number in range(15):
            yield Entry(f"{folder}module_{number:02d}.py", "file")
    for index in range(scaled(80, scale)):
        for number in range(12):
            yield Entry(f"SwarmUI/src/Area{index % 8}/Part{index:02d}/File{number}.cs", "file")
    for number in range(scaled(40, scale)):
        yield Entry(f"SwarmUI/Data/Users/user_{number}.ldb", "file")
        yield Entry(f"SwarmUI/Models/upscale_models/4x_{number}.pth", "file")
    for number in range(scaled(10, scale)):
        yield Entry(f"SwarmUI/Models/checkpoints/wrong_{number}.safetensors", "file")
        yield Entry(f"ComfyUI/models/loras/other_{number}.safetensors", "file")
    yield Entry("SwarmUI/Models/Stable-Diffusion/notes.txt", "file")
    yield Entry("SwarmUI/Models/Lora/.hidden/secret.safetensors", "file")
    yield Entry("SwarmUI/Models/Lora/empty/", "marker")
    yield Entry("SwarmUI/Output/local/raw/empty/", "marker")
    yield Entry("readme.txt", "file")
    for part in range(1, 7):
        yield Entry(f"{STAGING_FOLDER}/upload-1/part-{part:05d}", "staging")
    yield Entry(f"{MODELS}Lora/{STAGING_FOLDER}/upload-2/part-00001", "staging")


def output_entries(count: int) -> Iterator[Entry]:
    """`count` generated images in dated folders of ~100 to ~1,500 files."""
    rng = random.Random(13)
    days = max(1, round(count / 500))
    weights = [rng.uniform(0.2, 3.0) for _ in range(days)]
    sizes = [int(count * weight / sum(weights)) for weight in weights]
    sizes[-1] += count - sum(sizes)
    for day, size in enumerate(sizes):
        folder = f"SwarmUI/Output/local/raw/2026-{1 + day // 28:02d}-{1 + day % 28:02d}/"
        for number in range(size):
            prompt = "-".join(rng.sample(WORDS, 3))
            yield Entry(f"{folder}{number:05d}-a {prompt}.png", "output")


def tree(objects: int) -> Iterator[Entry]:
    scale = objects / FULL_SIZE
    emitted = 0
    for entry in chain(model_entries(scale), other_entries(scale)):
        emitted += 1
        yield entry
    yield from output_entries(max(0, objects - emitted))


def body(entry: Entry, salt: str = "") -> bytes:
    """The object's content; a different `salt` gives different bytes (a new ETag)."""
    digest = hashlib.sha256(f"{entry.key}|{salt}".encode()).digest()
    if entry.kind == "metadata":
        return metadata_json(entry, digest, salt)
    if entry.kind == "preview":
        return preview_image(digest, jpeg=entry.key.endswith(".jpg"))
    if entry.kind == "marker":
        return b""
    return digest * (2 + digest[0] % 8)


def metadata_json(entry: Entry, digest: bytes, salt: str) -> bytes:
    import base64

    name = entry.key.rsplit("/", 1)[-1].removesuffix(".swarm.json")
    data = {
        "modelspec.title": name.replace("_", " ").title(),
        "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
        "modelspec.author": "bench",
        "modelspec.description": f"A model for the inventory benchmark. {salt}",
        "modelspec.date": "2026-05-01",
        "modelspec.resolution": "1024x1024",
        "modelspec.trigger_phrase": " ".join(random.Random(digest).sample(WORDS, 2)),
        "modelspec.usage_hint": "weight 0.8",
        "modelspec.tags": ["bench", name[:8]],
        "modelspec.hash_sha256": digest.hex(),
    }
    if entry.embedded:
        data["modelspec.preview_image"] = "data:image/jpeg;base64," + base64.b64encode(
            preview_image(digest, jpeg=True)
        ).decode("ascii")
    return json.dumps(data, indent=2).encode()


def preview_image(digest: bytes, *, jpeg: bool) -> bytes:
    """A 96 by 96 preview: a coloured gradient with noise, a few KB like a small thumbnail."""
    from PIL import Image

    rng = random.Random(digest)
    image = Image.linear_gradient("L").resize((96, 96)).convert("RGB")
    noise = Image.frombytes("RGB", (96, 96), rng.randbytes(96 * 96 * 3))
    image = Image.blend(image, noise, 0.35)
    out = io.BytesIO()
    image.save(out, "JPEG" if jpeg else "PNG", quality=80)
    return out.getvalue()


# --- S3 -------------------------------------------------------------------------------------------
def s3_client(endpoint_url: str, pool: int = 10, region: str = REGION):
    """A plain client set up as VolumeReader sets up its own (path style, retries, checksums)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            retries={"max_attempts": 10, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
            max_pool_connections=pool,
        ),
    )


def seed_volume(endpoint_url: str, bucket: str, objects: int) -> None:
    """Put the whole tree (run in a child process, so that its memory is not ours)."""
    # moto creates buckets without a location constraint only in us-east-1.
    client = s3_client(endpoint_url, SEED_THREADS, region="us-east-1")
    client.create_bucket(Bucket=bucket)

    def put(entry: Entry) -> None:
        client.put_object(Bucket=bucket, Key=entry.key, Body=body(entry))

    started = time.perf_counter()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        for done, _ in enumerate(pool.map(put, tree(objects)), 1):
            if done % 10_000 == 0:
                log(f"  seeded {done:,} objects ({done / (time.perf_counter() - started):.0f}/s)")


class RequestCounter:
    """ListObjectsV2 and GetObject calls made by every client of boto3's default session (those
    created after `install`): the sync's VolumeReader and the floor's client alike."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def install(self) -> None:
        import boto3

        boto3.setup_default_session()
        for operation in ("ListObjectsV2", "GetObject"):
            boto3.DEFAULT_SESSION.events.register(f"before-call.s3.{operation}", self._count)

    def _count(self, event_name: str, **_) -> None:
        with self._lock:
            self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts


def plain_walk(client, bucket: str, wanted: Callable[[str], bool], *, workers: int) -> int:
    """The floor: list every folder with Delimiter='/', then GET the wanted keys it holds in a
    pool of `workers`. Returns the number of objects listed."""
    from dashboard.catalogue.sync import PAGE_SIZE

    def read(key: str) -> None:
        client.get_object(Bucket=bucket, Key=key)["Body"].read()

    listed = 0
    pending = [""]
    with ThreadPoolExecutor(workers) as pool:
        while pending:
            prefix = pending.pop()
            subfolders, to_read, token, seen = set(), [], None, set()
            while True:
                params = {
                    "Bucket": bucket,
                    "Prefix": prefix,
                    "Delimiter": "/",
                    "MaxKeys": PAGE_SIZE,
                }
                if token:
                    params["ContinuationToken"] = token
                page = client.list_objects_v2(**params)
                for entry in page.get("CommonPrefixes") or ():
                    if entry["Prefix"].rstrip("/").rsplit("/", 1)[-1] != STAGING_FOLDER:
                        subfolders.add(entry["Prefix"])
                for entry in page.get("Contents") or ():
                    listed += not entry["Key"].endswith("/")
                    if wanted(entry["Key"]):
                        to_read.append(entry["Key"])
                token = page.get("NextContinuationToken")
                if not page.get("IsTruncated") or not token or token in seen:
                    break
                seen.add(token)
            pending.extend(sorted(subfolders, reverse=True))
            for _ in pool.map(read, to_read):
                pass
    return listed


# --- changes for the re-sync ----------------------------------------------------------------------
# Shares of the changed objects, by what happens to them.
CHANGE_MIX = {
    "output_added": 0.25,
    "output_deleted": 0.15,
    "model_rewritten": 0.12,
    "metadata_edited": 0.15,
    "preview_replaced": 0.10,
    "model_added": 0.08,  # three objects each: model, metadata, preview
    "model_deleted": 0.05,  # with its side files
    "file_rewritten": 0.10,
}


@dataclass
class ChangeSet:
    puts: list[tuple[Entry, str]] = field(default_factory=list)  # (entry, salt)
    deletes: list[str] = field(default_factory=list)
    side_files: set[str] = field(default_factory=set)  # what the sync must read again

    @property
    def objects(self) -> int:
        return len(self.puts) + len(self.deletes)


def plan_changes(objects: int, share: float, round_: int, touched: set[str]) -> ChangeSet:
    """About `share` of the objects changed, none of them touched by an earlier round."""
    rng = random.Random(1000 + round_)
    total = max(len(CHANGE_MIX), round(objects * share))
    want = {kind: max(1, round(total * part)) for kind, part in CHANGE_MIX.items()}
    want["model_added"] = max(1, want["model_added"] // 3)
    # Candidates: every model, every 20th output or other file (a small list), shuffled.
    strides = {"model": 1, "output": 20, "file": 20}
    pools: dict[str, list[Entry]] = {kind: [] for kind in strides}
    seen: Counter[str] = Counter()
    for entry in tree(objects):
        if entry.kind in pools and entry.key not in touched:
            seen[entry.kind] += 1
            if seen[entry.kind] % strides[entry.kind] == 0:
                pools[entry.kind].append(entry)
    for candidates in pools.values():
        rng.shuffle(candidates)
    changes = ChangeSet()
    salt = f"round-{round_}"

    def take(kind: str, count: int, keep: Callable[[Entry], bool] = lambda e: True) -> list:
        picked = [entry for entry in pools[kind] if keep(entry)][:count]
        taken = {entry.key for entry in picked}
        pools[kind] = [entry for entry in pools[kind] if entry.key not in taken]
        touched.update(taken)
        return picked

    for number in range(want["output_added"]):
        entry = Entry(f"SwarmUI/Output/local/raw/2026-12-31/{round_}-{number:05d}.png", "output")
        changes.puts.append((entry, salt))
    changes.deletes += [entry.key for entry in take("output", want["output_deleted"])]
    for entry in take("file", want["file_rewritten"]):
        changes.puts.append((entry, salt))
    for entry in take("model", want["model_rewritten"]):
        changes.puts.append((entry, salt))
    for entry in take("model", want["metadata_edited"], lambda e: bool(e.metadata)):
        changes.puts.append((Entry(entry.metadata, "metadata", embedded=entry.embedded), salt))
        changes.side_files.add(entry.metadata)
    for entry in take("model", want["preview_replaced"], lambda e: bool(e.preview)):
        changes.puts.append((Entry(entry.preview, "preview"), salt))
        changes.side_files.add(entry.preview)
    for entry in take("model", want["model_deleted"]):
        changes.deletes += [key for key in (entry.key, entry.metadata, entry.preview) if key]
    for number in range(want["model_added"]):
        stem = f"{MODELS}Lora/civitai/new_{round_}_{number:03d}"
        model = Entry(f"{stem}.safetensors", "model", f"{stem}.swarm.json", f"{stem}.preview.png")
        changes.puts += [
            (model, salt),
            (Entry(model.metadata, "metadata"), salt),
            (Entry(model.preview, "preview"), salt),
        ]
        changes.side_files |= {model.metadata, model.preview}
    return changes


def apply_changes(client, bucket: str, changes: ChangeSet) -> None:
    def put(item: tuple[Entry, str]) -> None:
        entry, salt = item
        client.put_object(Bucket=bucket, Key=entry.key, Body=body(entry, salt))

    def delete(key: str) -> None:
        client.delete_object(Bucket=bucket, Key=key)

    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(put, changes.puts))
        list(pool.map(delete, changes.deletes))


# --- memory ---------------------------------------------------------------------------------------
def status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


@dataclass
class Memory:
    before_mb: float = 0.0
    peak_mb: float = 0.0

    @property
    def growth_mb(self) -> float:
        # VmRSS and VmHWM are read at different moments: no tiny negative growth.
        return max(0.0, self.peak_mb - self.before_mb)


class RssMeter:
    """Peak RSS of each timed step (VmHWM, reset before the step where Linux allows it), and of
    the whole process."""

    def __init__(self):
        self.process_peak_mb = maxrss_mb()

    @contextmanager
    def step(self) -> Iterator[Memory]:
        self.process_peak_mb = max(self.process_peak_mb, maxrss_mb())
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM (the high-water mark) to the current RSS
            reset = True
        except OSError:
            reset = False
        memory = Memory(before_mb=(status_kb("VmRSS") or 0) / 1024)
        yield memory
        high = status_kb("VmHWM") if reset else None
        memory.peak_mb = high / 1024 if high else maxrss_mb()
        self.process_peak_mb = max(self.process_peak_mb, memory.peak_mb, maxrss_mb())


# --- running it -----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=FULL_SIZE, help="in the seeded tree")
    parser.add_argument("--changed", type=float, default=0.01, help="share changed for re-sync")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each kind")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="swarmdeck-inventory-bench-"))
    with cleaning_up() as cleanups:
        cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        server = postgres_from_environment() or DEFAULT_POSTGRES
        if not postgres_answers(server):
            log(f"no PostgreSQL at {server}: using SQLite")
            server = None
        database_url = throwaway_database(workdir, cleanups, server=server)
        os.environ.update(
            {
                "DATABASE_URL": database_url,
                "MEDIA_ROOT": str(workdir / "media"),
                "DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            }
        )
        for name in [k for k in os.environ if k.startswith("STORAGE_S3_")]:
            del os.environ[name]  # previews go to the temporary MEDIA_ROOT
        return run(args, workdir, cleanups)


def run(args, workdir: Path, cleanups: Cleanups) -> int:
    import multiprocessing

    from tests.support.emulators import moto_server

    counter = RequestCounter()
    counter.install()  # before any client exists
    rss = RssMeter()
    moto = moto_server(workdir).start()
    cleanups.append(moto.stop)
    bucket = f"vol-{uuid.uuid4().hex[:10]}"
    started = time.perf_counter()
    log(f"seeding {args.objects:,} objects into moto")
    seeder = multiprocessing.get_context("spawn").Process(
        target=seed_volume, args=(moto.base_url, bucket, args.objects)
    )
    seeder.start()
    seeder.join()
    if seeder.exitcode != 0:
        raise RuntimeError(f"seeding failed (exit code {seeder.exitcode})")
    log(f"seeded in {time.perf_counter() - started:.0f} s")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard.accounts.models import Team
    from dashboard.catalogue import inventory
    from dashboard.catalogue.models import ModelFile
    from dashboard.catalogue.sync import SIDE_FILE_READERS
    from dashboard.fleet.models import RunPodEndpoint
    from tests.dashboard.broker import use_broker

    call_command("migrate", interactive=False, verbosity=0)
    logging.getLogger("kombu").setLevel(logging.ERROR)  # "no hostname" for memory://: harmless
    use_broker("memory://")  # starting a sync enqueues a task; this benchmark runs its body
    team = Team.objects.create(name="Bench", slug="bench")
    client = s3_client(moto.base_url, SIDE_FILE_READERS)
    client.head_bucket(Bucket=bucket)  # warm up: botocore's loaders, the connection pool

    def new_endpoint(name: str) -> RunPodEndpoint:
        endpoint = RunPodEndpoint(
            team=team,
            name=name,
            endpoint_id=name,
            volume_id=bucket,
            volume_s3_endpoint_url=moto.base_url,
            volume_s3_region=REGION,
        )
        endpoint.set_api_key("unused")
        endpoint.set_volume_credentials(ACCESS_KEY, SECRET_KEY)
        endpoint.save()
        return endpoint

    bench = Bench(client, bucket, counter, rss, SIDE_FILE_READERS, moto.process.pid)
    endpoints = []
    for round_ in range(args.rounds):
        log(f"first sync, round {round_ + 1}/{args.rounds}")
        endpoints.append(new_endpoint(f"bench-{round_}"))
        bench.measure("first_sync", endpoints[-1], inventory.is_side_file)
    models = ModelFile.objects.filter(endpoint=endpoints[0]).count()
    with_preview = ModelFile.objects.filter(endpoint=endpoints[0]).exclude(preview="").count()
    log(f"  {models:,} models, {with_preview:,} with a preview")

    touched: set[str] = set()
    for round_ in range(args.rounds):
        changes = plan_changes(args.objects, args.changed, round_, touched)
        apply_changes(client, bucket, changes)
        log(
            f"re-sync, round {round_ + 1}/{args.rounds}: {changes.objects} objects changed, "
            f"{len(changes.side_files)} side files to read"
        )
        bench.measure("resync_1pct_changed", endpoints[0], changes.side_files.__contains__)

    log("re-sync of the unchanged tree")
    with CaptureQueriesContext(connection) as queries:
        run = bench.measure("resync_unchanged", endpoints[0], lambda key: False)
    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith(("INSERT", "UPDATE", "DELETE"))
        and ("catalogue_modelfile" in query["sql"] or "catalogue_folderusage" in query["sql"])
    ]
    log(f"  {len(writes)} inventory writes; counts {(run.added, run.changed, run.missing)}")

    results = bench.results()
    results.append(
        figure(
            "resync_unchanged/inventory_writes",
            len(writes) + run.added + run.changed + run.missing,
            0,
            target=0,
            target_applies_to="value",
            unit="rows",
        )
    )
    details = {
        "objects": args.objects,
        "models": models,
        "models_with_preview": with_preview,
        "changed_share": args.changed,
        "rounds": args.rounds,
        "side_file_readers": SIDE_FILE_READERS,
        "database": connection.vendor,
    }
    print_result("inventory_sync", results, details)
    return 0


@dataclass
class Timed:
    seconds: float
    cpu_seconds: float  # of this whole process, threads included
    server_cpu_seconds: float  # of moto
    memory: Memory
    requests: dict[str, int]


@dataclass
class Bench:
    """Timed syncs, each between two plain walks that read what it reads (their mean is its
    floor, so that a drift of the machine's load during the pair hits both sides alike)."""

    client: object
    bucket: str
    counter: RequestCounter
    rss: RssMeter
    workers: int
    server_pid: int
    series: dict[str, list[tuple[Timed, Timed, Timed]]] = field(default_factory=dict)

    def measure(self, name: str, endpoint, wanted: Callable[[str], bool]):
        before = self._timed(
            lambda: plain_walk(self.client, self.bucket, wanted, workers=self.workers)
        )
        run = self._start(endpoint)
        synced = self._timed(lambda: self._run(run))
        after = self._timed(
            lambda: plain_walk(self.client, self.bucket, wanted, workers=self.workers)
        )
        log(f"  {run.progress}")
        log(f"  requests: floor {before.requests}, sync {synced.requests}")
        if not before.requests == synced.requests == after.requests:
            raise RuntimeError(f"{name}: the sync and its floor sent different requests")
        floor = (before.seconds + after.seconds) / 2
        log(
            f"  {name}: sync {synced.seconds:.2f} s, floor {floor:.2f} s "
            f"({before.seconds:.2f}, {after.seconds:.2f}), ratio {synced.seconds / floor:.3f}; "
            f"CPU {synced.cpu_seconds:.1f} s, floor {before.cpu_seconds:.1f} s, moto's "
            f"{synced.server_cpu_seconds:.1f} s, floor {before.server_cpu_seconds:.1f} s; "
            f"RSS peak {synced.memory.peak_mb:.0f} MB (+{synced.memory.growth_mb:.0f}), "
            f"floor {before.memory.peak_mb:.0f} MB (+{before.memory.growth_mb:.0f})"
        )
        self.series.setdefault(name, []).append((before, synced, after))
        return run

    def _start(self, endpoint):
        from dashboard.catalogue import services

        return services.catalogue_sync(endpoint, trigger="manual")

    def _run(self, run) -> None:
        from dashboard.catalogue import services
        from dashboard.catalogue.models import SyncStatus

        services.run_sync(sync_run_id=run.pk)
        run.refresh_from_db()
        if run.status != SyncStatus.SUCCEEDED or run.errors:
            raise RuntimeError(f"the sync ended {run.status}: {run.errors}")

    def _timed(self, work: Callable[[], object]) -> Timed:
        self.counter.take()
        with self.rss.step() as memory:
            began, cpu, server = time.perf_counter(), time.process_time(), self._server_cpu()
            work()
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
            server = self._server_cpu() - server
        return Timed(elapsed, cpu, server, memory, self.counter.take())

    def _server_cpu(self) -> float:
        """User and system CPU seconds of moto's process so far (/proc/PID/stat)."""
        with open(f"/proc/{self.server_pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def results(self) -> list[dict]:
        results = []
        for name, pairs in self.series.items():
            value = statistics.median(synced.seconds for _, synced, _ in pairs)
            floor = statistics.median((a.seconds + b.seconds) / 2 for a, _, b in pairs)
            cpu = statistics.median(synced.cpu_seconds for _, synced, _ in pairs)
            cpu_floor = statistics.median((a.cpu_seconds + b.cpu_seconds) / 2 for a, _, b in pairs)
            server = statistics.median(synced.server_cpu_seconds for _, synced, _ in pairs)
            server_floor = statistics.median(
                (a.server_cpu_seconds + b.server_cpu_seconds) / 2 for a, _, b in pairs
            )
            results.append(
                figure(
                    name,
                    value,
                    floor,
                    target=None if name == "resync_unchanged" else TIME_TARGET,
                    unit="s",
                    cpu_s=round(cpu, 2),
                    cpu_floor_s=round(cpu_floor, 2),
                    server_cpu_s=round(server, 2),
                    server_cpu_floor_s=round(server_floor, 2),
                )
            )
        for name, pairs in self.series.items():
            synced = max((synced.memory for _, synced, _ in pairs), key=lambda m: m.growth_mb)
            floor = max((a.memory for a, _, _ in pairs), key=lambda m: m.growth_mb)
            growth = figure(
                f"{name}/rss_growth",
                synced.growth_mb,
                floor.growth_mb,
                target=None,
                unit="MB",
                digits=1,
            )
            if floor.growth_mb < 1:
                growth["ratio"] = None  # page-level noise: a ratio of it means nothing
            results.append(growth)
        # The floor: this process's peak during the first plain walk, before any sync ran.
        floor_peak = next(iter(self.series.values()))[0][0].memory.peak_mb
        results.append(
            figure(
                "peak_rss",
                self.rss.process_peak_mb,
                floor_peak,
                target=RSS_TARGET_MB,
                target_applies_to="value",
                unit="MB",
                digits=1,
            )
        )
        return results


if __name__ == "__main__":
    sys.exit(main())
