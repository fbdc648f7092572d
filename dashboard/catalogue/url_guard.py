"""Checks on what an admin asks the worker to download, and under which name, before anything is
sent to RunPod.

The worker fetches whatever URL it is given from inside the GPU cloud, so a link is a request made
with the worker's network position: only http(s), only hosts on an allow-list (huggingface.co,
civitai.com and MODEL_DOWNLOAD_ALLOWED_HOSTS), no credentials in the link, and no host that resolves
to a private, loopback, link-local, multicast or reserved address (cloud metadata services live at
169.254.169.254). Hosts in MODEL_DOWNLOAD_PRIVATE_HOSTS skip that last check: they exist so that
tests and `make dev` can download from a server on the same machine. SwarmUI resolves the name
again when it downloads; the allow-list is what limits a host that changes its answer.

SwarmUI also follows redirects, and an allowed host may redirect anywhere (Hugging Face and CivitAI
send files from CDN hosts), so check_download_redirects follows the chain first and applies the
address rules, not the allow-list, to every hop.

Names follow SwarmUI's rules for download targets (swarmui-api.md §4.6): relative, forward slashes,
no `..`, and no dots, because SwarmUI silently drops them (`sd_xl_1.0` would land as `sd_xl_10`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from django.conf import settings

from dashboard.catalogue.download_links import MODEL_EXTENSIONS, strip_model_extension

DEFAULT_ALLOWED_HOSTS = ("huggingface.co", "hf.co", "civitai.com")
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_SEGMENT_LENGTH = 120
# Query parameters that carry a secret (CivitAI accepts `?token=`; S3/CloudFront sign with these).
CREDENTIAL_PARAMETERS = frozenset(
    {
        "token",
        "api_key",
        "apikey",
        "access_token",
        "auth",
        "authorization",
        "key",
        "password",
        "secret",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
MAX_REDIRECTS = 5
# (connect, read) seconds per hop of the redirect check: an admin is waiting for the answer.
REDIRECT_CHECK_TIMEOUT = (3.0, 5.0)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Answers of servers that refuse HEAD (S3-style signed links answer 403: signatures are per method).
HEAD_REFUSED = frozenset({403, 405, 501})
# Besides dots and control characters, SwarmUI's filename cleaner removes these (§3.2, §4.6).
_CLEANED_CHARACTERS = set('<>:"|?*~&@;#$^')

Resolver = Callable[..., list]


class UnsafeURL(ValueError):
    """A download link that must not be sent; the text says why in plain words."""


class BadName(ValueError):
    """A model name or folder SwarmUI would refuse or change; names the field and says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- links ----------------------------------------------------------------------------------------
