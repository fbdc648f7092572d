"""The worker-facing protocol the runpod SDK's job loop speaks (§3.3, read from rp_job.py,
rp_http.py, rp_scale.py): job-take (long poll, 204 = no job), job-take-batch, job-done (JSON text
labelled form-urlencoded; `{"status":"IN_PROGRESS"}` = progress), job-stream, job-stop, ping.

These routes are not authenticated: the emulator never gives workers an API key, so the SDK's
heartbeat stays off (§4.4).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import web

from .jobs import Job
from .responses import json_error
from .state import EMULATOR, Emulator
from .workers import Worker

log = logging.getLogger("emulators.runpod.worker_api")

TAKE_POLL_SECONDS = 5.0  # job-take and job-stop hold a request this long before answering 204
STOP_POLL_SECONDS = 5.0
# A job-done body above ~20 MB is refused with 400 (worker-comfyui#129); a stream chunk is at
# most 1 MB (§1.5).
RESULT_MAX_BYTES = 20_000_000
STREAM_CHUNK_MAX_BYTES = 1_000_000
MAX_BATCH_SIZE = 100


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/job-take/{worker_id}", job_take, name="job-take")
    router.add_get("/job-take-batch/{worker_id}", job_take_batch, name="job-take-batch")
    router.add_post("/job-done/{worker_id}/{job_id}", job_done, name="job-done")
    router.add_post("/job-stream/{worker_id}/{job_id}", job_stream, name="job-stream")
    router.add_get("/job-stop/{worker_id}", job_stop, name="job-stop")
    router.add_get("/ping/{worker_id}", ping, name="ping")


def _no_content() -> web.Response:
    return web.Response(status=204)


async def job_take(request: web.Request) -> web.StreamResponse:
    """One job as `{"id","input",...}`, or 204 after the long poll."""
    return await _take(request, batch_size=None)


async def job_take_batch(request: web.Request) -> web.StreamResponse:
    """Up to `batch_size` jobs as a list (the SDK uses this when concurrency > 1)."""
    try:
        batch_size = int(request.query.get("batch_size", "1"))
    except ValueError:
        return json_error(400, "batch_size must be an integer")
    return await _take(request, batch_size=max(1, min(batch_size, MAX_BATCH_SIZE)))


async def _take(request: web.Request, *, batch_size: int | None) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    worker = emulator.workers.check_in(request.match_info["worker_id"])
    if worker is None or emulator.closing:
        return _no_content()
    emulator.workers.note_first_poll(worker)
    if request.query.get("job_in_progress") == "0":
        _release_abandoned_jobs(emulator, worker)
    deadline = time.monotonic() + TAKE_POLL_SECONDS
    while True:
        now = time.monotonic()
        if emulator.closing or worker.stopping:
            return _no_content()
        if worker.is_ready(now) and not _client_gone(request):
            taken = _take_jobs(emulator, worker, batch_size or 1)
            if taken:
                return await _hand_over(
                    request, emulator, worker, taken, batch=batch_size is not None
                )
        remaining = deadline - now
        if remaining <= 0:
            return _no_content()
        if not worker.is_ready(now):
            remaining = min(remaining, worker.ready_at - now)  # wake when its cold start ends
        await emulator.wakeup.wait(remaining)


def _take_jobs(emulator: Emulator, worker: Worker, count: int) -> list[Job]:
    taken: list[Job] = []
    while len(taken) < count:
        job = emulator.jobs.take(worker.id)
        if job is None:
            break
        emulator.workers.assign(worker, job.id)
        taken.append(job)
    return taken


def _release_abandoned_jobs(emulator: Emulator, worker: Worker) -> None:
    """`job_in_progress=0` means the worker holds no job. Jobs we stopped are let go; a job we
    still think it runs was dropped without a result (its job-done POST failed): on RunPod the
    client then sees COMPLETED with no output (§1.5, runpod-python#309)."""
    emulator.workers.let_go(worker)
    for job_id in sorted(worker.jobs):
        job = emulator.jobs.running_on(job_id, worker.id)
        worker.jobs.discard(job_id)
        if job is not None:
            log.warning("worker %s moved on without a result for %s", worker.id, job_id)
            emulator.jobs.complete_orphan(job)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _hand_over(
    request: web.Request, emulator: Emulator, worker: Worker, jobs: list[Job], *, batch: bool
) -> web.StreamResponse:
    """Send the job(s); if the worker hung up meanwhile, put them back in the queue."""
    payload: Any = [job.worker_payload() for job in jobs] if batch else jobs[0].worker_payload()
    response = web.json_response(payload)
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        for job in jobs:
            worker.jobs.discard(job.id)
            emulator.jobs.requeue(job)
        log.warning("worker %s hung up before taking %s; requeued", worker.id, [j.id for j in jobs])
        return response
    for job in jobs:
        log.info("job %s → worker %s", job.id, worker.id)
    return response


async def _read_worker_json(request: web.Request, limit: int) -> Any:
    """The SDK posts JSON text labelled application/x-www-form-urlencoded (rp_http.py)."""
    raw = await request.read()
    if len(raw) > limit:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"json is invalid; max size is {limit // 1_000_000} MB"}),
            content_type="application/json",
        )
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"json is invalid: {error}"}), content_type="application/json"
        ) from error
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


