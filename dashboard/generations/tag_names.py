"""The rule for a tag's name, shared by the curation services and the history filter."""

from __future__ import annotations

import re

MAX_TAG_LENGTH = 40
# Letters and digits of any script, space and `-_.`: nothing that could be markup or a URL part.
_TAG_NAME = re.compile(r"[\w .\-]+")
TAG_RULE = "Tag names are 1 to 40 characters: letters, digits, spaces and - _ . only."


def clean_tag_name(name: object) -> str:
    """The name with its spaces collapsed; raises ValueError with TAG_RULE when it breaks it."""
    if not isinstance(name, str):
        raise ValueError(TAG_RULE)
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_TAG_LENGTH or not _TAG_NAME.fullmatch(cleaned):
        raise ValueError(TAG_RULE)
    return cleaned
