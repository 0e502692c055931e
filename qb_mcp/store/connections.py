"""The `connections` table: one row per connected company, tokens already encrypted.

This module stores and returns ciphertext only; `qb_mcp.auth` encrypts and decrypts. Every function
takes the executor to run on: the `Database` for a statement of its own, or a `Transaction` when the
caller needs several statements under the write lock (the token refresh re-reads, calls Intuit and
writes inside one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from qb_mcp.store.db import Params


class Executor(Protocol):
    """`Database` or `Transaction`: both run statements the same way."""

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Any: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """One stored connection. Token fields hold ciphertext; times are epoch seconds."""

    realm_id: str
    environment: str
    company_name: str | None
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float
    access_issued_at: float
    refresh_expires_at: float
    hard_expires_at: float | None
    key_id: str
    needs_reauth: bool
    created_at: float
    updated_at: float
    last_refreshed_at: float | None


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """A freshly issued token set, encrypted, ready to be written to a row."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float
    access_issued_at: float
    refresh_expires_at: float
    hard_expires_at: float | None
    key_id: str


# A constant, not input: the two SELECTs share it so a new column cannot be forgotten in one.
_COLUMNS = (
    "realm_id, environment, company_name, access_token, refresh_token, access_expires_at, "
    "access_issued_at, refresh_expires_at, hard_expires_at, key_id, needs_reauth, created_at, updated_at, "
    "last_refreshed_at"
)


def _row(record: Any) -> ConnectionRow:
    return ConnectionRow(
        realm_id=str(record["realm_id"]),
        environment=str(record["environment"]),
        company_name=record["company_name"],
        access_token=str(record["access_token"]),
        refresh_token=str(record["refresh_token"]),
        access_expires_at=float(record["access_expires_at"]),
        access_issued_at=float(record["access_issued_at"]),
        refresh_expires_at=float(record["refresh_expires_at"]),
        hard_expires_at=(
            None if record["hard_expires_at"] is None else float(record["hard_expires_at"])
        ),
        key_id=str(record["key_id"]),
        needs_reauth=bool(record["needs_reauth"]),
        created_at=float(record["created_at"]),
        updated_at=float(record["updated_at"]),
        last_refreshed_at=(
            None if record["last_refreshed_at"] is None else float(record["last_refreshed_at"])
        ),
    )


async def get(ex: Executor, realm_id: str, *, lock: bool = False) -> ConnectionRow | None:
    """The row for `realm_id`, or None. `lock` (inside a transaction): hold the row until it
    ends (`FOR UPDATE` on PostgreSQL; SQLite's transaction holds the whole file already)."""
    record = await ex.fetchone(
        f"SELECT {_COLUMNS} FROM connections WHERE realm_id = ?"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        (realm_id,),
    )
    return None if record is None else _row(record)


async def list_all(ex: Executor) -> list[ConnectionRow]:
    """Every row, by realm id."""
    records = await ex.fetchall(f"SELECT {_COLUMNS} FROM connections ORDER BY realm_id")  # noqa: S608
    return [_row(record) for record in records]


async def save_login(
    ex: Executor,
    *,
    realm_id: str,
    environment: str,
    tokens: StoredTokens,
    now: float,
    company_name: str | None = None,
) -> None:
    """Insert a new connection, or replace the tokens of an existing one (a re-login).

    A re-login clears `needs_reauth` and keeps `created_at`, and the company name when none is given.
    """
    await ex.execute(
        """
        INSERT INTO connections (realm_id, environment, company_name, access_token, refresh_token,
            access_expires_at, access_issued_at, refresh_expires_at, hard_expires_at, key_id,
            needs_reauth, created_at, updated_at, last_refreshed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL)
        ON CONFLICT (realm_id) DO UPDATE SET
            environment = excluded.environment,
            company_name = COALESCE(excluded.company_name, connections.company_name),
            access_token = excluded.access_token,
            refresh_token = excluded.refresh_token,
            access_expires_at = excluded.access_expires_at,
            access_issued_at = excluded.access_issued_at,
            refresh_expires_at = excluded.refresh_expires_at,
            hard_expires_at = excluded.hard_expires_at,
            key_id = excluded.key_id,
            needs_reauth = 0,
            updated_at = excluded.updated_at,
            last_refreshed_at = NULL
        """,
        (
            realm_id,
            environment,
            company_name,
            tokens.access_token,
            tokens.refresh_token,
            tokens.access_expires_at,
            tokens.access_issued_at,
            tokens.refresh_expires_at,
            tokens.hard_expires_at,
            tokens.key_id,
            now,
            now,
        ),
    )


async def save_refresh(ex: Executor, realm_id: str, tokens: StoredTokens, *, now: float) -> int:
    """Write the tokens a refresh grant returned; returns the number of rows changed (0 or 1)."""
    return await ex.execute(
        """
        UPDATE connections SET access_token = ?, refresh_token = ?, access_expires_at = ?,
            access_issued_at = ?, refresh_expires_at = ?, hard_expires_at = COALESCE(?, hard_expires_at), key_id = ?,
            needs_reauth = 0, updated_at = ?, last_refreshed_at = ?
        WHERE realm_id = ?
        """,
        (
            tokens.access_token,
            tokens.refresh_token,
            tokens.access_expires_at,
            tokens.access_issued_at,
            tokens.refresh_expires_at,
            tokens.hard_expires_at,
            tokens.key_id,
            now,
            now,
            realm_id,
        ),
    )


async def reencrypt(
    ex: Executor, realm_id: str, *, access_token: str, refresh_token: str, key_id: str, now: float
) -> int:
    """Replace a row's ciphertexts with the same tokens under another key (key rotation)."""
    return await ex.execute(
        "UPDATE connections SET access_token = ?, refresh_token = ?, key_id = ?, updated_at = ? "
        "WHERE realm_id = ?",
        (access_token, refresh_token, key_id, now, realm_id),
    )


async def set_company_name(ex: Executor, realm_id: str, name: str, *, now: float) -> int:
    """Record the company's name (from a companyinfo call)."""
    return await ex.execute(
        "UPDATE connections SET company_name = ?, updated_at = ? WHERE realm_id = ?",
        (name, now, realm_id),
    )


async def mark_needs_reauth(ex: Executor, realm_id: str, *, now: float) -> int:
    """Flag the connection as unusable until the next `auth login`."""
    return await ex.execute(
        "UPDATE connections SET needs_reauth = 1, updated_at = ? WHERE realm_id = ?",
        (now, realm_id),
    )


async def delete(ex: Executor, realm_id: str) -> int:
    """Remove the connection; returns the number of rows deleted."""
    return await ex.execute("DELETE FROM connections WHERE realm_id = ?", (realm_id,))
