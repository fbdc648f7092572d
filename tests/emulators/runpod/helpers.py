"""A small raw-HTTP client for the emulated RunPod endpoint, and polling with a deadline.

Answers come back as raw `requests.Response` objects or parsed JSON, never reshaped, so the tests
check the wire format that real clients see (shared/reference/runpod.md §1, §5.2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from tests.support.processes import python_module, wait_until

API_KEY = "local-dev-key"
ENDPOINT_ID = "local"
ECHO_WORKER = python_module("tests.support.echo_worker")
STREAM_WORKER_ENV = {"ECHO_WORKER_MODE": "stream"}
# Emulator flags for the common case: exactly one echo worker, kept warm, no cold start.
ONE_WARM_WORKER = ("--workers-min", "1", "--workers-max", "1", "--cold-start", "0")
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
# A job may first wait for a worker process to boot and import the runpod SDK (about 2 s alone,
# more while other workers boot on the same two cores).
JOB_DEADLINE = 45.0
# Sleeps 120 s, reporting progress every 0.5 s: a progress output proves the handler is running.
LONG_JOB = {"sleep": 120, "progress": 120}

T = TypeVar("T")


def eventually(
    fetch: Callable[[], T],
    accept: Callable[[T], object],
    *,
    what: str,
    timeout: float = JOB_DEADLINE,
    interval: float = 0.05,
) -> T:
    """Call `fetch` until `accept(value)` holds and return that value; fail showing the last one."""
    last: list[T] = []

    def accepted() -> bool:
        last[:] = [fetch()]
        return bool(accept(last[0]))

    try:
        wait_until(accepted, timeout=timeout, interval=interval, what=what)
    except TimeoutError as error:
        raise AssertionError(f"{error}; last seen: {last[0] if last else None!r}") from error
    return last[0]


def contains(actual: dict, expected: dict) -> bool:
    """True when every key of `expected` is in `actual` with that value (one level deep)."""
    return all(actual.get(key) == value for key, value in expected.items())


class RunPodAPI:
    """The job API, REST v2 routes and emulator admin routes of one emulated endpoint."""

    def __init__(
        self, base_url: str, *, api_key: str | None = API_KEY, endpoint: str = ENDPOINT_ID
    ) -> None:
        self.base_url = base_url
        self.endpoint_url = f"{base_url}/v2/{endpoint}"
        self.management_url = f"{base_url}/v2/serverless/{endpoint}"
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.submitted: list[str] = []

    # raw calls ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A job-API call, `path` relative to `/v2/{endpoint}/` (`run`, `status/ID`, `health`…)."""
        return self._send(method, f"{self.endpoint_url}/{path}", **kwargs)

    def management(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        """A REST v2 call on `/v2/serverless/{endpoint}{path}`."""
        return self._send(method, f"{self.management_url}{path}", **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An emulator-only call on `/emulator/{path}` (faults, state, worker kill)."""
        return self._send(method, f"{self.base_url}/emulator/{path}", **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, url, **kwargs)

    # jobs --------------------------------------------------------------------------------------
    def run(self, job_input: Any, **options: Any) -> requests.Response:
        """POST /run with `{"input": job_input, **options}` (webhook, policy…)."""
        response = self.call("POST", "run", json={"input": job_input, **options})
        if response.status_code == 200:
            self.submitted.append(response.json()["id"])
        return response

    def submit(self, job_input: Any, **options: Any) -> str:
        """Start a job through /run and return its id."""
        response = self.run(job_input, **options)
        assert response.status_code == 200, f"/run answered {response.status_code}: {response.text}"
        return response.json()["id"]

    def job(self, job_id: str) -> dict:
        """The job object from /status (which must answer 200)."""
        response = self.call("GET", f"status/{job_id}")
        assert response.status_code == 200, (
            f"/status answered {response.status_code}: {response.text}"
        )
        return response.json()

    def wait_for_job(
        self,
        job_id: str,
        accept: Callable[[dict], object],
        *,
        what: str,
        timeout: float = JOB_DEADLINE,
    ) -> dict:
        return eventually(
            lambda: self.job(job_id), accept, what=f"job {job_id}: {what}", timeout=timeout
        )

    def wait_for_status(self, job_id: str, *statuses: str, timeout: float = JOB_DEADLINE) -> dict:
        """Poll /status until the job is in one of `statuses` (default: any final state)."""
        wanted = statuses or FINAL_STATES
        return self.wait_for_job(
            job_id, lambda job: job["status"] in wanted, what=f"status in {wanted}", timeout=timeout
        )

    def wait_until_handler_runs(self, job_id: str) -> dict:
        """Wait for a `LONG_JOB`'s first progress update: its handler is running, not just taken."""
        return self.wait_for_job(
            job_id,
            lambda job: job["status"] == "IN_PROGRESS" and job.get("output"),
            what="the handler's first progress update",
        )

    def run_to_end(self, job_input: Any, **options: Any) -> dict:
        """Submit a job and return its job object once it is final."""
        return self.wait_for_status(self.submit(job_input, **options))

    def observed_statuses(self, job_id: str, timeout: float = JOB_DEADLINE) -> list[str]:
        """Every status /status reported, in order and without repeats, until a final one."""
        seen: list[str] = []

        def record_until_final(job: dict) -> bool:
            if not seen or seen[-1] != job["status"]:
                seen.append(job["status"])
            return job["status"] in FINAL_STATES

        eventually(
            lambda: self.job(job_id),
            record_until_final,
            what=f"job {job_id} to finish",
            timeout=timeout,
            interval=0.02,
        )
        return seen

    def cancel_unfinished(self) -> None:
        """Cancel this client's jobs that still wait or run, so the next test finds idle workers."""
        for job_id in self.submitted:
            try:
                response = self.call("GET", f"status/{job_id}", timeout=5)
                if response.ok and response.json().get("status") in ("IN_QUEUE", "IN_PROGRESS"):
                    self.call("POST", f"cancel/{job_id}", timeout=5)
            except requests.RequestException:
                continue  # teardown only: a broken emulator is reported by the tests themselves

    # endpoint ----------------------------------------------------------------------------------
    def health(self) -> dict:
        response = self.call("GET", "health")
        assert response.status_code == 200, (
            f"/health answered {response.status_code}: {response.text}"
        )
        return response.json()

    def wait_for_health(
        self,
        *,
        jobs: dict | None = None,
        workers: dict | None = None,
        timeout: float = JOB_DEADLINE,
    ) -> dict:
        """Poll /health until its job and worker counts include the given ones."""
        return eventually(
            self.health,
            lambda health: (
                contains(health["jobs"], jobs or {}) and contains(health["workers"], workers or {})
            ),
            what=f"/health to show jobs {jobs} and workers {workers}",
            timeout=timeout,
        )

    def endpoint_settings(self) -> dict:
        response = self.management("GET")
        assert response.status_code == 200, f"GET endpoint answered {response.status_code}"
        return response.json()

    def workers(self) -> dict:
        """The REST v2 workers listing: `{"endpointVersion", "summary", "workers"}`."""
        response = self.management("GET", "/workers")
        assert response.status_code == 200, f"GET workers answered {response.status_code}"
        return response.json()

    def set_faults(self, **faults: Any) -> dict:
        response = self.admin("POST", "faults", json=faults)
        assert response.status_code == 200, f"POST faults answered {response.status_code}"
        return response.json()

    def kill_busy_worker(self) -> None:
        response = self.admin("POST", "workers/busy/kill")
        assert response.status_code == 200, f"kill answered {response.status_code}: {response.text}"


def post_like_a_worker(base_url: str, worker_id: str, job_id: str, payload: dict) -> None:
    """POST a job-done message as the SDK does: JSON text labelled form-urlencoded (§3.3)."""
    requests.post(
        f"{base_url}/job-done/{worker_id}/{job_id}?gpu=emulator&isStream=false",
        data=json.dumps(payload),
        headers={"charset": "utf-8", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
