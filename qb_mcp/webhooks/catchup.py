"""Catch-up: change data capture (CDC) per connected company, so changes no webhook announced
(the listener was down, Intuit gave up, a delivery was lost) still become events.

Each run asks QuickBooks for the objects changed since the realm's cursor, minus an overlap, and
stores each as an event with source "cdc". De-duplication against webhook events is the store's
(`qb_mcp.store.events`): a change is one version of one object, realm + entity + id + its
MetaData.LastUpdatedTime to the second; a CDC change whose version any webhook already announced
adds nothing, and a webhook arriving after CDC found its version is acknowledged without a second
row. CDC shows only an object's latest version, so two changes while the listener was down give
one CDC event (Intuit's retries bring the earlier one later, as a webhook event of its own).

Where the cursor starts: the time of the last successful run (our clock); before any run, the
newest event stored for the realm; with neither, now (nothing was promised before we listened).
`overlap` (5 minutes) absorbs clock skew between us and Intuit and events in flight; duplicates it
brings back are absorbed by the de-duplication. QuickBooks looks back at most 30 days: an older
cursor is clamped, and the gap is logged as a warning.

Which operation a CDC change was: deleted stubs are "Delete"; an object whose CreateTime equals its
LastUpdatedTime is "Create"; anything else "Update" (CDC cannot show voids, merges or emails as
such; when the webhook arrives it corrects the row's operation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import anyio

from qb_mcp.errors import QbMcpError
from qb_mcp.store import connections
from qb_mcp.store import events as store
from qb_mcp.store.db import Database
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.events import Event, MalformedNotification, parse_time

log = logging.getLogger(__name__)

DEFAULT_ENTITIES = ("Customer", "Item", "Estimate", "Invoice", "Payment")
MAX_LOOKBACK = timedelta(days=30)
LOOKBACK_MARGIN = 120.0  # stay this far inside the 30 days: our clock and Intuit's differ
CDC_PAGE = 1000  # QuickBooks returns at most this many objects per answer
MAX_PAGES = 50


class CdcReader(Protocol):
    """What catch-up needs from a client: `QBOClient.cdc` has this shape."""

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]: ...


ClientFactory = Callable[[str], AbstractAsyncContextManager[CdcReader]]
OnStored = Callable[[list[StoredEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CatchUpResult:
    """One realm's run: what CDC returned, what was new, and the error if it failed."""

    realm_id: str
    changed_since: datetime | None
    seen: int = 0
    stored: list[StoredEvent] = field(default_factory=list)
    error: str | None = None


async def connected_realms(database: Database) -> list[str]:
    """Realms with a usable connection (those needing a new login are skipped)."""
    return [row.realm_id for row in await connections.list_all(database) if not row.needs_reauth]


