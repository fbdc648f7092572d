"""A download link's redirects are followed before anything is sent: every hop must pass the
address rules, against real local HTTP servers (127.0.0.1 is listed as a private host)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from dashboard.catalogue.actions import model_download_start
from dashboard.catalogue.models import AuditEntry, ModelAction
from dashboard.catalogue.url_guard import UnsafeURL, check_download_redirects
from tests.dashboard.catalogue.manage_support import runpod_jobs


class RedirectServer:
    """Answers each path from `routes`: (status, Location or None); unknown paths are a 200 file.
    Paths in `head_refused` answer HEAD with 405 and only reveal their answer to GET."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str | None]] = {}
        self.head_refused: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def reset(self) -> None:
        self.routes.clear()
        self.head_refused.clear()
        self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                server.requests.append((self.command, self.path))
                if self.command == "HEAD" and self.path in server.head_refused:
                    status, location = 405, None
                else:
                    status, location = server.routes.get(self.path, (200, None))
                body = b"weights" * 1000 if status == 200 else b""
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = _answer

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="module")
def redirect_server():
    server = RedirectServer()
    yield server
    server.stop()


@pytest.fixture
def web(redirect_server, settings):
    """The server with no routes; only 127.0.0.1 may be private, redirects are checked."""
    settings.MODEL_DOWNLOAD_ALLOWED_HOSTS = []
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.MODEL_DOWNLOAD_CHECK_REDIRECTS = True
    redirect_server.reset()
    yield redirect_server
    redirect_server.reset()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refusal(url: str) -> str:
    with pytest.raises(UnsafeURL) as problem:
        check_download_redirects(url)
    return str(problem.value)


# --- refused hops ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_to_the_metadata_service_is_refused(web, status):
    web.routes["/m.safetensors"] = (status, "http://169.254.169.254/latest/meta-data/")
    words = refusal(web.url("/m.safetensors"))
    assert words.startswith("The link redirects to a private address (169.254.169.254 is ")
    assert "link-local" in words
    # Refused on the Location alone: the metadata address is never requested.
    assert web.requests == [("HEAD", "/m.safetensors")]


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://10.0.0.1/m.safetensors", "private address (10.0.0.1 is 10.0.0.1)"),
        ("http://localhost:{port}/m.safetensors", "private address (localhost is "),
        ("http://admin:secret@127.0.0.1:{port}/m", "a user name or password"),
        ("file:///etc/passwd", "redirects to a file: address; only http:// and https://"),
        ("gopher://127.0.0.1:{port}/", "redirects to a gopher: address"),
        ("http://[::1/x", "an address that is not valid"),
    ],
)
def test_redirects_off_the_public_internet_are_refused(web, location, words):
    web.routes["/m.safetensors"] = (302, location.format(port=web.port))
    assert words in refusal(web.url("/m.safetensors"))
    assert web.requests == [("HEAD", "/m.safetensors")]


def test_a_redirect_loop_is_refused(web):
    web.routes["/a"] = (302, "/b")
    web.routes["/b"] = (307, web.url("/a"))
    assert refusal(web.url("/a")) == "The link redirects in a loop; it cannot be downloaded."


def test_five_redirects_are_followed_and_a_sixth_is_refused(web):
    for hop in range(1, 7):
        web.routes[f"/chain/{hop}"] = (302, f"/chain/{hop - 1}")
    assert check_download_redirects(web.url("/chain/5")) == web.url("/chain/0")
    assert refusal(web.url("/chain/6")) == (
        "The link redirects more than 5 times; paste the link of the file itself."
    )


def test_an_unreachable_link_is_refused(web):
    words = refusal(f"http://127.0.0.1:{closed_port()}/m.safetensors")
    assert words.startswith("The link could not be reached (127.0.0.1: connection failed)")


def test_a_hop_that_does_not_resolve_is_refused(web):
    web.routes["/m"] = (302, "http://no-such-host.invalid/m.safetensors")
    assert refusal(web.url("/m")) == (
        "The link redirects to no-such-host.invalid, which could not be resolved."
    )


