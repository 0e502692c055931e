"""Bearer-token verifiers for `serve --transport http`, in the MCP SDK's terms (`TokenVerifier`).

Two kinds of bearer token reach the same place, an SDK `AccessToken` the SDK's middleware puts on
the request (`BearerAuthBackend`, `RequireAuthMiddleware`), from which the tools read a
`qb_mcp.callers.Caller`:
- tokens made with `qb-mcp tokens add` (`StoredTokenVerifier`, checked against their hashes in
  the store, so `tokens revoke` in another process takes effect on the next request);
- JWTs from an identity provider (`qb_mcp.auth.issuer.IssuerVerifier`, with `QBO_AUTH_ISSUER`).
Both speak the same scopes: `qbo:read` (reads only) and `qbo:write` (reads and writes).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.auth.provider import AccessToken, TokenVerifier

from qb_mcp.callers import COMPANIES_CLAIM, SCOPE_READ, SCOPE_WRITE
from qb_mcp.store import bearer_tokens
from qb_mcp.store.bearer_tokens import BearerToken

if TYPE_CHECKING:
    from qb_mcp.config import Settings

# Marks our own tokens: a JWT never starts so, so each verifier can tell its tokens at a glance.
TOKEN_PREFIX = "qbm_"


def new_token() -> str:
    """A fresh bearer token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def scopes_of(scope: bearer_tokens.Scope) -> list[str]:
    """A stored token's scope as MCP scopes (writing includes reading)."""
    return [SCOPE_READ, SCOPE_WRITE] if scope == "write" else [SCOPE_READ]


class StoredTokenVerifier(TokenVerifier):
    """Checks `qbm_` tokens against the hashes in the store; opens its own database
    connection on first use (close it with `aclose`)."""

    def __init__(self, settings: Settings) -> None:
        from qb_mcp.store.db import Database

        self._settings = settings
        self._database: Database | None = None
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        found = await bearer_tokens.find(await self._db(), token)
        return None if found is None else access_token(found)

    async def _db(self) -> Any:
        if self._database is None:
            async with self._lock:
                if self._database is None:
                    from qb_mcp.store import open_store

                    self._database = await open_store(self._settings)
        return self._database

    async def aclose(self) -> None:
        if self._database is not None:
            await self._database.close()
            self._database = None


def access_token(stored: BearerToken) -> AccessToken:
    """The SDK's view of a stored token. `token` holds the name, not the secret: the SDK keeps
    the AccessToken on the request, and nothing needs the secret past this check."""
    claims: dict[str, Any] = {}
    if stored.companies is not None:
        claims[COMPANIES_CLAIM] = list(stored.companies)
    return AccessToken(
        token=f"stored:{stored.name}",
        client_id=stored.name,
        subject=stored.name,
        scopes=scopes_of(stored.scope),
        claims=claims or None,
    )


class AnyVerifier(TokenVerifier):
    """The first of `verifiers` that accepts the token."""

    def __init__(self, verifiers: Sequence[TokenVerifier]) -> None:
        self.verifiers = tuple(verifiers)

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self.verifiers:
            found = await verifier.verify_token(token)
            if found is not None:
                return found
        return None

    async def aclose(self) -> None:
        for verifier in self.verifiers:
            close = getattr(verifier, "aclose", None)
            if close is not None:
                await close()
