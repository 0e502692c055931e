"""Encrypting tokens at rest: AES-256-GCM under a ring of keys, newest first.

Why AES-256-GCM and not Fernet: GCM authenticates *associated data*, which lets each ciphertext be
bound to the row and column it was written for (realm + "access_token"/"refresh_token"); a
ciphertext copied into another row, or into the other column, fails authentication instead of
quietly handing one company's token to another. Fernet has no associated data. GCM also takes
the 32-byte keys `QBO_TOKEN_KEYS` already holds as they are. Nonces are 96 random bits: a key
sees a few encryptions per realm per hour, nowhere near the 2**32 messages where random nonces
start to be a worry.

Stored form (ASCII, one column): `v1:<key id>:<base64url(nonce || ciphertext+tag)>`. The key id is
the first 16 hex digits of SHA-256 over a label and the key: it names the key without helping to
guess it, so a row says which key it needs and rotation can find rows under older keys.

Keys come from `QBO_TOKEN_KEYS` (newest first; the rest decrypt only). Without it a key file
`QBO_HOME/token.key` is generated owner-only; a key beside the database protects less than one
kept elsewhere, which `qb-mcp doctor` points out. When both exist the key file's key is kept as the
oldest decrypt-only key, so moving to `QBO_TOKEN_KEYS` is: set it, run `qb-mcp auth rotate-key`,
delete the file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qb_mcp.config import Settings
from qb_mcp.errors import TokenStoreError

FORMAT = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_FILE_NAME = "token.key"
Column = Literal["access_token", "refresh_token"]
KeySource = Literal["environment", "key file"]


def key_id(key: bytes) -> str:
    """A public name for `key`: reveals nothing useful about it, tells keys apart."""
    return hashlib.sha256(b"qb-mcp token key id\x00" + key).hexdigest()[:16]


def _associated_data(realm_id: str, column: str, kid: str) -> bytes:
    # The key id is bound too, so a tampered prefix cannot steer decryption to another key.
    return f"qb-mcp token {FORMAT}\x00{realm_id}\x00{column}\x00{kid}".encode()


class KeyRing:
    """Encrypts under the newest key, decrypts under any key it holds."""

    def __init__(self, keys: Sequence[bytes], *, source: KeySource = "environment") -> None:
        if not keys:
            raise TokenStoreError("no token encryption key: set QBO_TOKEN_KEYS")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise TokenStoreError(f"a token key must be {KEY_BYTES} bytes")
        self._keys: dict[str, bytes] = {}
        for key in keys:
            self._keys.setdefault(key_id(key), key)
        self.newest_key_id = key_id(keys[0])
        self.source: KeySource = source

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids!r}, source={self.source!r})"

    @property
    def key_ids(self) -> list[str]:
        """Ids of the keys held, newest first."""
        return list(self._keys)

    def has_key(self, kid: str) -> bool:
        return kid in self._keys

    def encrypt(self, plaintext: str, *, realm_id: str, column: Column) -> str:
        """Seal `plaintext` under the newest key, bound to (`realm_id`, `column`)."""
        kid = self.newest_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[kid]).encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(realm_id, column, kid)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{FORMAT}:{kid}:{body}"

    def decrypt(self, stored: str, *, realm_id: str, column: Column) -> str:
        """Open a value written by `encrypt` for the same row and column.

        Raises `TokenStoreError` (one line, no secret) for an unknown key, a malformed value, or
        one that fails authentication: tampered, corrupted, or copied from another row.
        """
        what = f"the stored {column.replace('_', ' ')} of realm {realm_id}"
        kid = stored_key_id(stored)
        if kid is None:
            raise TokenStoreError(f"{what} is corrupted (not a qb-mcp ciphertext)")
        key = self._keys.get(kid)
        if key is None:
            raise TokenStoreError(
                f"{what} was encrypted with key {kid}, which is not among the configured keys "
                "(QBO_TOKEN_KEYS or QBO_HOME/token.key); restore that key or run `qb-mcp auth login`"
            )
        body = stored.split(":", 2)[2]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise TokenStoreError(f"{what} is corrupted (bad base64)") from None
        if len(raw) < NONCE_BYTES + 16:
            raise TokenStoreError(f"{what} is corrupted (too short)")
        try:
            plain = AESGCM(key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(realm_id, column, kid)
            )
        except InvalidTag:
            raise TokenStoreError(
                f"{what} failed authentication: it was tampered with, corrupted, or copied "
                "from another row; run `qb-mcp auth login` to reconnect"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenStoreError(f"{what} is corrupted (not text)") from None


def stored_key_id(stored: str) -> str | None:
    """The key id a stored value names, or None when it is not in our format."""
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT or len(parts[1]) != 16:
        return None
    if any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[1]


def key_file_path(home: Path) -> Path:
    return home / KEY_FILE_NAME


def load_keyring(settings: Settings, *, create: bool = True) -> KeyRing:
    """The key ring for `settings`: `QBO_TOKEN_KEYS`, plus the key file if one exists.

    Without `QBO_TOKEN_KEYS` the key file is read, or generated when `create` (0600, in a 0700
    folder). `create=False` raises `TokenStoreError` instead, for read-only commands.
    """
    path = key_file_path(settings.home)
    if settings.token_keys:
        keys = list(settings.token_keys)
        if path.exists():
            keys.append(read_key_file(path))
        return KeyRing(keys, source="environment")
    if path.exists():
        return KeyRing([read_key_file(path)], source="key file")
    if not create:
        raise TokenStoreError(
            f"no token key: QBO_TOKEN_KEYS is unset and {path} does not exist yet"
        )
    return KeyRing([create_key_file(path)], source="key file")


def read_key_file(path: Path) -> bytes:
    """Read a key file written by `create_key_file`; a one-line error when it is unusable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
        raise TokenStoreError(f"cannot read the token key file {path}: {reason}") from None
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenStoreError(f"the token key file {path} is corrupted (bad base64)") from None
    if len(key) != KEY_BYTES:
        raise TokenStoreError(f"the token key file {path} is corrupted (wrong length)")
    return key


def create_key_file(path: Path) -> bytes:
    """Generate a key into `path`, 0600, unless another process just did (then use theirs).

    The key is written to a private temporary file and hard-linked into place, so a racing process
    never reads a half-written key, and the first one to link wins.
    """
    from qb_mcp.store.db import prepare_home

    prepare_home(path.parent)
    key = secrets.token_bytes(KEY_BYTES)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return read_key_file(path)
    except OSError as exc:
        raise TokenStoreError(f"cannot create the token key file {path}: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
    return key


def key_file_mode_ok(path: Path) -> bool:
    """True when the key file is readable by its owner only."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