class CatchUp:
    """CDC for each connected realm: on start, every `interval` seconds, and on demand."""

    def __init__(
        self,
        database: Database,
        client_for: ClientFactory,
        *,
        realms: Callable[[], Awaitable[list[str]]] | None = None,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        interval: float = 300.0,
        overlap: float = 300.0,
        clock: Callable[[], float] = time.time,
        on_stored: OnStored | None = None,
    ) -> None:
        if interval <= 0 or overlap < 0 or not entities:
            raise ValueError("interval must be positive, overlap >= 0, entities non-empty")
        self._database = database
        self._client_for = client_for
        self._realms = realms or (lambda: connected_realms(database))
        self._entities = list(entities)
        self._interval = interval
        self._overlap = overlap
        self._clock = clock
        self._on_stored = on_stored
        self._lock = anyio.Lock()  # one run at a time: the periodic one and on-demand ones

    async def run_once(self, realm_id: str | None = None) -> list[CatchUpResult]:
        """Catch up one realm (or every connected one) now; a failing realm does not stop the others."""
        realms = [realm_id] if realm_id is not None else await self._realms()
        results: list[CatchUpResult] = []
        async with self._lock:
            for realm in realms:
                results.append(await self._realm(realm))
        return results

    async def run(self) -> None:
        """Run at once, then every `interval` seconds, until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("catch-up pass failed")
            await anyio.sleep(self._interval)

    async def _realm(self, realm_id: str) -> CatchUpResult:
        now = self._clock()
        since = await self._since(realm_id, now)
        try:
            events = await self._changes(realm_id, since)
            result = await store.store_events(self._database, events, now=now)
        except (QbMcpError, OSError) as exc:
            # QBOError texts carry Intuit's words and the intuit_tid, never a token.
            error = f"{type(exc).__name__}: {exc}"
            log.warning("catch-up for realm %s failed: %s", realm_id, error)
            await store.note_catchup_error(self._database, realm_id, now=now, error=error)
            return CatchUpResult(realm_id, since, error=error)
        await store.set_catchup_cursor(
            self._database, realm_id, checked_through=now, now=now, error=None
        )
        if result.stored:
            log.info(
                "catch-up for realm %s found %d unannounced changes", realm_id, len(result.stored)
            )
            if self._on_stored is not None:
                try:
                    await self._on_stored(result.stored)
                except Exception:
                    log.exception("on_stored callback failed after catch-up")
        return CatchUpResult(realm_id, since, seen=len(events), stored=result.stored)

    async def _since(self, realm_id: str, now: float) -> datetime:
        cursor = await store.catchup_cursor(self._database, realm_id)
        if cursor is None:
            last = await store.last_event_time(self._database, realm_id)
            cursor = last.timestamp() if last is not None else now
        start = min(cursor, now) - self._overlap
        earliest = now - MAX_LOOKBACK.total_seconds() + LOOKBACK_MARGIN
        if start < earliest:
            log.warning(
                "realm %s: changes before %s are beyond CDC's 30 days and cannot be caught up",
                realm_id,
                datetime.fromtimestamp(earliest, UTC).isoformat(timespec="seconds"),
            )
            start = earliest
        return datetime.fromtimestamp(int(start), UTC)

    async def _changes(self, realm_id: str, since: datetime) -> list[Event]:
        """Every changed object since `since` as events, asking again while answers come full."""
        events: list[Event] = []
        async with self._client_for(realm_id) as client:
            for _ in range(MAX_PAGES):
                answer = await client.cdc(self._entities, since)
                latest = since
                total = 0
                for entity, rows in answer.items():
                    total += len(rows)
                    for row in rows:
                        event = event_from_cdc(realm_id, entity, row)
                        if event is not None:
                            events.append(event)
                            latest = max(latest, event.occurred_at)
                # A full answer may have left changes out: ask again from the newest one seen
                # (unverified that Intuit orders by time; the overlap is de-duplicated anyway).
                if total < CDC_PAGE or latest <= since:
                    break
                since = latest
        return events


def event_from_cdc(realm_id: str, entity: str, row: Mapping[str, Any]) -> Event | None:
    """One CDC object as an event; None (logged) when it has no usable id or LastUpdatedTime."""
    meta = row.get("MetaData")
    entity_id = row.get("Id")
    if not isinstance(meta, Mapping) or not isinstance(entity_id, str):
        log.warning("CDC returned a %s without Id or MetaData; skipped", entity)
        return None
    try:
        updated = parse_time(meta.get("LastUpdatedTime"), "MetaData.LastUpdatedTime")
        created = (
            parse_time(meta["CreateTime"], "MetaData.CreateTime") if "CreateTime" in meta else None
        )
    except MalformedNotification as exc:
        log.warning("CDC returned %s %s with a bad time (%s); skipped", entity, entity_id, exc)
        return None
    if str(row.get("status", "")).lower() == "deleted":
        operation = "Delete"
    elif created is not None and int(created.timestamp()) == int(updated.timestamp()):
        operation = "Create"
    else:
        operation = "Update"
    return Event(
        realm_id=realm_id,
        entity=entity,
        entity_id=entity_id[:64],
        operation=operation,
        occurred_at=updated,
        source="cdc",
    )
