"""The idempotency ledger: each write's `requestid`, recorded before it is sent, outcome after.

The client (`qb_mcp.qbo.client`) owns the rules (when to replay, when to re-send, when to start
a new generation); this module only stores rows. `Ledger` keeps them in the SQLite store, so a
write left pending by a crash is found by the next process; `MemoryLedger` keeps them for the
life of one client, for scripts and tests run without a database.

Rows written inside a write section (`qb_mcp.store.intents`) carry the section's tool and intent
key (`INTENT_TAG`), so that a later call of the same intent can settle the rows a crashed call
left pending once it learns the outcome (`settle_found`, `settle_unwritten`), and `doctor` can
name the tool of a write whose outcome is still unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from qb_mcp.store.db import Database

Status = Literal["pending", "done", "failed"]
SettledBy = Literal["found", "unwritten"]

# (tool, intent key) of the write section the running task is in; set by qb_mcp.store.intents.
INTENT_TAG: ContextVar[tuple[str, str] | None] = ContextVar("qb_mcp_intent_tag", default=None)


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
    tool: str | None = None  # the tool whose write section sent it (None: outside any)
    intent_key: str | None = None
    settled_by: SettledBy | None = None  # a later call settled it (not the client's answer)


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """The writes whose outcome is still unknown, for `doctor`."""

    count: int
    oldest: float | None  # created_at of the oldest
    by_tool: dict[str, int]  # the tool, or "operation Entity" for a row written outside one


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
        entry = _tagged(entry)
        changed = await self._database.execute(
            "INSERT INTO idempotency_ledger (realm_id, request_id, base_key, generation, explicit, operation, entity, request_hash, status, created_at, updated_at, response, fault_code, intuit_tid, tool, intent_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, NULL, NULL, ?, ?) "
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
                entry.tool,
                entry.intent_key,
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

    async def pending_for_intent(self, realm_id: str, intent_key: str) -> list[LedgerEntry]:
        """The rows of one intent whose outcome is unknown."""
        rows = await self._database.fetchall(
            "SELECT * FROM idempotency_ledger WHERE realm_id = ? AND intent_key = ? "
            "AND status = 'pending' ORDER BY created_at",
            (realm_id, intent_key),
        )
        return [_entry(row) for row in rows]

    async def settle_found(
        self,
        realm_id: str,
        request_ids: Sequence[str],
        *,
        answer: str | None,
    ) -> int:
        """Mark pending rows done: what they wrote was found. `answer` (JSON text) is kept as
        their answer, what QuickBooks would have replayed; without one (a batch) a repeat of the
        row's request is sent as a new one."""
        if not request_ids:
            return 0
        changed = 0
        async with self._database.transaction() as tx:
            for request_id in request_ids:
                changed += await tx.execute(
                    "UPDATE idempotency_ledger SET status = 'done', settled_by = 'found', "
                    "response = ?, updated_at = ? "
                    "WHERE realm_id = ? AND request_id = ? AND status = 'pending'",
                    (answer, self._clock(), realm_id, request_id),
                )
        return changed

    async def settle_unwritten(self, realm_id: str, request_ids: Sequence[str]) -> int:
        """Mark pending rows failed: a later look found nothing they would have written."""
        if not request_ids:
            return 0
        changed = 0
        async with self._database.transaction() as tx:
            for request_id in request_ids:
                changed += await tx.execute(
                    "UPDATE idempotency_ledger SET status = 'failed', settled_by = 'unwritten', "
                    "updated_at = ? WHERE realm_id = ? AND request_id = ? AND status = 'pending'",
                    (self._clock(), realm_id, request_id),
                )
        return changed

    async def pending_summary(self) -> PendingSummary:
        """How many writes are pending, since when, and from which tools."""
        rows = await self._database.fetchall(
            "SELECT COALESCE(tool, operation || ' ' || entity) AS what, COUNT(*) AS n, "
            "MIN(created_at) AS oldest FROM idempotency_ledger WHERE status = 'pending' "
            "GROUP BY what ORDER BY n DESC, what"
        )
        by_tool = {str(row["what"]): int(row["n"]) for row in rows}
        oldest = min((float(row["oldest"]) for row in rows), default=None)
        return PendingSummary(count=sum(by_tool.values()), oldest=oldest, by_tool=by_tool)


def _tagged(entry: LedgerEntry) -> LedgerEntry:
    tag = INTENT_TAG.get()
    if tag is None or entry.intent_key is not None:
        return entry
    return replace(entry, tool=tag[0], intent_key=tag[1])


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
        tool=row["tool"],
        intent_key=row["intent_key"],
        settled_by=row["settled_by"],
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
        self._rows[key] = replace(_tagged(entry), status="pending")
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
