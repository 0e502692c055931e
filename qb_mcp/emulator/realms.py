"""One company's stored objects, and the unit of work every write goes through.

A write never touches the stored company until it has fully succeeded: every read and change goes
through a `Tx` that overlays the committed state, and `Tx.commit()` applies the overlay in one
step. A fault raised anywhere before that leaves the company exactly as it was (DESIGN.md
invariant 8), however far validation had got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from qb_mcp.emulator.pacific import PACIFIC

Obj = dict[str, Any]
EventOp = Literal["Create", "Update", "Delete", "Void"]


def clone(value: Any) -> Any:
    """A deep copy of stored wire data (dicts, lists and immutable leaves such as Decimal).

    `copy.deepcopy` spends most of a write's time on memo bookkeeping that tree-shaped JSON data
    never needs; this is the copy every read answer and pending change takes.
    """
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def meta_time(epoch: float) -> str:
    """`2015-07-23T10:58:12-07:00`: MetaData times, to the second, in the company's zone."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(PACIFIC).isoformat(timespec="seconds")


def company_day(epoch: float) -> str:
    """Today's date in the company's time zone (TxnDate default)."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(PACIFIC).date().isoformat()


def _folded(key: str) -> Callable[[Obj], Iterable[str]]:
    def keys(obj: Obj) -> Iterable[str]:
        value = obj.get(key)
        return (value.strip().casefold(),) if isinstance(value, str) and value.strip() else ()

    return keys


def _doc_numbers(obj: Obj) -> Iterable[str]:
    number = obj.get("DocNumber")
    return (number.casefold(),) if isinstance(number, str) and number else ()


def _customer(obj: Obj) -> Iterable[str]:
    ref = obj.get("CustomerRef")
    return (ref["value"],) if isinstance(ref, dict) and "value" in ref else ()


def _paid_invoices(obj: Obj) -> Iterable[str]:
    return {line["LinkedTxn"][0]["TxnId"] for line in obj.get("Line", ())}


def _linked_estimates(obj: Obj) -> Iterable[str]:
    return {link["TxnId"] for link in obj.get("LinkedTxn", ()) if link.get("TxnType") == "Estimate"}


# Secondary indexes over committed objects, so that a write's uniqueness checks and lookups cost
# what they touch, not the size of the company: name -> (entity, the keys an object is found by).
# Each is maintained on commit; `Tx.find` overlays the unit's own pending changes.
INDEXES: dict[str, tuple[str, Callable[[Obj], Iterable[str]]]] = {
    "customer_name": ("Customer", _folded("DisplayName")),
    "item_name": ("Item", _folded("Name")),
    "estimate_doc": ("Estimate", _doc_numbers),
    "invoice_doc": ("Invoice", _doc_numbers),
    "sales_receipt_doc": ("SalesReceipt", _doc_numbers),
    "credit_memo_doc": ("CreditMemo", _doc_numbers),
    "refund_receipt_doc": ("RefundReceipt", _doc_numbers),
    "credit_memo_customer": ("CreditMemo", _customer),
    "invoice_customer": ("Invoice", _customer),
    "invoice_estimate": ("Invoice", _linked_estimates),
    "payment_invoice": ("Payment", _paid_invoices),
}
_BY_ENTITY: dict[str, list[str]] = {}
for _name, (_entity, _) in INDEXES.items():
    _BY_ENTITY.setdefault(_entity, []).append(_name)


def _id_order(entity_id: str) -> tuple[int, str]:
    return (len(entity_id), entity_id)


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
    # index name -> key -> ids of committed objects with that key (see INDEXES)
    indexes: dict[str, dict[str, set[str]]] = field(default_factory=dict, repr=False)

    # entity -> the greatest Id stored so far, while objects[entity] is in ascending Id order
    # (ids are handed out in increasing order, so it stays that way unless a snapshot says not)
    _last_id: dict[str, tuple[int, str] | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.indexes = {name: {} for name in INDEXES}
        for entity, objs in self.objects.items():
            for entity_id, obj in objs.items():
                self._index(entity, obj, add=True)
                self._appended(entity, entity_id)

    def in_id_order(self, entity: str) -> bool:
        """Whether `objects[entity]` iterates in ascending Id order (queries then skip a sort)."""
        return self._last_id.get(entity, (0, "")) is not None

    def _appended(self, entity: str, entity_id: str) -> None:
        last = self._last_id.get(entity, (0, ""))
        key = _id_order(entity_id)
        ordered = last is not None and entity_id.isdigit() and entity_id[0] != "0" and key > last
        self._last_id[entity] = key if ordered else None

    def _index(self, entity: str, obj: Obj, *, add: bool) -> None:
        for name in _BY_ENTITY.get(entity, ()):
            index = self.indexes[name]
            for key in INDEXES[name][1](obj):
                if add:
                    index.setdefault(key, set()).add(obj["Id"])
                else:
                    ids = index.get(key)
                    if ids is not None:
                        ids.discard(obj["Id"])
                        if not ids:
                            del index[key]


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

    def find(self, index: str, key: str) -> list[Obj]:
        """Live objects whose `index` keys include `key`, this unit's changes included, by Id."""
        entity, keys_of = INDEXES[index]
        found: dict[str, Obj] = {}
        for entity_id in self.realm.indexes[index].get(key, ()):
            obj = self.get(entity, entity_id)
            if obj is not None and key in keys_of(obj):
                found[entity_id] = obj
        for (name, entity_id), obj in self._puts.items():
            # A deleted object has no pending put (`delete` drops it), so this sees only live ones.
            if name == entity and entity_id not in found and key in keys_of(obj):
                found[entity_id] = obj
        return [found[i] for i in sorted(found, key=_id_order)]

    def for_update(self, entity: str, entity_id: str) -> Obj | None:
        """A private, writable copy of a live object (None when absent)."""
        key = (entity, entity_id)
        if key in self._puts:
            return self._puts[key]
        current = self.get(entity, entity_id)
        if current is None:
            return None
        mine: Obj = clone(current)
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
            when = meta_time(self.now)
            meta.setdefault("CreateTime", when)
            meta["LastUpdatedTime"] = when
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
            stored = realm.objects.setdefault(entity, {})
            before = stored.get(entity_id)
            if before is not None:
                realm._index(entity, before, add=False)
            else:
                realm._appended(entity, entity_id)
            stored[entity_id] = obj
            realm._index(entity, obj, add=True)
        for (entity, entity_id), stub in self._dels.items():
            before = realm.objects.get(entity, {}).pop(entity_id, None)
            if before is not None:
                realm._index(entity, before, add=False)
            realm.deleted.setdefault(entity, {})[entity_id] = stub
        for entity, entity_id in self._stamped:
            realm.stamps.setdefault(entity, {})[entity_id] = self.now