async def job_done(request: web.Request) -> web.Response:
    """Progress (`{"status":"IN_PROGRESS","output":...}`) or the final result of a job."""
    emulator = request.app[EMULATOR]
    worker_id, job_id = request.match_info["worker_id"], request.match_info["job_id"]
    try:
        body = await _read_worker_json(request, RESULT_MAX_BYTES)
    except web.HTTPBadRequest:
        log.warning("refused job-done body for %s from %s", job_id, worker_id)
        raise
    worker = emulator.workers.get(worker_id)
    if worker is not None:
        worker.last_seen = time.monotonic()
    is_progress = body.get("status") == "IN_PROGRESS"
    job = emulator.jobs.running_on(job_id, worker_id)
    if job is None:
        # Late progress after a final state (#250), or a result for a job we had cancelled or
        # timed out: ignored.
        if not is_progress and worker is not None:
            emulator.workers.let_go(worker, job_id)
        log.info(
            "ignored %s for %s from %s", "progress" if is_progress else "result", job_id, worker_id
        )
        return web.json_response({})
    if is_progress:
        emulator.jobs.record_progress(job, body.get("output"))
        return web.json_response({})
    emulator.jobs.record_result(job, body)
    if body.get("stopPod") and worker is not None:
        # refresh_worker: this worker is replaced after the job (§3.1).
        emulator.workers.stop(worker, "stopPod requested")
    return web.json_response({})


async def job_stream(request: web.Request) -> web.Response:
    """One chunk a generator handler yielded, `{"output": ...}`."""
    emulator = request.app[EMULATOR]
    worker_id, job_id = request.match_info["worker_id"], request.match_info["job_id"]
    body = await _read_worker_json(request, STREAM_CHUNK_MAX_BYTES)
    job = emulator.jobs.running_on(job_id, worker_id)
    if job is None:
        log.info("ignored stream chunk for %s from %s", job_id, worker_id)
        return web.json_response({})
    emulator.jobs.record_chunk(job, body.get("output"))
    return web.json_response({})


async def job_stop(request: web.Request) -> web.Response:
    """The stop channel: `{"jobsToStop": [ids]}` for cancelled or timed-out jobs, else 204."""
    emulator = request.app[EMULATOR]
    worker = emulator.workers.check_in(request.match_info["worker_id"])
    if worker is None:
        return _no_content()
    deadline = time.monotonic() + STOP_POLL_SECONDS
    while True:
        now = time.monotonic()
        if emulator.closing or worker.stopping:
            return _no_content()
        due, next_due = emulator.workers.due_stop_signals(worker, now)
        if due:
            log.info("stop signal for %s → worker %s", due, worker.id)
            return web.json_response({"jobsToStop": due})
        remaining = deadline - now
        if remaining <= 0:
            return _no_content()
        if next_due is not None:
            remaining = min(remaining, next_due - now)
        await emulator.wakeup.wait(remaining)


async def ping(request: web.Request) -> web.Response:
    """Heartbeat (only sent when a ping URL and API key are set, which we never do)."""
    worker = request.app[EMULATOR].workers.get(request.match_info["worker_id"])
    if worker is not None:
        worker.last_seen = time.monotonic()
    return web.json_response({})
