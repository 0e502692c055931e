"""The `bearer_tokens` table: who may call `serve --transport http`, stored as hashes.

A token is 256 random bits, so one SHA-256 of it is enough to keep it safe at rest: a slow key
derivation protects guessable passwords, and here it would only slow every request down. The
table holds the hash, never the token (`qb-mcp tokens add` prints that once).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.store.base import integrity_errors
from qb_mcp.store.connections import Executor

Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")


@dataclass(frozen=True, slots=True)
class BearerToken:
    """One stored token: its name, what it may do, and when it was made (epoch seconds)."""

    name: str
    scope: Scope
    companies: tuple[str, ...] | None  # None: every company
    created_at: float


def token_hash(token: str) -> str:
    """The stored form of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def add(
    ex: Executor,
    *,
    name: str,
    token: str,
    scope: Scope,
    companies: tuple[str, ...] | None,
    created_at: float,
) -> BearerToken:
    """Store a new token's hash; a name already taken is an `InvalidArgumentError`, nothing
    stored."""
    if scope not in SCOPES:
        raise InvalidArgumentError(f"scope must be read or write; got {scope!r}")
    try:
        await ex.execute(
            "INSERT INTO bearer_tokens (name, token_hash, scope, companies, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                name,
                token_hash(token),
                scope,
                None if companies is None else json.dumps(list(companies)),
                created_at,
            ),
        )
    except integrity_errors():
        if await find_by_name(ex, name) is not None:
            raise InvalidArgumentError(
                f"a token named {name!r} exists already; revoke it first or choose another name"
            ) from None
        raise
    return BearerToken(name=name, scope=scope, companies=companies, created_at=created_at)


async def find(ex: Executor, token: str) -> BearerToken | None:
    """The stored token `token` is, or None (unknown or revoked)."""
    row = await ex.fetchone(
        "SELECT name, scope, companies, created_at FROM bearer_tokens WHERE token_hash = ?",
        (token_hash(token),),
    )
    return None if row is None else _token(row)


async def find_by_name(ex: Executor, name: str) -> BearerToken | None:
    row = await ex.fetchone(
        "SELECT name, scope, companies, created_at FROM bearer_tokens WHERE name = ?", (name,)
    )
    return None if row is None else _token(row)


async def list_all(ex: Executor) -> list[BearerToken]:
    """Every token, by name."""
    rows = await ex.fetchall(
        "SELECT name, scope, companies, created_at FROM bearer_tokens ORDER BY name"
    )
    return [_token(row) for row in rows]


async def count(ex: Executor) -> int:
    row = await ex.fetchone("SELECT COUNT(*) FROM bearer_tokens")
    return int(row[0]) if row else 0


async def revoke(ex: Executor, name: str) -> bool:
    """Forget the token named `name` (it stops working at once, in every process); False when
    there is none."""
    return await ex.execute("DELETE FROM bearer_tokens WHERE name = ?", (name,)) > 0


def _token(row: Any) -> BearerToken:
    companies = row["companies"]
    scope: Scope = "write" if row["scope"] == "write" else "read"
    return BearerToken(
        name=str(row["name"]),
        scope=scope,
        companies=None if companies is None else tuple(json.loads(companies)),
        created_at=float(row["created_at"]),
    )
