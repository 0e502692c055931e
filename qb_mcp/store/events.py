"""The `webhook_events` and `webhook_catchup` tables (migration 0004).

Rows arrive from three sources: the two webhook formats and change data capture (CDC). The rule
that keeps each change stored once lives in `store_events`, run inside one transaction per
delivery:
1. A CloudEvents id already stored: a duplicate delivery.
2. The same version (realm, entity, id, UTC second, operation) already stored, from any source:
   a duplicate (a legacy retry, or the same change sent in the other format).
3. A CDC change whose version (realm, entity, id, second) has any row: already announced. CDC
   cannot tell a void, a merge or an email from an update, so it does not compare operations.
4. A webhook event whose version has only a CDC row: that row announced it (catch-up ran before
   Intuit's retry arrived). The row takes the webhook's operation and merge target, which are
   exact where CDC's were inferred, and records which format confirmed it; nothing new is stored.
The cost of keying versions on whole seconds: two changes of one object with the same operation
inside one second are one event. Events carry ids only and the reader fetches the current object,
so nothing a reader could act on is lost.

`EventWriter` is the listener's way in: the same rules, with group commit under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from qb_mcp.store.db import Database, Transaction


class Event(Protocol):
    """What is stored of a change (`qb_mcp.webhooks.events.Event` is one; the store knows no
    layer above it)."""

    @property
    def realm_id(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def cloudevent_id(self) -> str | None: ...
    @property
    def deleted_id(self) -> str | None: ...
    @property
    def event_id(self) -> str: ...
    @property
    def version_second(self) -> int: ...


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order

_COLUMNS = (
    "seq, event_id, realm_id, entity, entity_id, operation, occurred_at, source, cloudevent_id, "
    "deleted_id, confirmed_by, received_at, status, attempts, next_attempt_at, last_error, "
    "done_at, details, details_at"
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored change. `seq` orders events as stored; `event_id` is the public id."""

    seq: int
    event_id: str
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime  # UTC
    source: str  # legacy | cloudevents | cdc
    received_at: float  # epoch seconds
    status: str = "pending"  # pending | done | failed
    attempts: int = 0
    cloudevent_id: str | None = None
    deleted_id: str | None = None  # Merge: the id merged away
    confirmed_by: str | None = None  # a CDC row later announced by this webhook format
    next_attempt_at: float = 0.0
    last_error: str | None = None
    done_at: float | None = None
    details: str | None = None  # the fetched object as JSON text, once someone asked
    details_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary for MCP resources and tools (no worker internals)."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "realm_id": self.realm_id,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "operation": self.operation,
            "occurred_at": format_time(self.occurred_at),
            "source": self.source,
            "received_at": datetime.fromtimestamp(self.received_at, UTC).strftime(TIME_FORMAT),
            "status": self.status,
        }
        if self.deleted_id is not None:
            out["deleted_id"] = self.deleted_id
        if self.confirmed_by is not None:
            out["confirmed_by"] = self.confirmed_by
        if self.last_error is not None and self.status == "failed":
            out["last_error"] = self.last_error
        return out


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What one delivery (or one CDC pass) added."""

    stored: list[StoredEvent]
    duplicates: int


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_stored_time(text: str) -> datetime:
    # fromisoformat reads TIME_FORMAT's text (Python 3.11+ takes the "Z") in C; strptime was
    # most of the worker's time claiming events under load.
    return datetime.fromisoformat(text).astimezone(UTC)


def _row(record: Any) -> StoredEvent:
    return StoredEvent(
        seq=int(record["seq"]),
        event_id=str(record["event_id"]),
        realm_id=str(record["realm_id"]),
        entity=str(record["entity"]),
        entity_id=str(record["entity_id"]),
        operation=str(record["operation"]),
        occurred_at=parse_stored_time(str(record["occurred_at"])),
        source=str(record["source"]),
        received_at=float(record["received_at"]),
        status=str(record["status"]),
        attempts=int(record["attempts"]),
        cloudevent_id=record["cloudevent_id"],
        deleted_id=record["deleted_id"],
        confirmed_by=record["confirmed_by"],
        next_attempt_at=float(record["next_attempt_at"]),
        last_error=record["last_error"],
        done_at=record["done_at"],
        details=record["details"],
        details_at=record["details_at"],
    )


# DO NOTHING only on a uniqueness conflict (the CloudEvents id, the version, the event id);
# OR IGNORE would also hide CHECK and NOT NULL errors.
_INSERT = (
    "INSERT INTO webhook_events (event_id, realm_id, entity, entity_id, operation, occurred_at, "
    "version_second, source, cloudevent_id, deleted_id, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq"
)
# The fast path: insert only when nothing at all is stored for this version of the object, so
# rules 2 to 4 cannot apply; one statement is its own transaction.
_INSERT_IF_NEW_VERSION = (
    "INSERT INTO webhook_events (event_id, realm_id, entity, entity_id, operation, occurred_at, "
    "version_second, source, cloudevent_id, deleted_id, received_at) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM webhook_events "
    "WHERE realm_id = ? AND entity = ? AND entity_id = ? AND version_second = ?) "
    "ON CONFLICT DO NOTHING RETURNING seq"
)


def _values(event: Event, now: float) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.realm_id,
        event.entity,
        event.entity_id,
        event.operation,
        format_time(event.occurred_at),
        event.version_second,
        event.source,
        event.cloudevent_id,
        event.deleted_id,
        now,
    )


def _stored(event: Event, seq: int, now: float) -> StoredEvent:
    return StoredEvent(
        seq=seq,
        event_id=event.event_id,
        realm_id=event.realm_id,
        entity=event.entity,
        entity_id=event.entity_id,
        operation=event.operation,
        occurred_at=event.occurred_at.astimezone(UTC),
        source=event.source,
        received_at=now,
        cloudevent_id=event.cloudevent_id,
        deleted_id=event.deleted_id,
    )


async def store_events(database: Database, events: Sequence[Event], *, now: float) -> StoreResult:
    """Store the new events of one delivery atomically (rules in the module docstring).

    A delivery of one event whose version is not stored yet (nearly every delivery) is one
    INSERT statement, atomic on its own; anything else runs in one BEGIN IMMEDIATE transaction.
    Measured (bench/webhooks.py): the fast path is what lets one SQLite file take over a thousand
    deliveries a second, because every statement is a round trip to aiosqlite's thread.
    """
    if not events:
        return StoreResult([], 0)
    if len(events) == 1:
        event = events[0]
        key = (event.realm_id, event.entity, event.entity_id, event.version_second)
        # fetchall: one trip to aiosqlite's thread (fetchone is two).
        inserted = await database.fetchall(_INSERT_IF_NEW_VERSION, (*_values(event, now), *key))
        if inserted:
            return StoreResult([_stored(event, int(inserted[0][0]), now)], 0)
    stored: list[StoredEvent] = []
    async with database.transaction() as tx:
        for event in events:
            row = await _store_one(tx, event, now)
            if row is not None:
                stored.append(row)
    return StoreResult(stored, len(events) - len(stored))


async def _store_one(tx: Transaction, event: Event, now: float) -> StoredEvent | None:
    """Rules 1 to 4 for one event inside the caller's transaction; None: a duplicate."""
    second = event.version_second
    rows = await tx.fetchall(
        "SELECT seq, source, operation FROM webhook_events "
        "WHERE realm_id = ? AND entity = ? AND entity_id = ? AND version_second = ?",
        (event.realm_id, event.entity, event.entity_id, second),
    )
    same = [row for row in rows if row["operation"] == event.operation]
    if same or (event.source == "cdc" and rows):
        if same and same[0]["source"] == "cdc" and event.source != "cdc":
            await tx.execute(
                "UPDATE webhook_events SET confirmed_by = COALESCE(confirmed_by, ?) WHERE seq = ?",
                (event.source, same[0]["seq"]),
            )
        return None
    cdc_rows = [row for row in rows if row["source"] == "cdc"]
    if cdc_rows:
        await tx.execute(
            "UPDATE webhook_events SET operation = ?, deleted_id = COALESCE(?, deleted_id), "
            "confirmed_by = ? WHERE seq = ?",
            (event.operation, event.deleted_id, event.source, cdc_rows[0]["seq"]),
        )
        return None
    inserted = await tx.fetchall(_INSERT, _values(event, now))
    if not inserted:  # the CloudEvents id (or its event_id) is already stored
        return None
    return _stored(event, int(inserted[0][0]), now)


