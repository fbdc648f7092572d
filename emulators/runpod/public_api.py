"""The public job API under `/v2/{endpoint}/` (§1.2): run, runsync, status, stream, cancel, retry,
purge-queue and health. Handlers parse, call the job store, and render."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from .jobs import RequestError, parse_job_request
from .paths import Handler
from .responses import json_error
from .state import EMULATOR, Emulator

# Request payload limits (§1.5). RunPod's docs say MB; we count decimal megabytes, the stricter
# reading. The error text follows the one RunPod answered for its old 2 MB limit
# (runpod-python#27: "json is invalid; max size is 2 MB").
RUN_MAX_BYTES = 10_000_000
RUNSYNC_MAX_BYTES = 20_000_000

# Backpressure (DOCS send-requests.mdx "Rate limits"): /run and /runsync answer 429 when
# the queue holds more than 50 jobs and more than workers.max * 500.
QUEUE_BACKPRESSURE_FLOOR = 50
QUEUE_PER_MAX_WORKER = 500

RUNSYNC_DEFAULT_WAIT_MS = 90_000
RUNSYNC_MIN_WAIT_MS = 1_000
RUNSYNC_MAX_WAIT_MS = 300_000

# Route name → rate-limit family (§1.5).
RATE_FAMILIES = {
    "run": "run",
    "runsync": "runsync",
    "status": "status",
    "status-post": "status",
    "stream": "stream",
    "stream-post": "stream",
    "cancel": "cancel",
    "purge-queue": "purge-queue",
    "retry": "retry",
    "health": "health",
}


class ApiError(Exception):
    """Raised by handlers to answer `{"error": message}` with a status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/v2/{endpoint}/run", run, name="run")
    router.add_post("/v2/{endpoint}/runsync", runsync, name="runsync")
    router.add_get("/v2/{endpoint}/status/{job_id}", status, name="status")
    router.add_post("/v2/{endpoint}/status/{job_id}", status, name="status-post")
    router.add_get("/v2/{endpoint}/stream/{job_id}", stream, name="stream")
    router.add_post("/v2/{endpoint}/stream/{job_id}", stream, name="stream-post")
    router.add_post("/v2/{endpoint}/cancel/{job_id}", cancel, name="cancel")
    router.add_post("/v2/{endpoint}/retry/{job_id}", retry, name="retry")
    router.add_post("/v2/{endpoint}/purge-queue", purge_queue, name="purge-queue")
    router.add_get("/v2/{endpoint}/health", health, name="health")


