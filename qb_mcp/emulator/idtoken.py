"""OpenID Connect id_tokens for the emulator's OAuth server: RS256 JWTs and the JWKS to check them.

Intuit returns an `id_token` from the code exchange when the `openid` scope was granted, signed
with RS256 and verifiable through the discovery document's `jwks_uri`. The emulator does the same
with a key made when first needed. The key lives only in memory: an emulator restarted from its
state file publishes a new key, which is harmless because an id_token is checked once, at login.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Intuit's issuer, whatever host serves the emulator: intuit-oauth (npm, OAuthClient.js
# validateIdToken) compares `iss` with exactly this string, and intuit-oauth (PyPI,
# intuitlib.utils.validate_id_token) with the discovery document's `issuer`, which is this too in
# Intuit's own document. Only the URLs a client fetches (jwks_uri, endpoints) point at the emulator.
INTUIT_ISSUER = "https://oauth.platform.intuit.com/op/v1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class IdTokenSigner:
    """Signs id_token claims with one RSA key and publishes that key as a JWKS."""

    def __init__(self) -> None:
        self.kid = "r" + secrets.token_hex(4)
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    def _private_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT carrying `claims`."""
        header = {"kid": self.kid, "alg": "RS256"}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._private_key().sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    def jwks(self) -> dict[str, Any]:
        """The public key in JWKS form, as served at `jwks_uri`."""
        numbers = self._private_key().public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "e": _uint(numbers.e),
                    "use": "sig",
                    "kid": self.kid,
                    "alg": "RS256",
                    "n": _uint(numbers.n),
                }
            ]
        }