async def recent(
    database: Database,
    *,
    realm_id: str | None = None,
    entity: str | None = None,
    operation: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[StoredEvent]:
    """Newest first (by time of the change, then by arrival), filtered; arguments already checked."""
    where: list[str] = []
    params: list[Any] = []
    if realm_id is not None:
        where.append("realm_id = ?")
        params.append(realm_id)
    if entity is not None:
        where.append("entity = ?")
        params.append(entity)
    if operation is not None:
        where.append("operation = ?")
        params.append(operation)
    if since is not None:
        where.append("occurred_at >= ?")
        params.append(format_time(since))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    records = await database.fetchall(
        f"SELECT {_COLUMNS} FROM webhook_events {clause} "  # noqa: S608 (constant fragments)
        "ORDER BY occurred_at DESC, seq DESC LIMIT ?",
        (*params, limit),
    )
    return [_row(record) for record in records]


async def get(database: Database, event_id: str) -> StoredEvent | None:
    """The event with this public id, or None."""
    record = await database.fetchone(
        f"SELECT {_COLUMNS} FROM webhook_events WHERE event_id = ?",  # noqa: S608
        (event_id,),
    )
    return None if record is None else _row(record)


async def after(database: Database, seq: int, *, limit: int = 100) -> list[StoredEvent]:
    """Events stored after `seq`, oldest first: how another process follows new events."""
    records = await database.fetchall(
        f"SELECT {_COLUMNS} FROM webhook_events WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
        (seq, limit),
    )
    return [_row(record) for record in records]


async def latest_seq(database: Database) -> int:
    """The highest `seq` stored (0 when there are no events)."""
    record = await database.fetchone("SELECT COALESCE(MAX(seq), 0) FROM webhook_events")
    return int(record[0]) if record else 0


async def count(database: Database) -> int:
    record = await database.fetchone("SELECT COUNT(*) FROM webhook_events")
    return int(record[0]) if record else 0


# ---- the worker's queue ----------------------------------------------------------------------


async def claim(database: Database, *, now: float, lease: float, limit: int) -> list[StoredEvent]:
    """Lease up to `limit` events that are due, oldest first; a lease hides them from other workers.

    Due: pending, or failed with its retry time reached; not leased by a live worker. A worker
    that dies loses its lease after `lease` seconds and the events are handed out again (at least
    once). One statement, atomic on its own: a transaction (four trips to aiosqlite's thread,
    holding the write lock throughout) kept the listener's deliveries waiting under load. The
    lease is tested again outside the subquery: where two workers' statements can overlap
    (PostgreSQL, READ COMMITTED), the later one re-reads a row the other just leased, finds the
    lease taken and leaves the row to it.
    """
    records = await database.fetchall(
        f"UPDATE webhook_events SET lease_until = ? WHERE seq IN (SELECT seq FROM "  # noqa: S608
        "webhook_events WHERE status IN ('pending', 'failed') AND next_attempt_at <= ? "
        "AND lease_until <= ? ORDER BY seq LIMIT ?) AND lease_until <= ? "
        f"RETURNING {_COLUMNS}",
        (now + lease, now, now, limit, now),
    )
    # RETURNING gives no order; the events are handed out in the order they were stored.
    return sorted((_row(record) for record in records), key=lambda event: event.seq)


async def mark_done(database: Database, seqs: Sequence[int], *, now: float) -> None:
    """Mark handled events done, in one statement (one round trip however many)."""
    if not seqs:
        return
    marks = ",".join("?" * len(seqs))
    await database.execute(
        "UPDATE webhook_events SET status = 'done', done_at = ?, lease_until = 0, "  # noqa: S608
        f"attempts = attempts + 1, last_error = NULL WHERE seq IN ({marks})",
        (now, *seqs),
    )


async def mark_failed(database: Database, seq: int, *, error: str, retry_at: float) -> None:
    await database.execute(
        "UPDATE webhook_events SET status = 'failed', attempts = attempts + 1, "
        "next_attempt_at = ?, lease_until = 0, last_error = ? WHERE seq = ?",
        (retry_at, error[:500], seq),
    )


async def save_details(database: Database, seq: int, details: str, *, now: float) -> None:
    """Keep the object fetched for an event (JSON text)."""
    await database.execute(
        "UPDATE webhook_events SET details = ?, details_at = ? WHERE seq = ?",
        (details, now, seq),
    )


# ---- catch-up cursors --------------------------------------------------------------------------


async def catchup_cursor(database: Database, realm_id: str) -> float | None:
    """Up to when (epoch seconds) changes of the realm have been looked for by CDC."""
    record = await database.fetchone(
        "SELECT checked_through FROM webhook_catchup WHERE realm_id = ?", (realm_id,)
    )
    return None if record is None else float(record[0])


async def set_catchup_cursor(
    database: Database, realm_id: str, *, checked_through: float, now: float, error: str | None
) -> None:
    """Move the cursor forward (never back) and note the run's outcome."""
    await database.execute(
        "INSERT INTO webhook_catchup (realm_id, checked_through, last_run_at, last_error) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (realm_id) DO UPDATE SET "
        # CASE, not MAX(a, b): SQLite's two-argument MAX is GREATEST in PostgreSQL.
        "checked_through = CASE WHEN excluded.checked_through > webhook_catchup.checked_through "
        "THEN excluded.checked_through ELSE webhook_catchup.checked_through END, "
        "last_run_at = excluded.last_run_at, last_error = excluded.last_error",
        (realm_id, checked_through, now, error),
    )


async def note_catchup_error(database: Database, realm_id: str, *, now: float, error: str) -> None:
    """Record a failed run without moving the cursor."""
    await database.execute(
        "UPDATE webhook_catchup SET last_run_at = ?, last_error = ? WHERE realm_id = ?",
        (now, error[:500], realm_id),
    )


async def last_event_time(database: Database, realm_id: str) -> datetime | None:
    """The newest change time stored for the realm."""
    record = await database.fetchone(
        "SELECT MAX(occurred_at) FROM webhook_events WHERE realm_id = ?", (realm_id,)
    )
    if record is None or record[0] is None:
        return None
    return parse_stored_time(str(record[0]))


# ---- group commit ------------------------------------------------------------------------------

_COLUMN_NAMES = (
    "event_id, realm_id, entity, entity_id, operation, occurred_at, version_second, source, "
    "cloudevent_id, deleted_id, received_at"
)
MAX_GROUP = 500  # 11 parameters a row; SQLite allows 32766 per statement


def _group_insert(rows: int) -> str:
    """One INSERT for `rows` single-event deliveries: the fast path of `store_events`, for many."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO webhook_events ({_COLUMN_NAMES}) "  # noqa: S608 (only placeholders vary)
        "SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, "
        f"column10, column11 FROM (VALUES {values}) AS v WHERE NOT EXISTS (SELECT 1 FROM "
        "webhook_events AS w WHERE w.realm_id = v.column2 AND w.entity = v.column3 AND "
        "w.entity_id = v.column4 AND w.version_second = v.column7) "
        "ON CONFLICT DO NOTHING RETURNING seq, event_id"
    )


class EventWriter:
    """`store_events` with group commit, for the listener under load.

    Single-event deliveries that arrive while a write is in progress wait, and are then inserted
    together by one statement (atomic: all rows or none). The deliveries whose event that
    statement did not insert (its version is already stored, or a duplicate in the same group)
    then go through every de-duplication rule (`_store_one`) in one transaction, in arrival
    order; if that transaction fails, each goes through `store_events` alone. A delivery of
    several events always goes through `store_events`. Each delivery stays all-or-nothing (one
    event, one transaction) and is answered only after its commit.

    Why: every statement is a round trip to aiosqlite's thread, and each round trip costs more
    CPU than the insert itself; at a thousand deliveries a second the round trips were the
    listener's ceiling (bench/webhooks.py, figures in bench/README.md).
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[tuple[Event, float, asyncio.Future[StoreResult]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, events: Sequence[Event], *, now: float) -> StoreResult:
        """Store one delivery's events; returns once they are committed."""
        if len(events) != 1:
            return await store_events(self._database, events, now=now)
        future: asyncio.Future[StoreResult] = asyncio.get_running_loop().create_future()
        self._pending.append((events[0], now, future))
        if self._task is None:
            # A task of its own: a delivery whose sender hangs up must not cancel the others'
            # write, and no delivery waits for groups that arrive after its own.
            self._task = asyncio.create_task(self._drain(), name="qb-mcp-event-writer")
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                await self._write(group)
        finally:
            self._task = None

    async def _write(self, group: list[tuple[Event, float, asyncio.Future[StoreResult]]]) -> None:
        params: list[Any] = []
        for event, now, _ in group:
            params.extend(_values(event, now))
        try:
            rows = await self._database.fetchall(_group_insert(len(group)), params)
            inserted = {str(row[1]): int(row[0]) for row in rows}
        except Exception:
            inserted = {}  # nothing was written; each delivery is tried alone below
        rest: list[tuple[Event, float, asyncio.Future[StoreResult]]] = []
        for event, now, future in group:
            # Stored even when its sender has gone: the events are real either way.
            seq = inserted.pop(event.event_id, None)
            if seq is not None:
                _resolve(future, StoreResult([_stored(event, seq, now)], 0))
            else:
                rest.append((event, now, future))
        if not rest:
            return
        # The rest (mostly duplicates: Intuit's retries, the other format) in one transaction,
        # in arrival order, so each sees the ones before it: a transaction each cost five trips
        # to aiosqlite's thread per duplicate, the listener's largest cost after HTTP.
        try:
            async with self._database.transaction() as tx:
                outcomes = [await _store_one(tx, event, now) for event, now, _ in rest]
        except Exception:
            outcomes = None  # nothing of it was written; each delivery is tried alone below
        for at, (event, now, future) in enumerate(rest):
            if outcomes is not None:
                row = outcomes[at]
                _resolve(future, StoreResult([row] if row else [], 0 if row else 1))
                continue
            try:
                _resolve(future, await store_events(self._database, [event], now=now))
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)


def _resolve(future: asyncio.Future[StoreResult], result: StoreResult) -> None:
    if not future.done():
        future.set_result(result)
