import pytest
from cryptography.fernet import Fernet

from dashboard import crypto


def test_encrypted_secret_reads_back_and_does_not_contain_the_plain_text():
    token = crypto.encrypt("rpa_SECRET123")
    assert "rpa_SECRET123" not in token
    assert crypto.decrypt(token) == "rpa_SECRET123"


def test_empty_secret_stays_empty():
    assert crypto.encrypt("") == ""
    assert crypto.decrypt("") == ""


def test_secret_survives_key_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEY = old
    token = crypto.encrypt("rpa_SECRET")
    settings.SECRET_ENCRYPTION_KEY = f"{new},{old}"
    assert crypto.decrypt(token) == "rpa_SECRET"


def test_secret_under_a_removed_key_raises_a_clear_error(settings):
    settings.SECRET_ENCRYPTION_KEY = Fernet.generate_key().decode()
    token = crypto.encrypt("rpa_SECRET")
    settings.SECRET_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.SecretDecryptionError, match="SECRET_ENCRYPTION_KEY"):
        crypto.decrypt(token)
