"""Download links and names are checked before anything is sent: every class refused, in words."""

import re

import pytest

from dashboard.catalogue.url_guard import (
    BadName,
    UnsafeURL,
    check_download_name,
    check_download_url,
    check_link_syntax,
    suggest_download_name,
)

FILE = "/a/b/resolve/main/m.safetensors"


def refused(url: str, **hosts) -> str:
    with pytest.raises(UnsafeURL) as problem:
        check_download_url(url, **hosts)
    return str(problem.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://huggingface.co/a/b/m.safetensors", "(this one starts with ftp:)"),
        ("file:///etc/passwd", "Only http:// and https:// links"),
        ("javascript:alert(1)", "Only http:// and https:// links"),
        ("huggingface.co" + FILE, "Only http:// and https:// links can be downloaded."),
        ("", "Paste the link"),
        ("https://huggingface.co/" + "a" * 2000, "too long"),
        ("https://huggingface.co/a b.safetensors", "spaces or control characters"),
        ("https://huggingface.co/a\x00.safetensors", "spaces or control characters"),
        ("https://[::1/x", "not a valid web address"),
        ("https://huggingface.co:port/x", "not a valid web address"),
        ("https:///x.safetensors", "no host name"),
    ],
)
def test_malformed_links_and_other_schemes_are_refused(url, words):
    assert words in refused(url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:secret@huggingface.co" + FILE, "a user name or password"),
        ("https://hf_abcdef@huggingface.co" + FILE, "a user name or password"),
        ("https://civitai.com/api/download/models/1?token=abc123", "(token=…)"),
        ("https://civitai.com/api/download/models/1?type=Model&API_KEY=x", "(API_KEY=…)"),
        ("https://huggingface.co/x.safetensors?X-Amz-Signature=f00", "(X-Amz-Signature=…)"),
    ],
)
def test_credentials_in_the_link_are_refused(url, words):
    message = refused(url)
    assert words in message
    assert "Provider tokens" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/m.safetensors",
        "https://huggingface.co.evil.example/m.safetensors",
        "https://nothuggingface.co/m.safetensors",
        "http://127.0.0.1:8000/m.safetensors",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/m.safetensors",
        "http://localhost/m.safetensors",
    ],
)
def test_hosts_off_the_allow_list_are_refused(url):
    message = refused(url, allowed_hosts=[], private_hosts=[])
    assert re.search(r"may only come from huggingface\.co, hf\.co, civitai\.com", message)
    assert "is not one of them" in message