@web.middleware
async def job_api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After auth: unknown endpoint → 404, then the per-route rate limit → 429 (§1.5)."""
    name = request.match_info.route.name
    if name not in RATE_FAMILIES:
        return await handler(request)
    emulator = request.app[EMULATOR]
    endpoint_id = request.match_info["endpoint"]
    if endpoint_id != emulator.endpoint.id:
        return json_error(404, f"endpoint {endpoint_id} not found")
    family = RATE_FAMILIES[name]
    retry_after = emulator.rate_limiter.admit(family)
    if retry_after is not None:
        return json_error(
            429,
            f"rate limit exceeded for {family}; retry after {retry_after:.0f}s",
            headers={"Retry-After": f"{retry_after:.0f}"},
        )
    try:
        return await _guarded(request, handler)
    finally:
        emulator.rate_limiter.release(family)


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return json_error(error.status, error.message, headers=error.headers)


# ----------------------------------------------------------------- handlers
async def run(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    job_request = _job_request(await _read_json(request, RUN_MAX_BYTES))
    _check_queue_room(emulator)
    job = emulator.jobs.submit(job_request, sync=False)
    return web.json_response({"id": job.id, "status": job.status.value})


async def runsync(request: web.Request) -> web.Response:
    """Submit, then block until the job ends or `?wait=` ms pass; answer the job object (§1.2)."""
    emulator = request.app[EMULATOR]
    wait_ms = _runsync_wait(request)
    job_request = _job_request(await _read_json(request, RUNSYNC_MAX_BYTES))
    _check_queue_room(emulator)
    job = emulator.jobs.submit(job_request, sync=True)
    deadline = time.monotonic() + wait_ms / 1000
    while not job.done.is_set() and not emulator.closing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await emulator.wakeup.wait(remaining)  # notified whenever any job changes
    if emulator.jobs.get(job.id) is None:  # purged, or deleted by its TTL meanwhile
        raise ApiError(404, f"request {job.id} does not exist")
    return web.json_response(job.view())


async def status(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    job = _job_or_404(emulator, request.match_info["job_id"])
    if "ttl" in request.query:
        ttl = _positive_int(request.query["ttl"], "ttl")
        emulator.jobs.set_retention(job, ttl / 1000)
    return web.json_response(job.view())


async def stream(request: web.Request) -> web.Response:
    """Chunks a generator handler yielded since the last poll (§1.2)."""
    emulator = request.app[EMULATOR]
    job = _job_or_404(emulator, request.match_info["job_id"])
    chunks, job.stream = job.stream, []
    return web.json_response(
        {"status": job.status.value, "stream": [{"output": chunk} for chunk in chunks]}
    )


async def cancel(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    job_id = request.match_info["job_id"]
    job = emulator.jobs.cancel(job_id)
    if job is None:
        raise ApiError(404, f"request {job_id} does not exist")
    return web.json_response({"id": job.id, "status": job.status.value})


async def retry(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    job_id = request.match_info["job_id"]
    try:
        job = emulator.jobs.retry(job_id)
    except RequestError as error:
        raise ApiError(400, str(error)) from error
    if job is None:
        raise ApiError(404, f"request {job_id} does not exist")
    return web.json_response({"id": job.id, "status": job.status.value})


async def purge_queue(request: web.Request) -> web.Response:
    removed = request.app[EMULATOR].jobs.purge()
    return web.json_response({"removed": removed, "status": "completed"})


async def health(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].health())


# ------------------------------------------------------------------ helpers
async def _read_json(request: web.Request, limit: int) -> Any:
    too_large = f"json is invalid; max size is {limit // 1_000_000} MB"
    if request.content_length is not None and request.content_length > limit:
        await _discard_body(request)
        raise ApiError(400, too_large)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise ApiError(400, too_large) from error
    if len(raw) > limit:
        raise ApiError(400, too_large)
    if not raw.strip():
        raise ApiError(400, 'request body is empty; send {"input": {...}}')
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ApiError(400, f"json is invalid: {error}") from error


async def _discard_body(request: web.Request) -> None:
    """Read and drop an oversized body so the client gets our 400 instead of a reset."""
    while await request.content.readany():
        pass


def _check_queue_room(emulator: Emulator) -> None:
    queued = emulator.jobs.queued_count()
    limit = max(QUEUE_BACKPRESSURE_FLOOR, emulator.endpoint.workers_max * QUEUE_PER_MAX_WORKER)
    if queued >= limit:
        raise ApiError(
            429, f"queue is full ({queued} jobs waiting); retry later", headers={"Retry-After": "1"}
        )


def _job_request(body: Any) -> Any:
    try:
        return parse_job_request(body)
    except RequestError as error:
        raise ApiError(400, str(error)) from error


def _runsync_wait(request: web.Request) -> int:
    if "wait" not in request.query:
        return RUNSYNC_DEFAULT_WAIT_MS
    wait = _positive_int(request.query["wait"], "wait")
    return min(RUNSYNC_MAX_WAIT_MS, max(RUNSYNC_MIN_WAIT_MS, wait))


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer number of milliseconds") from None
    if value <= 0:
        raise ApiError(400, f"{name} must be positive")
    return value


def _job_or_404(emulator: Emulator, job_id: str) -> Any:
    job = emulator.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"request {job_id} does not exist")
    return job
