"""What an admin pastes → the file link SwarmUI downloads, or a plain-words reason why not.

Pure: no network, no settings. Hugging Face file pages (`/blob/`) become `/resolve/` links; a
CivitAI model page with a chosen version becomes its `api/download` link. Whole-repository pages,
folder listings and model pages without a version are refused with what to paste instead, because
SwarmUI would save the HTML page under a model's name. Other hosts pass through unchanged; whether
they may be used at all is url_guard's call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

Provider = Literal["huggingface", "civitai", "other"]

# SwarmUI stores every download as `.safetensors` (`.gguf` when the URL ends so: §4.6).
MODEL_EXTENSIONS = (".safetensors", ".sft", ".gguf")
# Pickled checkpoints would be saved under a `.safetensors` name that no loader accepts.
PICKLE_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin")
# Every extension SwarmUI lists a model file with (swarmui-api.md §4.1).
LISTED_EXTENSIONS = (*MODEL_EXTENSIONS, ".engine", *PICKLE_EXTENSIONS)

_HF_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")
_CIVITAI_HOSTS = ("civitai.com", "www.civitai.com")
_PROVIDER_DOMAINS: tuple[tuple[str, Provider], ...] = (
    ("huggingface.co", "huggingface"),
    ("hf.co", "huggingface"),
    ("civitai.com", "civitai"),
)


class LinkProblem(ValueError):
    """A link that cannot be downloaded; the text says why and what to paste instead."""


@dataclass(frozen=True)
class DownloadLink:
    url: str
    provider: Provider
    suggested_name: str  # a model name taken from the link (no extension), "" if it has none


def provider_of(url: str) -> Provider:
    """Whose token a download from `url` needs: by host, subdomains (CDNs) included."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for domain, provider in _PROVIDER_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return provider
    return "other"


def parse_download_link(text: str) -> DownloadLink:
    """The file link for a pasted link; raises LinkProblem in plain words."""
    try:
        parts = urlsplit(text.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        raise LinkProblem("This is not a web address; paste the link from your browser.") from None
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    if host in _HF_HOSTS:
        return _huggingface(parts, segments)
    if host in _CIVITAI_HOSTS:
        return _civitai(parts, segments)
    url = urlunsplit(parts._replace(fragment=""))
    file_name = segments[-1] if segments else ""
    _refuse_pickles(file_name)
    stem = _stem(file_name) if file_name.lower().endswith(MODEL_EXTENSIONS) else ""
    return DownloadLink(url=url, provider=provider_of(url), suggested_name=stem)


def _huggingface(parts, segments: list[str]) -> DownloadLink:
    kind = ""
    if segments and segments[0] in ("datasets", "spaces", "models"):
        kind, segments = segments[0], segments[1:]
    if kind == "spaces":
        raise LinkProblem(
            "This is a Hugging Face Space (an app), not a model file. Open the model's own "
            "repository, click the file you want and paste that link."
        )
    if len(segments) < 2:
        raise LinkProblem(
            "This Hugging Face page is a list or a user's page, not a model file. Open the model, "
            "then its 'Files and versions' tab, click the file and paste that link."
        )
    repo, rest = "/".join(segments[:2]), segments[2:]
    if not rest or rest[0] == "tree":
        where = "a folder of" if rest else "the main page of"
        raise LinkProblem(
            f"This is {where} the Hugging Face repository {repo}, which can hold many files. "
            "Open its 'Files and versions' tab, click the one file you want (a .safetensors or "
            ".gguf file) and paste that page's link."
        )
    if rest[0] not in ("blob", "resolve", "raw"):
        raise LinkProblem(
            f"This Hugging Face page ('{rest[0]}' of {repo}) is not a file. Open the "
            "'Files and versions' tab, click the file you want and paste that link."
        )
    if len(rest) < 3:
        raise LinkProblem(
            f"This Hugging Face link names a version of {repo} but no file in it; click the file "
            "and paste that link."
        )
    file_name = rest[-1]
    _require_model_file(file_name)
    # `blob` is the HTML page and `raw` an LFS pointer for big files; `resolve` gives the bytes.
    raw = [segment for segment in parts.path.split("/") if segment]
    raw[(1 if kind else 0) + 2] = "resolve"
    url = "https://huggingface.co/" + "/".join(raw)
    return DownloadLink(url=url, provider="huggingface", suggested_name=_stem(file_name))


def _civitai(parts, segments: list[str]) -> DownloadLink:
    query = parse_qs(parts.query)
    if segments[:3] == ["api", "download", "models"] and len(segments) == 4:
        version = segments[3]
        _require_number(version)
        url = urlunsplit(("https", "civitai.com", parts.path, parts.query, ""))
        return DownloadLink(url=url, provider="civitai", suggested_name="")
    if segments[:3] == ["api", "v1", "model-versions"] and len(segments) == 4:
        return _civitai_version(segments[3], "")
    if segments and segments[0] == "models" and len(segments) >= 2:
        _require_number(segments[1])
        slug = segments[2] if len(segments) > 2 else ""
        versions = query.get("modelVersionId", [])
        if not versions:
            raise LinkProblem(
                "This is a CivitAI model page, and a model there can have several versions. "
                "Choose the version on the page (the address then ends in ?modelVersionId=…) and "
                "paste that address, or copy the link of the version's Download button."
            )
        return _civitai_version(versions[0], slug)
    raise LinkProblem(
        "This CivitAI link is not a model. Paste the address of a model page with its version "
        "chosen (civitai.com/models/…?modelVersionId=…) or of a Download button."
    )


def _civitai_version(version: str, slug: str) -> DownloadLink:
    _require_number(version)
    name = slug.replace("-", "_") if slug else ""
    return DownloadLink(
        url=f"https://civitai.com/api/download/models/{version}",
        provider="civitai",
        suggested_name=name,
    )


def _require_number(text: str) -> None:
    if not text.isdigit():
        raise LinkProblem(
            f"This CivitAI link has '{text}' where a model or version number should be; copy the "
            "address again from the model page."
        )


def _require_model_file(file_name: str) -> None:
    _refuse_pickles(file_name)
    if not file_name.lower().endswith(MODEL_EXTENSIONS):
        extension = file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        what = f"a .{extension} file" if extension else "a file without an extension"
        raise LinkProblem(
            f"This link is to {what} ('{file_name}'), not a model. Pick the model file itself "
            "(.safetensors or .gguf)."
        )


def _refuse_pickles(file_name: str) -> None:
    lowered = file_name.lower()
    for extension in PICKLE_EXTENSIONS:
        if lowered.endswith(extension):
            raise LinkProblem(
                f"This is a {extension} file (an older, pickled format). SwarmUI saves every "
                "download as .safetensors, and a "
                f"{extension} file under that name would not load; look for a .safetensors "
                "version of the model."
            )


def strip_model_extension(name: str, extensions: tuple[str, ...] = LISTED_EXTENSIONS) -> str:
    """`name` without its model file extension (any case), if it has one of `extensions`."""
    lowered = name.lower()
    for extension in extensions:
        if lowered.endswith(extension):
            return name[: -len(extension)]
    return name


def _stem(file_name: str) -> str:
    return strip_model_extension(file_name, MODEL_EXTENSIONS)