@pytest.mark.parametrize(
    ("host", "url", "kind"),
    [
        ("localhost", "http://localhost:8000/m.safetensors", "a loopback address"),
        ("localhost", "http://LOCALHOST./m.safetensors", "a loopback address"),
        ("127.0.0.1", "http://127.0.0.1/m.safetensors", "127.0.0.1, a loopback address"),
        ("::1", "http://[::1]:8080/m.safetensors", "::1, a loopback address"),
        ("::ffff:127.0.0.1", "http://[::ffff:127.0.0.1]/m", "a loopback address"),
        ("169.254.169.254", "http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("10.0.0.1", "http://10.0.0.1/m.safetensors", "10.0.0.1, a private network address"),
        ("192.168.1.20", "https://192.168.1.20/m.safetensors", "a private network address"),
        ("100.64.0.1", "http://100.64.0.1/m.safetensors", "not on the public internet"),
        ("224.0.0.1", "http://224.0.0.1/m.safetensors", "a multicast address"),
        ("0.0.0.0", "http://0.0.0.0/m.safetensors", "a reserved address"),  # noqa: S104
    ],
)
def test_allowed_hosts_that_resolve_to_non_public_addresses_are_refused(host, url, kind):
    message = refused(url, allowed_hosts=[host], private_hosts=[])
    assert kind in message
    assert "Downloads may only come from public internet addresses." in message


def test_a_public_address_on_the_allow_list_passes():
    url = "https://93.184.215.14/models/m.safetensors"
    assert check_download_url(url, allowed_hosts=["93.184.215.14"], private_hosts=[]) == url


def test_allow_list_entries_cover_their_subdomains_but_not_lookalikes():
    allowed = {"allowed_hosts": ["example.org"], "private_hosts": []}
    assert "could not be resolved" in refused("https://cdn.nothere.example.org/m", **allowed)
    assert "is not one of them" in refused("https://badexample.org/m", **allowed)


def test_private_hosts_skip_the_address_check_and_nothing_else(settings):
    settings.MODEL_DOWNLOAD_ALLOWED_HOSTS = []
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = ["127.0.0.1"]
    url = "http://127.0.0.1:8765/files/m.safetensors?size=10"
    assert check_download_url(url) == url
    assert "is not one of them" in refused("http://localhost:8765/m.safetensors")
    assert "(token=…)" in refused("http://127.0.0.1:8765/m.safetensors?token=x")


def test_the_allow_list_comes_from_settings(settings):
    settings.MODEL_DOWNLOAD_ALLOWED_HOSTS = ["localhost"]
    settings.MODEL_DOWNLOAD_PRIVATE_HOSTS = []
    assert "a loopback address" in refused("http://localhost/m.safetensors")


def test_an_unresolvable_host_is_refused():
    message = refused("https://no-such-host.invalid/m", allowed_hosts=["invalid"], private_hosts=[])
    assert message == "The host name no-such-host.invalid could not be resolved; check the link."


def test_link_syntax_returns_the_stripped_link():
    assert check_link_syntax("  https://huggingface.co/a/b  ") == "https://huggingface.co/a/b"


@pytest.mark.parametrize(
    ("name", "folder", "expected"),
    [
        ("my model", "", "my_model"),
        ("sd_xl.safetensors", "", "sd_xl"),
        ("q4.gguf", "Flux", "Flux/q4"),
        ("x", "Team/styles/", "Team/styles/x"),
        ("Flux/dev-fp8", "", "Flux/dev-fp8"),
        ("  spaced  ", "", "spaced"),
    ],
)
def test_good_names_come_back_as_swarmui_stores_them(name, folder, expected):
    assert check_download_name(name, folder) == expected


@pytest.mark.parametrize(
    ("name", "folder", "field", "words"),
    [
        ("", "", "name", "Give the model a name."),
        ("sd_xl_1.0", "", "name", "'sd_xl_1.0' would be saved as 'sd_xl_10'"),
        ("../escape", "", "name", "'..' is not allowed"),
        ("a/../b", "", "name", "'..' is not allowed"),
        ("a//b", "", "name", "an empty, '.' or '..' part"),
        ("x", "../up", "folder", "'..' is not allowed"),
        ("/etc/passwd", "", "name", "not an absolute path"),
        ("x", "/abs", "folder", "not an absolute path"),
        ("C:/models/x", "", "name", "not an absolute path"),
        ("a\\b", "", "name", "has a backslash"),
        ("a\nb", "", "name", "control characters"),
        ("a\x00b", "", "name", "control characters"),
        ("x" * 121, "", "name", "longer than 120 characters"),
        ("y" * 100, "f" * 100 + "/g", "name", "too long (203 characters with its folder"),
        ("na<me>", "", "name", "SwarmUI removes < > from names"),
        ("a#b", "", "name", "SwarmUI removes # from names; leave it out of the name"),
        ("x", "v1.5", "folder", "'v1.5' would be saved as 'v15'"),
    ],
)
def test_bad_names_say_what_is_wrong_and_which_field(name, folder, field, words):
    with pytest.raises(BadName) as problem:
        check_download_name(name, folder)
    assert problem.value.field == field
    assert words in problem.value.message


def test_a_renamed_model_reports_its_own_field():
    with pytest.raises(BadName) as problem:
        check_download_name("a.b", name_field="new_name")
    assert problem.value.field == "new_name"
    assert "Use '_' or '-' instead (e.g. 'a_b')" in problem.value.message


@pytest.mark.parametrize(
    ("file_name", "suggestion"),
    [
        ("sd_xl_base_1.0.safetensors", "sd_xl_base_1_0"),
        ("style one", "style_one"),
        ("weird<>:name?.gguf", "weirdname"),
        ("???", ""),
        ("a" * 300, "a" * 120),
    ],
)
def test_suggested_names_from_file_names_pass_the_checks(file_name, suggestion):
    assert suggest_download_name(file_name) == suggestion
    if suggestion:
        assert check_download_name(suggestion) == suggestion