def check_link_syntax(url: str) -> str:
    """Scheme, length, a host, and no credentials; returns the stripped link."""
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        raise UnsafeURL("Paste the link of the file to download.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The link is too long ({len(url)} characters; at most {MAX_URL_LENGTH}).")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UnsafeURL("The link contains spaces or control characters; copy it again.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UnsafeURL("This is not a valid web address; copy the link again.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURL(
            "Only http:// and https:// links can be downloaded"
            + (f" (this one starts with {parts.scheme}:)." if parts.scheme else ".")
        )
    if "@" in parts.netloc:
        raise UnsafeURL(
            "The link contains a user name or password. Remove it; store Hugging Face and CivitAI "
            "tokens under Provider tokens instead."
        )
    if not parts.hostname:
        raise UnsafeURL("The link has no host name.")
    secrets = sorted(
        {name for name, _ in parse_qsl(parts.query) if name.lower() in CREDENTIAL_PARAMETERS}
    )
    if secrets:
        raise UnsafeURL(
            f"The link carries a credential ({', '.join(secrets)}=…). Remove it from the link; "
            "store Hugging Face and CivitAI tokens under Provider tokens instead."
        )
    return url


def check_download_url(
    url: str,
    *,
    allowed_hosts: Iterable[str] | None = None,
    private_hosts: Iterable[str] | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> str:
    """Every check on a link the worker is to fetch; returns it, or raises UnsafeURL."""
    url = check_link_syntax(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    private = {h.lower().rstrip(".") for h in _setting(private_hosts, "PRIVATE")}
    allowed = [*DEFAULT_ALLOWED_HOSTS, *_setting(allowed_hosts, "ALLOWED"), *private]
    if not any(host == entry.lower() or host.endswith("." + entry.lower()) for entry in allowed):
        raise UnsafeURL(
            f"Downloads may only come from {', '.join(DEFAULT_ALLOWED_HOSTS)} and the hosts an "
            f"operator allowed (MODEL_DOWNLOAD_ALLOWED_HOSTS); {host} is not one of them."
        )
    if host in private:
        return url
    try:
        found = _non_public_address(host, _port(parts), resolve)
    except (UnicodeError, OSError):
        raise UnsafeURL(f"The host name {host} could not be resolved; check the link.") from None
    if found:
        raise UnsafeURL(
            f"{host} points to {found[0]}, {found[1]}. Downloads may only come from public "
            "internet addresses."
        )
    return url


def check_download_redirects(
    url: str,
    *,
    private_hosts: Iterable[str] | None = None,
    resolve: Resolver = socket.getaddrinfo,
    max_redirects: int = MAX_REDIRECTS,
) -> str:
    """Follow the redirects of a link check_download_url accepted; returns the last URL.

    Every hop is requested without following (HEAD, or a GET whose body is never read when HEAD
    is refused) and its Location must pass the address rules: http(s), no user name or password,
    no private, loopback, link-local, multicast or reserved address unless the host is in
    MODEL_DOWNLOAD_PRIVATE_HOSTS. The allow-list is not applied to hops: the providers redirect to
    CDN hosts whose names change. Signed CDN links carry `X-Amz-Signature`-style parameters, so the
    credential-parameter check is not applied to hops either.

    Residual risk (time of check to time of use): SwarmUI fetches the link again later, from the
    GPU cloud and with the team's token, and the server or its DNS may answer differently then.
    This check stops links that redirect to private addresses as they stand; it cannot bind the
    server's later answers. The allow-list on the first host is what limits that. Each hop's name
    is also resolved twice (our check, then requests' connection), so a rebinding DNS could aim our
    HEAD at a private address; we send no credentials and read no body, which keeps that blind.

    Off when MODEL_DOWNLOAD_CHECK_REDIRECTS is false (a dashboard without internet access).
    """
    if not getattr(settings, "MODEL_DOWNLOAD_CHECK_REDIRECTS", True):
        return url
    private = {h.lower().rstrip(".") for h in _setting(private_hosts, "PRIVATE")}
    seen = {url}
    current = url
    with requests.Session() as session:
        for _ in range(max_redirects + 1):
            location = _redirect_of(session, current)
            if location is None:
                return current
            target = _check_hop(current, location, private, resolve)
            if target in seen:
                raise UnsafeURL("The link redirects in a loop; it cannot be downloaded.")
            seen.add(target)
            current = target
    raise UnsafeURL(
        f"The link redirects more than {max_redirects} times; paste the link of the file itself."
    )


def _redirect_of(session: requests.Session, url: str) -> str | None:
    """The Location a URL answers with, or None when it does not redirect."""
    options = {"allow_redirects": False, "timeout": REDIRECT_CHECK_TIMEOUT}
    headers = {"User-Agent": "SwarmDeck link check", "Accept-Encoding": "identity"}
    try:
        with session.head(url, headers=headers, **options) as answer:
            status, location = answer.status_code, answer.headers.get("Location")
        if status in HEAD_REFUSED:
            # stream=True: the headers are read, the body never is (closing drops the connection).
            with session.get(url, headers=headers, stream=True, **options) as answer:
                status, location = answer.status_code, answer.headers.get("Location")
    except requests.RequestException as exc:
        host = urlsplit(url).hostname or url
        raise UnsafeURL(
            f"The link could not be reached ({host}: {_reason(exc)}); check it and try again."
        ) from None
    except ValueError:
        # requests parses the Location even when not following it, and raises on a broken one.
        raise UnsafeURL("The link redirects to an address that is not valid.") from None
    if status in REDIRECT_STATUSES and location:
        return location.strip()
    return None


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return "the answer was not valid HTTP"


def _check_hop(current: str, location: str, private: set[str], resolve: Resolver) -> str:
    """The redirect target if it passes the address rules; else UnsafeURL saying where it leads."""
    try:
        target = urljoin(current, location)
        parts = urlsplit(target)
        port = _port(parts)
    except ValueError:
        raise UnsafeURL("The link redirects to an address that is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(
            f"The link redirects to a {scheme or 'non-web'}: address; only http:// and https:// "
            "downloads are allowed."
        )
    if "@" in parts.netloc:
        raise UnsafeURL("The link redirects to an address with a user name or password in it.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeURL("The link redirects to an address without a host name.")
    if host in private:
        return target
    try:
        found = _non_public_address(host, port, resolve)
    except (UnicodeError, OSError):
        raise UnsafeURL(f"The link redirects to {host}, which could not be resolved.") from None
    if found:
        raise UnsafeURL(
            f"The link redirects to a private address ({host} is {found[0]}). That is "
            f"{found[1]}; downloads may only come from public internet addresses."
        )
    return target


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _non_public_address(host: str, port: int, resolve: Resolver) -> tuple[str, str] | None:
    """(address, kind) of the first non-public address the host resolves to; OSError if none."""
    addresses = {info[4][0] for info in resolve(host, port, proto=socket.IPPROTO_TCP)}
    for address in sorted(addresses):
        kind = _non_public_kind(address)
        if kind:
            return address, kind
    return None


def _setting(given: Iterable[str] | None, which: str) -> list[str]:
    if given is not None:
        return list(given)
    return list(getattr(settings, f"MODEL_DOWNLOAD_{which}_HOSTS", []))


def _non_public_kind(address: str) -> str:
    """'' for a public address, else what kind of address it is, in words."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private network address"
    if not ip.is_global:
        return "an address that is not on the public internet"
    return ""


# --- names ----------------------------------------------------------------------------------------
def check_download_name(name: str, folder: str = "", *, name_field: str = "name") -> str:
    """`folder/name` as SwarmUI will store it, without extension; raises BadName.

    A trailing model extension is dropped and spaces become `_` (SwarmUI does both itself);
    anything SwarmUI would silently change otherwise is refused, so the file lands where asked.
    """
    name = (name or "").strip()
    if not name:
        raise BadName(name_field, "Give the model a name.")
    name = _drop_extension(name)
    segments = _segments(folder, "folder", allow_empty=True) + _segments(name, name_field)
    full = "/".join(segments)
    if len(full) > MAX_NAME_LENGTH:
        raise BadName(
            name_field,
            f"The name is too long ({len(full)} characters with its folder; at most "
            f"{MAX_NAME_LENGTH}).",
        )
    return full


def check_folder(folder: str) -> str:
    """A subfolder under the model type's folder ('' for none); raises BadName."""
    return "/".join(_segments(folder, "folder", allow_empty=True))


def _segments(text: str, what: str, *, allow_empty: bool = False) -> list[str]:
    text = (text or "").strip()
    if not text:
        return []
    if "\\" in text:
        raise BadName(what, f"Use / between folders; the {_words(what)} has a backslash.")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise BadName(what, f"The {_words(what)} contains control characters.")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise BadName(
            what, f"The {_words(what)} must be relative to the model folder, not an absolute path."
        )
    segments = text.strip("/").split("/") if allow_empty else text.split("/")
    result = []
    for segment in segments:
        segment = segment.strip()
        if segment in ("", ".", ".."):
            raise BadName(
                what, f"The {_words(what)} has an empty, '.' or '..' part; '..' is not allowed."
            )
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise BadName(
                what,
                f"A part of the {_words(what)} is longer than {MAX_SEGMENT_LENGTH} characters.",
            )
        if "." in segment:
            suggestion = segment.replace(".", "_")
            raise BadName(
                what,
                f"SwarmUI drops dots from the names it saves, so '{segment}' would be saved as "
                f"'{segment.replace('.', '')}'. Use '_' or '-' instead (e.g. '{suggestion}').",
            )
        bad = sorted(set(segment) & _CLEANED_CHARACTERS)
        if bad:
            raise BadName(
                what,
                f"SwarmUI removes {' '.join(bad)} from names; leave "
                f"{'it' if len(bad) == 1 else 'them'} out of the {_words(what)}.",
            )
        result.append(segment.replace(" ", "_"))
    return result


def _drop_extension(name: str) -> str:
    return strip_model_extension(name, MODEL_EXTENSIONS)


def _words(field: str) -> str:
    return field.replace("_", " ")


def suggest_download_name(file_name: str) -> str:
    """A name check_download_name accepts, made from a file's name ('' if nothing is left)."""
    stem = _drop_extension((file_name or "").strip())
    kept = "".join(
        char
        for char in stem
        if char not in _CLEANED_CHARACTERS and char not in "/\\" and ord(char) >= 32
    )
    return kept.replace(".", "_").replace(" ", "_").strip("_")[:MAX_SEGMENT_LENGTH]
