"""The `event_outbox` table (migration 0007): events waiting to be forwarded to the CRM.

`enqueue` copies events stored since the cursor into the outbox, cursor and rows in one
transaction, so an event is queued exactly once whichever process stored it and whichever
forwarder runs. `claim` leases due rows, at most one per object and only the earliest
undelivered one of it, which is what keeps each object's deliveries in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qb_mcp.store.db import Database
from qb_mcp.store.events import _COLUMNS as EVENT_COLUMNS
from qb_mcp.store.events import StoredEvent
from qb_mcp.store.events import _row as event_row

ENQUEUE_BATCH = 500
KEEP_DELIVERED_SECONDS = 7 * 86_400  # delivered rows are kept this long (doctor's history)

_ROW = (
    "seq, event_id, object_key, body, enqueued_at, attempts, next_attempt_at, lease_until, "
    "last_attempt_at, last_error, delivered_at"
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row: an event to send, and how sending it went so far."""

    seq: int
    event_id: str
    object_key: str
    body: str
    enqueued_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """What `qb-mcp doctor` reports."""

    backlog: int
    oldest_waiting_since: float | None
    last_failure_at: float | None
    last_failure: str | None
    last_failed_event: str | None


def _delivery(record: Any) -> Delivery:
    return Delivery(
        seq=int(record["seq"]),
        event_id=str(record["event_id"]),
        object_key=str(record["object_key"]),
        body=str(record["body"]),
        enqueued_at=float(record["enqueued_at"]),
        attempts=int(record["attempts"]),
        next_attempt_at=float(record["next_attempt_at"]),
        last_error=record["last_error"],
        delivered_at=record["delivered_at"],
    )


def object_key(event: StoredEvent) -> str:
    return f"{event.realm_id}/{event.entity}/{event.entity_id}"


async def enqueue(database: Database, *, now: float, body: Callable[[StoredEvent], str]) -> int:
    """Put the events stored since the cursor in the outbox (`body` makes each row's JSON);
    returns how many were queued. Also drops rows delivered long ago."""
    queued = 0
    while True:
        async with database.transaction() as tx:
            row = await tx.fetchone("SELECT enqueued_through FROM event_outbox_cursor")
            through = int(row[0]) if row else 0
            records = await tx.fetchall(
                f"SELECT {EVENT_COLUMNS} FROM webhook_events "  # noqa: S608 (constant)
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (through, ENQUEUE_BATCH),
            )
            if not records:
                break
            events = [event_row(record) for record in records]
            for event in events:
                await tx.execute(
                    "INSERT INTO event_outbox (seq, event_id, object_key, body, enqueued_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (event.seq, event.event_id, object_key(event), body(event), now),
                )
            await tx.execute(
                "INSERT INTO event_outbox_cursor (id, enqueued_through) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET enqueued_through = excluded.enqueued_through",
                (events[-1].seq,),
            )
            queued += len(events)
        if len(records) < ENQUEUE_BATCH:
            break
    await database.execute(
        "DELETE FROM event_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
        (now - KEEP_DELIVERED_SECONDS,),
    )
    return queued


async def claim(database: Database, *, now: float, lease: float, limit: int) -> list[Delivery]:
    """Lease up to `limit` due rows, oldest first: each the earliest undelivered row of its
    object, not leased by a live forwarder."""
    async with database.transaction() as tx:
        records = await tx.fetchall(
            f"SELECT {_ROW} FROM event_outbox AS o "  # noqa: S608 (constant)
            "WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ? AND o.lease_until <= ? "
            "AND NOT EXISTS (SELECT 1 FROM event_outbox AS p WHERE p.object_key = o.object_key "
            "AND p.delivered_at IS NULL AND p.seq < o.seq) ORDER BY o.seq LIMIT ?",
            (now, now, limit),
        )
        if records:
            seqs = [int(record["seq"]) for record in records]
            marks = ",".join("?" * len(seqs))
            await tx.execute(
                f"UPDATE event_outbox SET lease_until = ? WHERE seq IN ({marks})",  # noqa: S608
                (now + lease, *seqs),
            )
    return [_delivery(record) for record in records]


async def mark_delivered(database: Database, seq: int, *, now: float) -> None:
    await database.execute(
        "UPDATE event_outbox SET delivered_at = ?, attempts = attempts + 1, "
        "last_attempt_at = ?, lease_until = 0 WHERE seq = ?",
        (now, now, seq),
    )


async def mark_failed(
    database: Database, seq: int, *, now: float, error: str, retry_at: float
) -> None:
    await database.execute(
        "UPDATE event_outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
        "next_attempt_at = ?, lease_until = 0 WHERE seq = ?",
        (now, error[:500], retry_at, seq),
    )


async def get(database: Database, event_id: str) -> Delivery | None:
    record = await database.fetchone(
        f"SELECT {_ROW} FROM event_outbox WHERE event_id = ?",  # noqa: S608
        (event_id,),
    )
    return None if record is None else _delivery(record)


async def status(database: Database) -> OutboxStatus:
    """The backlog (rows not delivered) and the most recent failed attempt."""
    waiting = await database.fetchone(
        "SELECT COUNT(*), MIN(enqueued_at) FROM event_outbox WHERE delivered_at IS NULL"
    )
    failed = await database.fetchone(
        "SELECT last_attempt_at, last_error, event_id FROM event_outbox "
        "WHERE last_error IS NOT NULL ORDER BY last_attempt_at DESC LIMIT 1"
    )
    return OutboxStatus(
        backlog=int(waiting[0]) if waiting else 0,
        oldest_waiting_since=None if waiting is None else waiting[1],
        last_failure_at=None if failed is None else failed[0],
        last_failure=None if failed is None else failed[1],
        last_failed_event=None if failed is None else failed[2],
    )
