"""SetAPIKey: upstream keys SwarmUI applies to its own model downloads (reference §7)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("key_type", ["stability_api", "civitai_api", "huggingface_api"])
def test_set_api_key_stores_and_unsets_an_upstream_key(api, key_type):
    assert api.call("SetAPIKey", keyType=key_type, key="secret-123") == {"success": True}
    assert api.call("SetAPIKey", keyType=key_type, key="none") == {"success": True}


def test_set_api_key_of_an_unknown_type_is_an_error(api):
    answer = api.call("SetAPIKey", keyType="openai_api", key="secret-123")

    assert answer["error"].startswith("Invalid key type")


@pytest.mark.parametrize("missing", ["keyType", "key"])
def test_set_api_key_requires_key_type_and_key(api, missing):
    params = {"keyType": "civitai_api", "key": "secret-123"}
    del params[missing]

    assert api.call("SetAPIKey", **params) == {"error": f"Missing required parameter '{missing}'"}
