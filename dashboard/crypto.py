"""Encryption at rest for secrets kept in the database (RunPod API keys, S3 credentials, the
teams' Hugging Face and CivitAI tokens): every model field named `*_encrypted`.

Keys come from settings.SECRET_ENCRYPTION_KEY: comma-separated Fernet keys, newest first, so a key
can be rotated by prepending a new one (MultiFernet decrypts with any, encrypts with the first);
`manage.py rotate_secrets` then re-encrypts every stored secret so the old key can be removed.
With no key configured, one is derived from SECRET_KEY so a fresh checkout works.
Plain secrets are returned only to the code that sends them to RunPod; never render or log them.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys (rotated away or corrupted)."""


@lru_cache(maxsize=4)
def _fernet(keys: str, secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])
    derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
    return MultiFernet([Fernet(derived)])


def _current() -> MultiFernet:
    return _fernet(settings.SECRET_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    """Ciphertext (text) for a secret; the empty string stays empty (no secret)."""
    if not plain:
        return ""
    return _current().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The secret behind `encrypt`'s output; the empty string stays empty."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: was SECRET_ENCRYPTION_KEY changed?"
        ) from exc


def rotate(token: str) -> str:
    """`token` encrypted again under the newest key, so that older keys can be dropped."""
    if not token:
        return ""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: was SECRET_ENCRYPTION_KEY changed?"
        ) from exc


def generate_key() -> str:
    """A new key for SECRET_ENCRYPTION_KEY."""
    return Fernet.generate_key().decode()
