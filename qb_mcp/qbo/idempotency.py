"""Idempotency keys: the `requestid` every write carries, and the hash that says what it was for.

A key is either the caller's (explicit) or derived from the realm, the operation, the entity and
the normalised request body, so the same write asked for twice gets the same key. Normalising
means: object keys sorted, numbers compared by value (`100`, `100.0` and `Decimal("100.00")` are
one amount), strings kept exactly. A derived key is UUID-shaped (36 characters), which fits the
batch item limit of 36 as well as the 50 QuickBooks allows on a single request.

Two different things are computed per write:
- the request hash, which identifies the *intent* (operation, entity, normalised body). An
  explicit key reused with a different hash is refused;
- the key (`requestid`) itself, which for a derived key is a function of the same inputs.

When a write has to be sent again as a new request (its earlier attempt failed definitively, or a
derived key's replay period ran out), the next *generation* of the key is used: a UUID derived from
the key and the generation number. See `qb_mcp.qbo.client` for the ledger rules that pick it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.wire import number_text

MAX_KEY_LENGTH = 36  # QuickBooks allows 50 on a request, but only 36 on a batch item
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
# A fixed namespace so derived keys are stable across processes and versions.
NAMESPACE = uuid.UUID("5b0c1f8e-2d0a-4c55-9a57-6b1d3c0e9f21")


def normalise(value: Any) -> str:
    """A canonical text of `value`: equal requests give equal text."""
    parts: list[str] = []
    _normalise(value, parts)
    return "".join(parts)


def request_hash(realm_id: str, operation: str, entity: str, body: Any) -> str:
    """SHA-256 (hex) of what a write asks for."""
    text = "\n".join((realm_id, operation.lower(), entity.lower(), normalise(body)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derive_key(realm_id: str, operation: str, entity: str, body: Any) -> str:
    """The `requestid` of a write the caller gave no key for (UUID-shaped, 36 characters)."""
    return key_of_hash(request_hash(realm_id, operation, entity, body))


def key_of_hash(hashed: str) -> str:
    """`derive_key` from a `request_hash` already computed for the same body."""
    return str(uuid.uuid5(NAMESPACE, hashed))


def generation_key(key: str, generation: int) -> str:
    """The `requestid` to use when `key` must be sent again as a new request."""
    if generation == 0:
        return key
    return str(uuid.uuid5(NAMESPACE, f"{key}\n{generation}"))


def check_key(key: str) -> str:
    """Validate a caller's key: 1-36 characters of letters, digits and `._:-`."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidArgumentError("idempotency_key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgumentError(
            f"idempotency_key must be at most {MAX_KEY_LENGTH} characters "
            f"(QuickBooks' batch limit); got {len(key)}"
        )
    if not KEY_PATTERN.match(key):
        raise InvalidArgumentError(
            "idempotency_key may hold only letters, digits and . _ : - "
            "(and must start with a letter or digit)"
        )
    return key


def _normalise(value: Any, parts: list[str]) -> None:
    # Strings first: they are most of any body.
    if isinstance(value, str):
        parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    elif value is None:
        parts.append("null")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, (int, Decimal)):
        number = Decimal(value)
        # normalize() drops trailing zeros so 100 == 100.00; zero keeps no sign or exponent.
        parts.append("0" if number == 0 else number_text(number.normalize(), "body"))
    elif isinstance(value, float):
        raise InvalidArgumentError(
            f"{value!r} is a float; give money and quantities as Decimal or str"
        )
    elif isinstance(value, Mapping):
        parts.append("{")
        for index, key in enumerate(sorted(value, key=str)):
            if index:
                parts.append(",")
            _normalise(str(key), parts)
            parts.append(":")
            _normalise(value[key], parts)
        parts.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _normalise(item, parts)
        parts.append("]")
    else:
        raise InvalidArgumentError(f"cannot use a {type(value).__name__} in a request body")
