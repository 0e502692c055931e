"""Reading stored events: what the MCP server's resources and `recent_changes` tool call.

Every function checks its arguments first and raises `InvalidArgumentError` with a sentence a
model can act on; nothing here writes except `event_details`, which keeps what it fetched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo import wire
from qb_mcp.store import events as store
from qb_mcp.store.db import Database
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.events import OPERATIONS, entity_name

MAX_LIMIT = 500
_REALM = re.compile(r"^\d{1,32}$")
_ENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_EVENT_ID = re.compile(r"^evt_[0-9a-f]{24}$")


async def recent_events(
    database: Database,
    *,
    realm_id: str | None = None,
    entity: str | None = None,
    operation: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[StoredEvent]:
    """Stored events, newest change first, optionally for one realm, entity, operation, or since a time."""
    if realm_id is not None and (not isinstance(realm_id, str) or not _REALM.match(realm_id)):
        raise InvalidArgumentError(f"realm_id must be a numeric realm id; got {realm_id!r}")
    name = None
    if entity is not None:
        if not isinstance(entity, str) or not _ENTITY.match(entity.strip()):
            raise InvalidArgumentError(
                f"entity must be an entity name like Customer; got {entity!r}"
            )
        name = entity_name(entity.strip())
    op = None
    if operation is not None:
        by_lower = {o.lower(): o for o in OPERATIONS}
        op = by_lower.get(operation.strip().lower()) if isinstance(operation, str) else None
        if op is None:
            raise InvalidArgumentError(f"operation must be one of {', '.join(OPERATIONS)}")
    if since is not None and (not isinstance(since, datetime) or since.utcoffset() is None):
        raise InvalidArgumentError("since must be a datetime with a time zone")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be 1 to {MAX_LIMIT}; got {limit!r}")
    return await store.recent(
        database, realm_id=realm_id, entity=name, operation=op, since=since, limit=limit
    )


async def get_event(database: Database, event_id: str) -> StoredEvent | None:
    """The event with this id (`evt_` + 24 hex digits), or None when there is none."""
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise InvalidArgumentError(
            f"event_id must look like evt_ followed by 24 hex digits; got {str(event_id)[:60]!r}"
        )
    return await store.get(database, event_id)


async def events_after(database: Database, seq: int, *, limit: int = 100) -> list[StoredEvent]:
    """Events stored after `seq`, oldest first: poll this to follow events another process stores."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidArgumentError("seq must be a non-negative integer")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be 1 to {MAX_LIMIT}")
    return await store.after(database, seq, limit=limit)


async def latest_seq(database: Database) -> int:
    """The newest stored event's `seq` (0 when none): where a follower starts."""
    return await store.latest_seq(database)


class EntityReader(Protocol):
    """What `event_details` needs from a client: `QBOClient.get` has this shape."""

    async def get(self, entity: str, entity_id: str) -> dict[str, Any]: ...


async def event_details(
    database: Database,
    event: StoredEvent,
    client: EntityReader,
    *,
    refresh: bool = False,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any] | None:
    """The changed object, fetched through `client.get(entity, id)` when someone asks for it.

    Only on demand (never for every event; money stays Decimal): QuickBooks allows 500 requests a minute per company.
    The answer is kept on the event, so asking again costs nothing unless `refresh`. A deleted
    object (Delete, or the side merged away) has nothing to fetch: None. Errors from the client
    (QBOError and its kin, e.g. NotFoundError for an object deleted since) propagate unchanged.
    """
    if event.operation == "Delete":
        return None
    if event.details is not None and not refresh:
        kept: dict[str, Any] = wire.decode(event.details.encode())
        return kept
    obj = await client.get(event.entity, event.entity_id)
    await store.save_details(database, event.seq, wire.encode(obj).decode(), now=clock())
    return dict(obj)
