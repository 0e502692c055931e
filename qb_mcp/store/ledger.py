"""The idempotency ledger: each write's `requestid`, recorded before it is sent, outcome after.

The client (`qb_mcp.qbo.client`) owns the rules (when to replay, when to re-send, when to start
a new generation); this module only stores rows. `Ledger` keeps them in the SQLite store, so a
write left pending by a crash is found by the next process; `MemoryLedger` keeps them for the
life of one client, for scripts and tests run without a database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from qb_mcp.store.db import Database

Status = Literal["pending", "done", "failed"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One requestid sent (or about to be) for one realm."""

    realm_id: str
    request_id: str
    base_key: str
    generation: int
    explicit: bool
    operation: str
    entity: str
    request_hash: str
    status: Status
    created_at: float
    updated_at: float
    response: str | None = None  # the answer body as JSON text, exactly as received
    fault_code: str | None = None
    intuit_tid: str | None = None


class LedgerStore(Protocol):
    """What the client needs from a ledger."""

    async def latest(self, realm_id: str, base_key: str) -> LedgerEntry | None:
        """The newest generation recorded for `base_key`."""
        ...

    async def begin(self, entry: LedgerEntry) -> bool:
        """Record `entry` as pending; False (and nothing written) if its requestid exists."""
        ...

    async def complete(
        self, realm_id: str, request_id: str, response: str, intuit_tid: str | None
    ) -> None:
        """Mark done and keep the answer body (JSON text)."""
        ...

    async def fail(
        self, realm_id: str, request_id: str, fault_code: str | None, intuit_tid: str | None
    ) -> None:
        """Mark failed: QuickBooks refused it, nothing was written."""
        ...

    async def get(self, realm_id: str, request_id: str) -> LedgerEntry | None: ...

    async def pending(self, realm_id: str | None = None) -> list[LedgerEntry]:
        """Writes whose outcome is unknown (for `doctor` and the next attempt)."""
        ...


class Ledger:
    """The ledger in the SQLite store (table `idempotency_ledger`, migration 0002)."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock

    async def latest(self, realm_id: str, base_key: str) -> LedgerEntry | None:
        row = await self._database.fetchone(
            "SELECT * FROM idempotency_ledger WHERE realm_id = ? AND base_key = ? "
            "ORDER BY generation DESC LIMIT 1",
            (realm_id, base_key),
        )
        return _entry(row) if row is not None else None

    async def begin(self, entry: LedgerEntry) -> bool:
        changed = await self._database.execute(
            "INSERT INTO idempotency_ledger (realm_id, request_id, base_key, generation, explicit, operation, entity, request_hash, status, created_at, updated_at, response, fault_code, intuit_tid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, NULL, NULL) "
            "ON CONFLICT (realm_id, request_id) DO NOTHING",
            (
                entry.realm_id,
                entry.request_id,
                entry.base_key,
                entry.generation,
                int(entry.explicit),
                entry.operation,
                entry.entity,
                entry.request_hash,
                entry.created_at,
                entry.updated_at,
            ),
        )
        return changed == 1

    async def complete(
        self, realm_id: str, request_id: str, response: str, intuit_tid: str | None
    ) -> None:
        await self._database.execute(
            "UPDATE idempotency_ledger SET status = 'done', response = ?, fault_code = NULL, "
            "intuit_tid = ?, updated_at = ? WHERE realm_id = ? AND request_id = ?",
            (response, intuit_tid, self._clock(), realm_id, request_id),
        )

    async def fail(
        self, realm_id: str, request_id: str, fault_code: str | None, intuit_tid: str | None
    ) -> None:
        await self._database.execute(
            "UPDATE idempotency_ledger SET status = 'failed', fault_code = ?, intuit_tid = ?, "
            "updated_at = ? WHERE realm_id = ? AND request_id = ?",
            (fault_code, intuit_tid, self._clock(), realm_id, request_id),
        )

    async def get(self, realm_id: str, request_id: str) -> LedgerEntry | None:
        row = await self._database.fetchone(
            "SELECT * FROM idempotency_ledger WHERE realm_id = ? AND request_id = ?",
            (realm_id, request_id),
        )
        return _entry(row) if row is not None else None

    async def pending(self, realm_id: str | None = None) -> list[LedgerEntry]:
        if realm_id is None:
            rows = await self._database.fetchall(
                "SELECT * FROM idempotency_ledger WHERE status = 'pending' ORDER BY created_at"
            )
        else:
            rows = await self._database.fetchall(
                "SELECT * FROM idempotency_ledger WHERE status = 'pending' "
                "AND realm_id = ? ORDER BY created_at",
                (realm_id,),
            )
        return [_entry(row) for row in rows]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        realm_id=row["realm_id"],
        request_id=row["request_id"],
        base_key=row["base_key"],
        generation=int(row["generation"]),
        explicit=bool(row["explicit"]),
        operation=row["operation"],
        entity=row["entity"],
        request_hash=row["request_hash"],
        status=row["status"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        response=row["response"],
        fault_code=row["fault_code"],
        intuit_tid=row["intuit_tid"],
    )


class MemoryLedger:
    """The same rows in a dict: for a client run without a database (one process, no crash
    recovery)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rows: dict[tuple[str, str], LedgerEntry] = {}

    async def latest(self, realm_id: str, base_key: str) -> LedgerEntry | None:
        found = [
            entry
            for entry in self._rows.values()
            if entry.realm_id == realm_id and entry.base_key == base_key
        ]
        return max(found, key=lambda entry: entry.generation) if found else None

    async def begin(self, entry: LedgerEntry) -> bool:
        key = (entry.realm_id, entry.request_id)
        if key in self._rows:
            return False
        self._rows[key] = replace(entry, status="pending")
        return True

    async def complete(
        self, realm_id: str, request_id: str, response: str, intuit_tid: str | None
    ) -> None:
        entry = self._rows.get((realm_id, request_id))
        if entry is not None:
            self._rows[(realm_id, request_id)] = replace(
                entry,
                status="done",
                response=response,
                fault_code=None,
                intuit_tid=intuit_tid,
                updated_at=self._clock(),
            )

    async def fail(
        self, realm_id: str, request_id: str, fault_code: str | None, intuit_tid: str | None
    ) -> None:
        entry = self._rows.get((realm_id, request_id))
        if entry is not None:
            self._rows[(realm_id, request_id)] = replace(
                entry,
                status="failed",
                fault_code=fault_code,
                intuit_tid=intuit_tid,
                updated_at=self._clock(),
            )

    async def get(self, realm_id: str, request_id: str) -> LedgerEntry | None:
        return self._rows.get((realm_id, request_id))

    async def pending(self, realm_id: str | None = None) -> list[LedgerEntry]:
        return sorted(
            (
                entry
                for entry in self._rows.values()
                if entry.status == "pending" and realm_id in (None, entry.realm_id)
            ),
            key=lambda entry: entry.created_at,
        )
