"""SwarmUIClient: SwarmUI's HTTP and WebSocket API with sessions, timeouts and typed errors.

Facts and traps it handles (shared/reference/swarmui-api.md):
- every route is `POST /API/<Route>` with a JSON object body; handler errors come back as
  HTTP 200 `{"error": ...}`, so the JSON is checked, not only the status (§1.3);
- one cached session, renewed once on `invalid_session_id` (HTTP 401, or the first WebSocket
  message) and the request replayed (§2.2);
- `GenerateText2ImageWS` and `DoModelDownloadWS` are WebSocket-only; a plain POST gets 400 (§1.4);
- the generation socket stays open ~2 s after `socket_intention: close` for more requests, so we
  stop reading there instead of waiting for the close (§3.3);
- a client disconnect does not stop server-side work: cancelling calls `InterruptAll` (§3.3).
Every call is bounded by a timeout; WebSocket reads poll so cancellation is seen within ~0.25 s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
import websocket

if TYPE_CHECKING:
    from worker.config import WorkerConfig

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.25
_CANCEL_GRACE_SECONDS = 10.0
_DOWNLOAD_STALL_SECONDS = 330.0


class SwarmUIError(Exception):
    """SwarmUI answered, but with an error (its own text is the message)."""

    def __init__(self, message: str, *, error_id: str | None = None, route: str | None = None):
        super().__init__(message)
        self.error_id = error_id
        self.route = route


class SwarmUIUnavailable(SwarmUIError):
    """SwarmUI could not be reached, or answered something that is not its API."""


class SwarmUITimeout(SwarmUIUnavailable):
    """A SwarmUI call did not finish within its time limit."""


class SwarmUIConnectionLost(SwarmUIUnavailable):
    """A WebSocket closed without a close frame in the middle of a request."""


class SwarmUISessionError(SwarmUIError):
    """SwarmUI rejected a freshly created session as well."""


class SwarmUICancelled(SwarmUIError):
    """The caller cancelled the request (the job was cancelled)."""


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    user_id: str
    version: str
    server_id: str
    output_append_user: bool


# Messages of a GenerateText2ImageWS request (§3.3), as the iterator yields them.
@dataclass(frozen=True)
class GenStatus:
    status: dict[str, Any]
    backend_status: dict[str, Any]


@dataclass(frozen=True)
class GenProgress:
    batch_index: str
    overall: float
    current: float


@dataclass(frozen=True)
class GenImage:
    image: str
    batch_index: str
    metadata: str | None


@dataclass(frozen=True)
class GenDiscard:
    indices: tuple[str, ...]


GenerationMessage = GenStatus | GenProgress | GenImage | GenDiscard


@dataclass(frozen=True)
class DownloadProgress:
    """One DoModelDownloadWS progress message; `fraction` is None when SwarmUI sent NaN."""

    fraction: float | None
    per_second: int


class SwarmUIClient:
    """One SwarmUI server. Thread-safe: jobs, cancellation and keep-alive may call it at once."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        ws_idle_timeout: float = 90.0,
        user_agent: str = "SwarmDeck-Worker",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.ws_idle_timeout = ws_idle_timeout
        self._user_agent = user_agent
        self._session: SessionInfo | None = None
        self._session_lock = threading.Lock()
        self._local = threading.local()

    # -- sessions ---------------------------------------------------------------------------

    def session(self) -> SessionInfo:
        """The cached session, created on first use."""
        with self._session_lock:
            if self._session is None:
                self._session = self._new_session()
            return self._session

    def _new_session(self) -> SessionInfo:
        data = self._post("GetNewSession", {}, timeout=self.timeout)
        if not isinstance(data.get("session_id"), str):
            raise SwarmUIUnavailable("GetNewSession answered without a session_id")
        return SessionInfo(
            session_id=data["session_id"],
            user_id=str(data.get("user_id", "local")),
            version=str(data.get("version", "")),
            server_id=str(data.get("server_id", "")),
            output_append_user=bool(data.get("output_append_user", True)),
        )

    def _forget_session(self, session_id: str) -> None:
        # Only drop the session that failed: another thread may already have renewed it.
        with self._session_lock:
            if self._session is not None and self._session.session_id == session_id:
                log.info("SwarmUI forgot our session; creating a new one")
                self._session = None

    # -- HTTP -------------------------------------------------------------------------------

    def call(
        self, route: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ):
        """POST a session route; renew the session once if SwarmUI no longer knows it."""
        for attempt in (1, 2):
            session_id = self.session().session_id
            data = self._post(route, {**(payload or {}), "session_id": session_id}, timeout=timeout)
            if data.get("error_id") != "invalid_session_id":
                return data
            self._forget_session(session_id)
            if attempt == 2:
                raise SwarmUISessionError(
                    f"SwarmUI rejected a new session too ({route})",
                    error_id="invalid_session_id",
                    route=route,
                )
        raise AssertionError("unreachable")

    def _http(self) -> requests.Session:
        # requests.Session is not documented as thread-safe: one per thread.
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
            http.headers["User-Agent"] = self._user_agent
        return http

    def _post(self, route: str, body: dict[str, Any], *, timeout: float | None) -> dict[str, Any]:
        """One POST; returns the JSON object unless it is an error other than a stale session."""
        limit = timeout or self.timeout
        try:
            response = self._http().post(
                f"{self.base_url}/API/{route}", json=body, timeout=limit, allow_redirects=False
            )
        except requests.Timeout:
            raise SwarmUITimeout(
                f"SwarmUI {route} timed out after {limit:g}s", route=route
            ) from None
        except requests.RequestException as error:
            raise SwarmUIUnavailable(
                f"cannot reach SwarmUI at {self.base_url}: {error}", route=route
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SwarmUIUnavailable(
                f"SwarmUI {route} answered HTTP {response.status_code} without JSON: "
                f"{response.text[:200]!r}",
                route=route,
            )
        if data.get("error_id") == "invalid_session_id":
            return data
        if "error" in data or "error_id" in data:
            raise SwarmUIError(
                str(data.get("error") or data.get("error_id")),
                error_id=data.get("error_id"),
                route=route,
            )
        if response.status_code >= 400:
            raise SwarmUIError(f"SwarmUI {route} answered HTTP {response.status_code}", route=route)
        return data

    def get_file(self, path: str, *, timeout: float | None = None) -> bytes:
        """GET an output such as `View/local/raw/2026-01-01/x.png` (percent-encoded here, §3.2)."""
        url = f"{self.base_url}/{quote(path.lstrip('/'), safe='/')}"
        limit = timeout or self.timeout
        try:
            response = self._http().get(url, timeout=limit)
        except requests.Timeout:
            raise SwarmUITimeout(f"fetching {path} timed out after {limit:g}s") from None
        except requests.RequestException as error:
            raise SwarmUIUnavailable(f"cannot fetch {path} from SwarmUI: {error}") from None
        if response.status_code != 200:
            raise SwarmUIError(f"fetching {path} failed: HTTP {response.status_code}")
        return response.content

    # -- typed routes -----------------------------------------------------------------------

    def list_backends(self) -> dict[str, dict[str, Any]]:
        """Backends keyed by id (an object, not a list: §6.1)."""
        return self.call("ListBackends", {"nonreal": True, "full_data": True})

    def current_status(self) -> dict[str, Any]:
        return self.call("GetCurrentStatus")

    def list_t2i_params(self) -> dict[str, Any]:
        return self.call("ListT2IParams")

    def list_models(self, **params: Any) -> dict[str, Any]:
        """ListModels with SwarmUI's own argument names (`path`, `depth`, `subtype`, ...)."""
        return self.call("ListModels", params)

    def describe_model(self, name: str, subtype: str) -> dict[str, Any]:
        """The model object (a wildcard comes back unwrapped, §4.3)."""
        data = self.call("DescribeModel", {"modelName": name, "subtype": subtype})
        return data["model"] if isinstance(data.get("model"), dict) else data

    def edit_model_metadata(self, fields: dict[str, Any]) -> None:
        self.call("EditModelMetadata", fields)

    def delete_model(self, name: str, subtype: str) -> None:
        self.call("DeleteModel", {"modelName": name, "subtype": subtype})

    def rename_model(self, old_name: str, new_name: str, subtype: str) -> None:
        self.call("RenameModel", {"oldName": old_name, "newName": new_name, "subtype": subtype})

    def interrupt_all(self, *, timeout: float = 5.0) -> None:
        self.call("InterruptAll", {"other_sessions": False}, timeout=timeout)

    def set_api_key(self, key_type: str, key: str) -> None:
        self.call("SetAPIKey", {"keyType": key_type, "key": key})

    def generate_http(self, params: dict[str, Any], *, timeout: float) -> list[str]:
        """The blocking HTTP GenerateText2Image: image paths (or data URLs)."""
        return list(self.call("GenerateText2Image", params, timeout=timeout).get("images", []))

    # -- WebSocket routes -------------------------------------------------------------------

    def generate(
        self,
        params: dict[str, Any],
        *,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> Iterator[GenerationMessage]:
        """Run one GenerateText2ImageWS request, yielding its messages until the work is done.

        `params` are the generation parameters including `images`. Raises SwarmUIError for an
        `error` message, SwarmUIConnectionLost if the socket drops, SwarmUITimeout past `timeout`
        (or after `ws_idle_timeout` without a message), SwarmUICancelled when `cancel` is set
        (after asking SwarmUI to interrupt the work, which a disconnect alone does not do).
        """
        cancel = cancel or threading.Event()
        stream = _SocketStream(self, "GenerateText2ImageWS", params, timeout=timeout, cancel=cancel)
        try:
            for message in stream:
                if "error" in message:
                    raise SwarmUIError(str(message["error"]), error_id=message.get("error_id"))
                if message.get("socket_intention") == "close":
                    return
                parsed = _parse_generation_message(message)
                if parsed is not None:
                    yield parsed
        except _CancelRequested:
            self.interrupt_quietly()
            raise SwarmUICancelled("generation cancelled") from None
        finally:
            stream.close()

    def download_model(
        self,
        *,
        url: str,
        model_type: str,
        name: str,
        metadata: str | None,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> Iterator[DownloadProgress]:
        """Run DoModelDownloadWS, yielding progress until `{"success": true}` (§4.6).

        On cancel it sends `{"signal": "cancel"}`, waits briefly for SwarmUI to confirm, and
        raises SwarmUICancelled.
        """
        cancel = cancel or threading.Event()
        payload = {"url": url, "type": model_type, "name": name}
        if metadata is not None:
            payload["metadata"] = metadata
        # SwarmUI gives up on a stalled download after 5 minutes (§4.6); let it say so first.
        idle = max(self.ws_idle_timeout, _DOWNLOAD_STALL_SECONDS)
        stream = _SocketStream(
            self, "DoModelDownloadWS", payload, timeout=timeout, cancel=cancel, idle_timeout=idle
        )
        try:
            for message in stream:
                if "error" in message:
                    raise SwarmUIError(str(message["error"]), error_id=message.get("error_id"))
                if message.get("success"):
                    return
                if "current_percent" in message or "overall_percent" in message:
                    yield DownloadProgress(
                        fraction=_finite(message.get("current_percent")),
                        per_second=int(_finite(message.get("per_second")) or 0),
                    )
        except _CancelRequested:
            stream.cancel_download()
            raise SwarmUICancelled("download cancelled") from None
        finally:
            stream.close()

    def interrupt_quietly(self) -> None:
        """InterruptAll, logging instead of raising (used on cancel and after a dropped socket)."""
        try:
            self.interrupt_all()
        except SwarmUIError as error:
            log.warning("InterruptAll after cancel failed: %s", error)


class _CancelRequested(Exception):
    pass


class _SocketStream:
    """The JSON messages of one WebSocket request, with session renewal, deadlines and cancel."""

    def __init__(
        self,
        client: SwarmUIClient,
        route: str,
        payload: dict[str, Any],
        *,
        timeout: float,
        cancel: threading.Event,
        idle_timeout: float | None = None,
    ) -> None:
        self._client = client
        self._idle_timeout = idle_timeout or client.ws_idle_timeout
        self._route = route
        self._payload = payload
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._cancel = cancel
        self._socket: websocket.WebSocket | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for attempt in (1, 2):
            session_id = self._client.session().session_id
            self._connect({**self._payload, "session_id": session_id})
            first = self._receive()
            if first is not None and first.get("error_id") == "invalid_session_id":
                # Same check order as HTTP: the session is rejected before anything runs (§1.4).
                self.close()
                self._client._forget_session(session_id)
                if attempt == 2:
                    raise SwarmUISessionError(
                        f"SwarmUI rejected a new session too ({self._route})", route=self._route
                    )
                continue
            message = first
            while message is not None:
                yield message
                message = self._receive()
            return

    def _connect(self, first_message: dict[str, Any]) -> None:
        url = "ws" + self._client.base_url.removeprefix("http") + f"/API/{self._route}"
        try:
            self._socket = websocket.create_connection(
                url,
                timeout=min(self._client.timeout, self._remaining()),
                header=[f"User-Agent: {self._client._user_agent}"],
                enable_multithread=True,
            )
            self._socket.send(json.dumps(first_message))
            self._socket.settimeout(_POLL_SECONDS)
        except websocket.WebSocketTimeoutException:
            self.close()
            raise SwarmUITimeout(f"opening {self._route} timed out", route=self._route) from None
        except (websocket.WebSocketException, OSError) as error:
            self.close()
            raise SwarmUIUnavailable(
                f"cannot open SwarmUI WebSocket {self._route}: {error}", route=self._route
            ) from None

    def _remaining(self) -> float:
        return max(0.1, self._deadline - time.monotonic())

    def _receive(self) -> dict[str, Any] | None:
        """The next JSON message, or None when the server closed the socket properly."""
        assert self._socket is not None
        last_message = time.monotonic()
        while True:
            if self._cancel.is_set():
                raise _CancelRequested
            now = time.monotonic()
            if now >= self._deadline:
                raise SwarmUITimeout(
                    f"SwarmUI {self._route} did not finish within {self._timeout:g}s",
                    route=self._route,
                )
            if now - last_message >= self._idle_timeout:
                # SwarmUI sends keep_alive at least every 30 s while working (§3.3).
                raise SwarmUITimeout(
                    f"SwarmUI {self._route} sent nothing for {self._idle_timeout:g}s",
                    route=self._route,
                )
            try:
                opcode, data = self._socket.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as error:
                raise SwarmUIConnectionLost(
                    f"SwarmUI closed the {self._route} WebSocket unexpectedly ({error or 'reset'})",
                    route=self._route,
                ) from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return None
            if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                continue
            try:
                message = json.loads(data)
            except ValueError:
                log.warning("ignoring a non-JSON %s message: %r", self._route, data[:200])
                continue
            if isinstance(message, dict):
                return message

    def cancel_download(self) -> None:
        """Ask SwarmUI to stop a download and wait (briefly) until it confirms."""
        if self._socket is None:
            return
        try:
            self._socket.send(json.dumps({"signal": "cancel"}))
            grace = time.monotonic() + _CANCEL_GRACE_SECONDS
            self._cancel = threading.Event()
            self._deadline = min(self._deadline, grace)
            while (message := self._receive()) is not None:
                if "error" in message or message.get("success"):
                    return
        except (SwarmUIError, websocket.WebSocketException, OSError) as error:
            log.info("download cancel: %s", error)

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self._socket.close(timeout=1)
            self._socket = None


def _parse_generation_message(message: dict[str, Any]) -> GenerationMessage | None:
    if "image" in message:
        metadata = message.get("metadata")
        return GenImage(
            image=str(message["image"]),
            batch_index=str(message.get("batch_index", "0")),
            metadata=metadata if isinstance(metadata, str) else None,
        )
    if isinstance(message.get("gen_progress"), dict):
        progress = message["gen_progress"]
        return GenProgress(
            # batch_index can be a number in ComfyUI preview messages: compare as strings.
            batch_index=str(progress.get("batch_index", "0")),
            overall=_finite(progress.get("overall_percent")) or 0.0,
            current=_finite(progress.get("current_percent")) or 0.0,
        )
    if isinstance(message.get("status"), dict):
        return GenStatus(
            status=message["status"], backend_status=message.get("backend_status") or {}
        )
    if "discard_indices" in message:
        return GenDiscard(indices=tuple(str(i) for i in message.get("discard_indices") or ()))
    return None  # keep_alive, raw_* data, anything newer


def _finite(value: Any) -> float | None:
    """A float, or None for missing, NaN, Infinity (SwarmUI may send them as strings: §4.6)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def client_from_config(
    config: WorkerConfig, *, user_agent: str = "SwarmDeck-Worker"
) -> SwarmUIClient:
    """A client for the SwarmUI a WorkerConfig points at."""
    return SwarmUIClient(
        config.swarmui_api_url,
        timeout=config.request_timeout,
        ws_idle_timeout=config.ws_idle_timeout,
        user_agent=user_agent,
    )
