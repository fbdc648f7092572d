"""Pasted links → file links SwarmUI can download, or a plain-words reason why not."""

import pytest

from dashboard.catalogue.download_links import LinkProblem, parse_download_link, provider_of

HF = "https://huggingface.co"


@pytest.mark.parametrize(
    ("pasted", "url", "name"),
    [
        (
            f"{HF}/stabilityai/sdxl-turbo/blob/main/sd_xl_turbo_1.0_fp16.safetensors",
            f"{HF}/stabilityai/sdxl-turbo/resolve/main/sd_xl_turbo_1.0_fp16.safetensors",
            "sd_xl_turbo_1.0_fp16",
        ),
        (
            f"{HF}/city96/FLUX.1-dev-gguf/blob/main/flux1-dev-Q4_0.gguf?download=true#top",
            f"{HF}/city96/FLUX.1-dev-gguf/resolve/main/flux1-dev-Q4_0.gguf",
            "flux1-dev-Q4_0",
        ),
        (
            f"{HF}/owner/repo/resolve/abc123/loras/style%20one.safetensors",
            f"{HF}/owner/repo/resolve/abc123/loras/style%20one.safetensors",
            "style one",
        ),
        (
            f"{HF}/owner/repo/raw/main/vae.safetensors",
            f"{HF}/owner/repo/resolve/main/vae.safetensors",
            "vae",
        ),
        (
            "https://hf.co/owner/repo/blob/main/m.sft",
            f"{HF}/owner/repo/resolve/main/m.sft",
            "m",
        ),
        (
            f"{HF}/datasets/owner/set/blob/main/m.safetensors",
            f"{HF}/datasets/owner/set/resolve/main/m.safetensors",
            "m",
        ),
    ],
)
def test_hugging_face_file_pages_become_resolve_links(pasted, url, name):
    link = parse_download_link(pasted)
    assert (link.url, link.provider, link.suggested_name) == (url, "huggingface", name)


@pytest.mark.parametrize(
    ("pasted", "words"),
    [
        (f"{HF}/stabilityai/sdxl-turbo", "main page of the Hugging Face repository"),
        (f"{HF}/stabilityai/sdxl-turbo/tree/main", "a folder of the Hugging Face repository"),
        (f"{HF}/stabilityai/sdxl-turbo/tree/main/unet", "'Files and versions' tab"),
        (f"{HF}/stabilityai", "not a model file"),
        (f"{HF}/spaces/owner/app", "a Hugging Face Space (an app)"),
        (f"{HF}/owner/repo/discussions/3", "('discussions' of owner/repo) is not a file"),
        (f"{HF}/owner/repo/blob/main", "but no file in it"),
        (f"{HF}/owner/repo/blob/main/README.md", "a .md file ('README.md'), not a model"),
        (f"{HF}/owner/repo/blob/main/model.ckpt", "a .ckpt file (an older, pickled format)"),
        (f"{HF}/owner/repo/blob/main/LICENSE", "a file without an extension"),
    ],
)
def test_hugging_face_pages_that_are_not_a_file_are_explained(pasted, words):
    with pytest.raises(LinkProblem) as problem:
        parse_download_link(pasted)
    assert words in str(problem.value)


@pytest.mark.parametrize(
    ("pasted", "url", "name"),
    [
        (
            "https://civitai.com/models/4201/realistic-vision?modelVersionId=130072",
            "https://civitai.com/api/download/models/130072",
            "realistic_vision",
        ),
        (
            "https://civitai.com/models/4201?modelVersionId=130072",
            "https://civitai.com/api/download/models/130072",
            "",
        ),
        (
            "https://civitai.com/api/download/models/130072?type=Model&format=SafeTensor",
            "https://civitai.com/api/download/models/130072?type=Model&format=SafeTensor",
            "",
        ),
        (
            "https://civitai.com/api/v1/model-versions/130072",
            "https://civitai.com/api/download/models/130072",
            "",
        ),
    ],
)
def test_civitai_versions_become_download_links(pasted, url, name):
    link = parse_download_link(pasted)
    assert (link.url, link.provider, link.suggested_name) == (url, "civitai", name)


@pytest.mark.parametrize(
    ("pasted", "words"),
    [
        ("https://civitai.com/models/4201/realistic-vision", "Choose the version on the page"),
        ("https://civitai.com/models/4201", "?modelVersionId="),
        ("https://civitai.com/models/abc?modelVersionId=1", "'abc' where a model or version"),
        ("https://civitai.com/models/1?modelVersionId=x1", "'x1' where a model or version"),
        ("https://civitai.com/images/123", "not a model"),
        ("https://civitai.com/api/v1/models/4201", "not a model"),
    ],
)
def test_civitai_links_without_a_version_are_explained(pasted, words):
    with pytest.raises(LinkProblem) as problem:
        parse_download_link(pasted)
    assert words in str(problem.value)


def test_other_hosts_pass_through_with_the_file_name_as_suggestion():
    link = parse_download_link("https://models.example.org/sdxl/base.safetensors#x")
    assert link.url == "https://models.example.org/sdxl/base.safetensors"
    assert (link.provider, link.suggested_name) == ("other", "base")
    assert parse_download_link("https://files.example.org/get?id=7").suggested_name == ""


def test_pickled_checkpoints_are_refused_on_any_host():
    with pytest.raises(LinkProblem, match=r"look for a \.safetensors version"):
        parse_download_link("https://models.example.org/old/model.pt")


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://huggingface.co/a/b/resolve/main/m.safetensors", "huggingface"),
        ("https://cdn-lfs-us-1.huggingface.co/repos/x", "huggingface"),
        ("https://cas-bridge.xethub.hf.co/x", "huggingface"),
        ("https://civitai.com/api/download/models/1", "civitai"),
        ("https://huggingface.co.evil.example/x", "other"),
        ("https://nothuggingface.co/x", "other"),
    ],
)
def test_the_provider_follows_the_host_and_its_subdomains(url, provider):
    assert provider_of(url) == provider
