"""One company's stored objects, and the unit of work every write goes through.

A write never touches the stored company until it has fully succeeded: every read and change goes
through a `Tx` that overlays the committed state, and `Tx.commit()` applies the overlay in one
step. A fault raised anywhere before that leaves the company exactly as it was (DESIGN.md
invariant 8), however far validation had got.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from qb_mcp.emulator.pacific import PACIFIC

Obj = dict[str, Any]
EventOp = Literal["Create", "Update", "Delete", "Void"]


def meta_time(epoch: float) -> str:
    """`2015-07-23T10:58:12-07:00`: MetaData times, to the second, in the company's zone."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(PACIFIC).isoformat(timespec="seconds")


def company_day(epoch: float) -> str:
    """Today's date in the company's time zone (TxnDate default)."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(PACIFIC).date().isoformat()


@dataclass
class Realm:
    """The committed state of one company."""

    realm_id: str
    seed: str
    company_name: str | None
    # entity -> id -> stored wire-shape object (Decimal money), in creation order
    objects: dict[str, dict[str, Obj]] = field(default_factory=dict)
    # entity -> id -> `{"status": "Deleted", "domain", "Id", "MetaData"}` stub, kept for CDC
    deleted: dict[str, dict[str, Obj]] = field(default_factory=dict)
    # entity -> id -> epoch of the last visible change (live and deleted objects), for CDC
    stamps: dict[str, dict[str, float]] = field(default_factory=dict)
    # "id:Customer", "doc:Invoice", "addr": the last number handed out
    counters: dict[str, int] = field(default_factory=dict)


class Tx:
    """A unit of work over one realm: reads see its own pending changes; commit applies them."""

    def __init__(self, realm: Realm, now: float) -> None:
        self.realm = realm
        self.now = now
        self._puts: dict[tuple[str, str], Obj] = {}
        self._dels: dict[tuple[str, str], Obj] = {}
        self._counters: dict[str, int] = {}
        self._stamped: set[tuple[str, str]] = set()
        self.events: list[tuple[str, str, EventOp]] = []

    def get(self, entity: str, entity_id: str) -> Obj | None:
        """The live object, with this unit's changes; None when absent or deleted."""
        key = (entity, entity_id)
        if key in self._dels:
            return None
        if key in self._puts:
            return self._puts[key]
        return self.realm.objects.get(entity, {}).get(entity_id)

    def committed(self, entity: str, entity_id: str) -> Obj | None:
        """The object as it was before this unit of work."""
        return self.realm.objects.get(entity, {}).get(entity_id)

    def live(self, entity: str) -> Iterator[Obj]:
        """Every live object of an entity, this unit's changes included, in creation order."""
        stored = self.realm.objects.get(entity, {})
        for entity_id, obj in stored.items():
            key = (entity, entity_id)
            if key in self._dels:
                continue
            yield self._puts.get(key, obj)
        for (name, entity_id), obj in list(self._puts.items()):
            if name == entity and entity_id not in stored and (name, entity_id) not in self._dels:
                yield obj

    def for_update(self, entity: str, entity_id: str) -> Obj | None:
        """A private, writable copy of a live object (None when absent)."""
        key = (entity, entity_id)
        if key in self._puts:
            return self._puts[key]
        current = self.get(entity, entity_id)
        if current is None:
            return None
        mine = copy.deepcopy(current)
        self._puts[key] = mine
        return mine

    def next_number(self, name: str, first: int) -> int:
        """The next value of a per-realm counter, starting at `first`."""
        last = self._counters.get(name, self.realm.counters.get(name, first - 1))
        self._counters[name] = last + 1
        return last + 1

    def put(self, entity: str, obj: Obj) -> None:
        """Store (create or replace) an object under its Id."""
        self._puts[(entity, obj["Id"])] = obj

    def stamp(self, entity: str, entity_id: str, op: EventOp) -> bool:
        """Record a visible change once per unit: new SyncToken and LastUpdatedTime, one event.

        Returns False when the object was already stamped in this unit of work.
        """
        key = (entity, entity_id)
        if key in self._stamped:
            return False
        self._stamped.add(key)
        obj = self._puts.get(key)
        if obj is not None and op != "Delete":
            before = self.committed(entity, entity_id)
            obj["SyncToken"] = str(int(before["SyncToken"]) + 1) if before is not None else "0"
            meta = dict(obj.get("MetaData") or {})
            meta.setdefault("CreateTime", meta_time(self.now))
            meta["LastUpdatedTime"] = meta_time(self.now)
            obj["MetaData"] = meta
        self.events.append((entity, entity_id, op))
        return True

    def delete(self, entity: str, entity_id: str) -> Obj:
        """Remove a live object, remembering a stub for CDC; returns the stub."""
        stub: Obj = {
            "status": "Deleted",
            "domain": "QBO",
            "Id": entity_id,
            "MetaData": {"LastUpdatedTime": meta_time(self.now)},
        }
        self._puts.pop((entity, entity_id), None)
        self._dels[(entity, entity_id)] = stub
        self.stamp(entity, entity_id, "Delete")
        return stub

    def commit(self) -> None:
        """Apply every pending change to the realm at once."""
        realm = self.realm
        realm.counters.update(self._counters)
        for (entity, entity_id), obj in self._puts.items():
            realm.objects.setdefault(entity, {})[entity_id] = obj
        for (entity, entity_id), stub in self._dels.items():
            realm.objects.get(entity, {}).pop(entity_id, None)
            realm.deleted.setdefault(entity, {})[entity_id] = stub
        for entity, entity_id in self._stamped:
            realm.stamps.setdefault(entity, {})[entity_id] = self.now
