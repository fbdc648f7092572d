"""Our RunPod client: the serverless job API and the REST v2 endpoint-management API.

Built on `requests` rather than the `runpod` SDK, whose client drops error texts, cannot reattach to
a job id, retries only over http:// and is heavy to import (reference/runpod.md §2). Every call
returns RunPod's full JSON; failures raise one of the typed errors below.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)


class RunPodError(Exception):
    """RunPod answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status_code: int | None = None, payload: Any = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.payload = payload


class RunPodAuthError(RunPodError):
    """401: the API key is wrong or revoked."""


class RunPodForbidden(RunPodError):
    """403: the key is valid but lacks the scope (e.g. a read-only key on REST v2)."""


class RunPodNotFound(RunPodError):
    """404: unknown endpoint, or a job RunPod no longer keeps (expired or deleted by its TTL)."""


class RunPodBadRequest(RunPodError):
    """400/413/422: RunPod refused the request itself (malformed or too large)."""


class RunPodUnavailable(RunPodError):
    """Unreachable, timed out, rate limited or 5xx, after the retries ran out."""


class _RunPodRetry(Retry):
    """Retry 429/5xx answers and failed connections on every method, but a connection that broke
    after a POST was sent only on reads: a `/run` whose answer was lost may have queued a job."""

    def increment(self, method=None, url=None, response=None, error=None, **kwargs):
        if error is not None and method == "POST" and self._is_read_error(error):
            raise error
        return super().increment(method, url, response=response, error=error, **kwargs)


def _session(retries: int) -> requests.Session:
    retry = _RunPodRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=0.25,
        backoff_max=8,
        backoff_jitter=0.25,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST", "PATCH"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class RunPodClient:
    """One RunPod serverless endpoint, reached with one API key."""

    def __init__(
        self,
        *,
        endpoint_id: str,
        api_key: str,
        api_base: str = "https://api.runpod.ai/v2",
        rest_base: str = "https://api.runpod.io/v2",
        timeout: float = 15.0,
        retries: int = 4,
        session: requests.Session | None = None,
    ):
        self.endpoint_id = endpoint_id
        self.api_base = api_base.rstrip("/")
        self.rest_base = rest_base.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._session = session or _session(retries)

    def __repr__(self) -> str:  # never show the key
        return f"RunPodClient(endpoint_id={self.endpoint_id!r}, api_base={self.api_base!r})"

    # --- the job API (api.runpod.ai/v2/{endpoint}/...) -------------------------------------------
    def run(
        self,
        job_input: dict,
        *,
        webhook: str | None = None,
        policy: dict | None = None,
        s3_config: dict | None = None,
    ) -> dict:
        """Queue a job: `{"id", "status": "IN_QUEUE"}`."""
        return self._job("POST", "run", json=_job_body(job_input, webhook, policy, s3_config))

    def runsync(
        self,
        job_input: dict,
        *,
        wait_ms: int | None = None,
        webhook: str | None = None,
        policy: dict | None = None,
        s3_config: dict | None = None,
    ) -> dict:
        """Run a job and wait up to `wait_ms` (RunPod: 1000..300000) for it: the full job object."""
        params = {"wait": wait_ms} if wait_ms else None
        timeout = self.timeout + (wait_ms or 90_000) / 1000
        body = _job_body(job_input, webhook, policy, s3_config)
        return self._job("POST", "runsync", json=body, params=params, timeout=timeout)

    def status(self, job_id: str, *, ttl_ms: int | None = None) -> dict:
        params = {"ttl": ttl_ms} if ttl_ms else None
        return self._job("GET", f"status/{job_id}", params=params)

    def stream(self, job_id: str) -> dict:
        return self._job("GET", f"stream/{job_id}")

    def cancel(self, job_id: str) -> dict:
        return self._job("POST", f"cancel/{job_id}")

    def retry(self, job_id: str) -> dict:
        return self._job("POST", f"retry/{job_id}")

    def health(self) -> dict:
        return self._job("GET", "health")

    def purge_queue(self) -> dict:
        return self._job("POST", "purge-queue")

    # --- REST v2 endpoint management (api.runpod.io/v2/serverless/{id}) --------------------------
    def get_endpoint(self) -> dict:
        return self._request("GET", f"{self.rest_base}/serverless/{self.endpoint_id}")

    def update_endpoint(self, changes: dict) -> dict:
        """PATCH a partial update, e.g. `{"workers": {"min": 1, "max": 3, "idleTimeout": 60}}`."""
        url = f"{self.rest_base}/serverless/{self.endpoint_id}"
        return self._request("PATCH", url, json=changes)

    def workers(self) -> dict:
        return self._request("GET", f"{self.rest_base}/serverless/{self.endpoint_id}/workers")

    # --- plumbing -------------------------------------------------------------------------------
    def _job(self, method: str, op: str, **kwargs) -> dict:
        return self._request(method, f"{self.api_base}/{self.endpoint_id}/{op}", **kwargs)

    def _request(self, method: str, url: str, *, timeout: float | None = None, **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        try:
            response = self._session.request(
                method, url, headers=headers, timeout=timeout or self.timeout, **kwargs
            )
        except requests.Timeout as exc:
            raise RunPodUnavailable(f"RunPod did not answer in time ({method} {url})") from exc
        except requests.RequestException as exc:
            raise RunPodUnavailable(f"cannot reach RunPod at {url}: {_reason(exc)}") from exc
        logger.debug("runpod %s %s -> %s", method, url, response.status_code)
        payload = _json(response)
        if response.status_code < 400:
            if not isinstance(payload, dict):
                raise RunPodError(
                    f"RunPod answered {method} {url} with something other than a JSON object",
                    status_code=response.status_code,
                    payload=payload,
                )
            return payload
        raise _error_for(response.status_code, payload, f"{method} {url}")


def _job_body(job_input: dict, webhook, policy, s3_config) -> dict:
    body: dict[str, Any] = {"input": job_input}
    if webhook:
        body["webhook"] = webhook
    if policy:
        body["policy"] = policy
    if s3_config:
        body["s3Config"] = s3_config
    return body


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _detail(payload: Any) -> str:
    """RunPod's own words: `error`, RFC 9457 `detail`/`title`, or the raw text."""
    if isinstance(payload, dict):
        for key in ("error", "detail", "message", "title"):
            if payload.get(key):
                return str(payload[key])
        return ""
    return str(payload or "")[:300]


def _error_for(status: int, payload: Any, what: str) -> RunPodError:
    detail = _detail(payload)
    suffix = f": {detail}" if detail else ""
    kind: type[RunPodError]
    if status == 401:
        kind = RunPodAuthError
    elif status == 403:
        kind = RunPodForbidden
    elif status == 404:
        kind = RunPodNotFound
    elif status in RETRY_STATUSES:
        kind = RunPodUnavailable
    elif status in (400, 413, 422):
        kind = RunPodBadRequest
    else:
        kind = RunPodError
    return kind(f"RunPod answered {status} to {what}{suffix}", status_code=status, payload=payload)


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return exc.__class__.__name__
