"""Intuit's webhook signature: `intuit-signature` = base64(HMAC-SHA256(verifier token, raw body))."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SIGNATURE_HEADER = "intuit-signature"


def sign(body: bytes, verifier_token: str) -> str:
    """The signature Intuit sends for `body` (for tests, the bench and tooling)."""
    return base64.b64encode(_digest(body, verifier_token)).decode()


def verify(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """True when `signature` signs exactly these bytes.

    Compared as raw digests in constant time; a missing or non-base64 header is simply false.
    The body must be the bytes as received: re-serialised JSON does not verify.
    """
    if not signature or not verifier_token:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, _digest(body, verifier_token))


def _digest(body: bytes, verifier_token: str) -> bytes:
    return hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