# --- accepted -------------------------------------------------------------------------------------
def test_a_plain_file_is_accepted_with_one_head_request(web):
    assert check_download_redirects(web.url("/m.safetensors")) == web.url("/m.safetensors")
    assert web.requests == [("HEAD", "/m.safetensors")]


def test_a_redirect_to_another_listed_host_is_accepted(web, settings):
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1", "localhost"]
    target = web.url("/cdn/m.safetensors", host="localhost")
    web.routes["/m.safetensors"] = (301, target)
    assert check_download_redirects(web.url("/m.safetensors")) == target
    assert web.requests == [("HEAD", "/m.safetensors"), ("HEAD", "/cdn/m.safetensors")]


def test_a_server_refusing_head_is_asked_with_get(web):
    web.head_refused.add("/m.safetensors")
    web.routes["/m.safetensors"] = (302, "/file.safetensors")
    assert check_download_redirects(web.url("/m.safetensors")) == web.url("/file.safetensors")
    assert web.requests == [
        ("HEAD", "/m.safetensors"),
        ("GET", "/m.safetensors"),
        ("HEAD", "/file.safetensors"),
    ]


def test_a_redirect_only_get_reveals_is_still_checked(web):
    web.head_refused.add("/m.safetensors")
    web.routes["/m.safetensors"] = (302, "http://169.254.169.254/latest/meta-data/")
    assert "redirects to a private address" in refusal(web.url("/m.safetensors"))


def test_the_check_can_be_turned_off_for_a_dashboard_without_internet(web, settings):
    settings.MODEL_DOWNLOAD_CHECK_REDIRECTS = False
    web.routes["/m.safetensors"] = (302, "http://169.254.169.254/")
    assert check_download_redirects(web.url("/m.safetensors")) == web.url("/m.safetensors")
    assert web.requests == []


# --- through the download action: a field error, nothing sent to RunPod ---------------------------
@pytest.mark.parametrize(
    ("routes", "words"),
    [
        ({"/m.safetensors": (302, "http://169.254.169.254/latest/")}, "private address"),
        ({"/m.safetensors": (301, "http://10.0.0.1/")}, "private address"),
        ({"/m.safetensors": (307, "http://localhost:{port}/")}, "private address"),
        ({"/m.safetensors": (302, "http://u:p@127.0.0.1:{port}/")}, "user name or password"),
        ({"/m.safetensors": (302, "ftp://127.0.0.1/m")}, "ftp: address"),
        ({"/m.safetensors": (302, "/m.safetensors")}, "in a loop"),
        (
            {"/m.safetensors": (302, "/1"), **{f"/{n}": (302, f"/{n + 1}") for n in range(1, 6)}},
            "more than 5 times",
        ),
    ],
)
def test_a_refused_redirect_names_the_url_and_sends_nothing(
    owner, queued_runpod, queued_endpoint, web, routes, words
):
    web.routes.update(
        {path: (status, to.format(port=web.port)) for path, (status, to) in routes.items()}
    )
    before = len(runpod_jobs(queued_runpod))
    with pytest.raises(ValidationError) as error:
        model_download_start(membership=owner, url=web.url("/m.safetensors"))
    assert list(error.value.message_dict) == ["url"]
    assert words in error.value.message_dict["url"][0]
    assert len(runpod_jobs(queued_runpod)) == before
    assert not ModelAction.objects.exists()
    assert not AuditEntry.objects.exists()


def test_an_accepted_redirect_sends_the_link_as_given(owner, queued_runpod, queued_endpoint, web):
    web.routes["/m.safetensors"] = (302, "/cdn/m.safetensors")
    action = model_download_start(membership=owner, url=web.url("/m.safetensors"))
    [job] = [job for job in runpod_jobs(queued_runpod) if job["id"] == action.runpod_job_id]
    assert job["input"]["url"] == web.url("/m.safetensors")
