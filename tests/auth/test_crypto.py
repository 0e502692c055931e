import os
import stat
from pathlib import Path

import pytest

from qb_mcp.auth.crypto import KeyRing, key_file_path, key_id, load_keyring
from qb_mcp.config import Settings
from qb_mcp.errors import TokenStoreError

SECRET = "AB11570127472xkApQcsuqTXgmXTmslIuWq7qhxlcMWHfC"


def ring(*keys: bytes) -> KeyRing:
    return KeyRing(list(keys) or [os.urandom(32)])


def test_round_trip() -> None:
    keys = ring()
    sealed = keys.encrypt(SECRET, realm_id="1", column="refresh_token")
    assert SECRET not in sealed
    assert keys.decrypt(sealed, realm_id="1", column="refresh_token") == SECRET


def test_same_plaintext_encrypts_differently_each_time() -> None:
    keys = ring()
    first = keys.encrypt(SECRET, realm_id="1", column="refresh_token")
    assert first != keys.encrypt(SECRET, realm_id="1", column="refresh_token")


def test_ciphertext_names_its_key() -> None:
    key = os.urandom(32)
    sealed = ring(key).encrypt(SECRET, realm_id="1", column="access_token")
    assert sealed.split(":")[1] == key_id(key)


def test_copied_to_another_realm_fails() -> None:
    keys = ring()
    sealed = keys.encrypt(SECRET, realm_id="1", column="refresh_token")
    with pytest.raises(TokenStoreError, match="realm 2 failed authentication"):
        keys.decrypt(sealed, realm_id="2", column="refresh_token")


def test_copied_to_the_other_column_fails() -> None:
    keys = ring()
    sealed = keys.encrypt(SECRET, realm_id="1", column="refresh_token")
    with pytest.raises(TokenStoreError, match="failed authentication"):
        keys.decrypt(sealed, realm_id="1", column="access_token")


def test_older_key_still_decrypts_and_newest_encrypts() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = ring(old).encrypt(SECRET, realm_id="1", column="access_token")
    rotated = ring(new, old)
    assert rotated.decrypt(sealed, realm_id="1", column="access_token") == SECRET
    assert rotated.encrypt(SECRET, realm_id="1", column="access_token").split(":")[1] == key_id(new)


def test_unknown_key_is_a_one_line_error_without_the_token() -> None:
    sealed = ring().encrypt(SECRET, realm_id="1", column="refresh_token")
    with pytest.raises(TokenStoreError) as caught:
        ring().decrypt(sealed, realm_id="1", column="refresh_token")
    message = str(caught.value)
    assert "not among the configured keys" in message
    assert "\n" not in message and SECRET not in message and sealed not in message


def test_tampered_ciphertext_fails() -> None:
    keys = ring()
    sealed = keys.encrypt(SECRET, realm_id="1", column="refresh_token")
    body = sealed[-10:]
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    with pytest.raises(TokenStoreError, match="failed authentication"):
        keys.decrypt(sealed[:-10] + flipped, realm_id="1", column="refresh_token")


def test_tampered_key_id_fails() -> None:
    old, new = os.urandom(32), os.urandom(32)
    keys = ring(new, old)
    sealed = ring(old).encrypt(SECRET, realm_id="1", column="refresh_token")
    relabelled = sealed.replace(key_id(old), key_id(new))
    with pytest.raises(TokenStoreError, match="failed authentication"):
        keys.decrypt(relabelled, realm_id="1", column="refresh_token")


@pytest.mark.parametrize("stored", ["", "plain-token", "v1:zz:abc", "v2:0123456789abcdef:abc"])
def test_not_our_format_is_corrupted(stored: str) -> None:
    with pytest.raises(TokenStoreError, match="corrupted"):
        ring().decrypt(stored, realm_id="1", column="access_token")


def test_truncated_ciphertext_is_corrupted() -> None:
    keys = ring()
    sealed = keys.encrypt(SECRET, realm_id="1", column="access_token")
    prefix = sealed.rsplit(":", 1)[0]
    with pytest.raises(TokenStoreError, match="too short"):
        keys.decrypt(prefix + ":AAAA", realm_id="1", column="access_token")


def test_key_file_is_generated_owner_only_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = load_keyring(settings)
    path = key_file_path(settings.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert first.source == "key file"
    assert load_keyring(settings).key_ids == first.key_ids


def test_environment_keys_come_first_and_key_file_still_decrypts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file_ring = load_keyring(Settings(home=home))
    sealed = file_ring.encrypt(SECRET, realm_id="1", column="access_token")
    env_key = os.urandom(32)
    both = load_keyring(Settings(home=home, token_keys=(env_key,)))
    assert both.source == "environment"
    assert both.newest_key_id == key_id(env_key)
    assert both.decrypt(sealed, realm_id="1", column="access_token") == SECRET


def test_environment_keys_without_key_file_create_none(tmp_path: Path) -> None:
    home = tmp_path / "home"
    load_keyring(Settings(home=home, token_keys=(os.urandom(32),)))
    assert not key_file_path(home).exists()


def test_corrupted_key_file_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    key_file_path(home).write_text("not a key!\n")
    with pytest.raises(TokenStoreError, match=r"token key file .* is corrupted"):
        load_keyring(Settings(home=home))
    assert key_file_path(home).read_text() == "not a key!\n"


def test_missing_key_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TokenStoreError, match="QBO_TOKEN_KEYS is unset"):
        load_keyring(Settings(home=tmp_path / "home"), create=False)
    assert not (tmp_path / "home").exists()


def test_repr_shows_no_key() -> None:
    key = os.urandom(32)
    text = repr(KeyRing([key]))
    assert key.hex() not in text and key_id(key) in text
