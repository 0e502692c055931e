"""The local index of the company's customers and items: lookups in one QuickBooks request.

QuickBooks filters customers only by exact or LIKE text on one field, and not at all by phone or
by anything in Notes (the CRM id), so a complete search would read the whole list every time.
Instead the list is kept here (in the store, `qb_mcp.store.directory`, and in memory) and brought
up to date before a lookup: when it is older than `max_age` seconds, or a webhook said a customer
or item changed, one change-data-capture request fetches what changed since the last sync. The
list is re-read in full when it is new, when CDC's 30-day window has passed, or when CDC answers
its maximum (1000 objects: more may have changed). Our own writes are noted as they are made.

Searching: every name, email and phone of every customer is normalised once (`matching`), and
laid out in a few strings that `str.find` scans in C; what they turn up is a superset of what can
match, which `matching.rank_customers` then scores exactly as it scores any candidate list. So a
lookup matches over every customer, and ranks as before.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from qb_mcp.bookkeeping import matching
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.store import directory as store
from qb_mcp.store.db import Database

MAX_AGE = 3.0  # seconds an index is trusted without asking QuickBooks what changed
CDC_WINDOW = timedelta(days=29)  # QuickBooks' 30 days, less a margin for clock differences
CDC_OVERLAP = 5.0  # seconds asked for again: QuickBooks' times are to the second, clocks differ
CDC_MAX = 1000  # objects in one CDC answer; an answer this full may have left some out
REBUILD_AFTER = 500  # changed customers searched directly before the strings are rebuilt
_SEP = "\n"  # never in a normalised name (words and single spaces) or in digits


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current the index is, for connection_status."""

    synced_at: float | None
    age_seconds: float | None
    customers: int
    items: int


class _Strings:
    """The searchable layout of a fixed list of customers (rebuilt, never edited).

    Three strings: every name with its spaces removed, every word of every name, every phone's
    digits, each piece behind or ahead of a separator. `starts` holds where each piece begins,
    `ends` how many pieces customers 0..n own together, so a hit's offset leads to its customer
    by two bisections.
    """

    def __init__(self, customers: Sequence[Mapping[str, Any]]) -> None:
        self.ids = [str(c.get("Id")) for c in customers]
        pieces: tuple[list[str], list[str], list[str]] = ([], [], [])
        self._starts: tuple[list[int], list[int], list[int]] = ([], [], [])
        self._ends: tuple[list[int], list[int], list[int]] = ([], [], [])
        self._emails: dict[str, list[int]] = {}
        self._domains: dict[str, list[int]] = {}
        self._phones: dict[str, list[int]] = {}
        offsets = [0, 0, 0]

        def add(kind: int, piece: str) -> None:
            self._starts[kind].append(offsets[kind])
            pieces[kind].append(piece)
            offsets[kind] += len(piece)

        for at, customer in enumerate(customers):
            for name in matching.customer_names(customer):
                add(0, name.replace(" ", "") + _SEP)
                for word in name.split():
                    add(1, _SEP + word)
            for email in matching.customer_emails(customer):
                self._emails.setdefault(email, []).append(at)
                self._domains.setdefault(email.rpartition("@")[2], []).append(at)
            for _, phone in matching.customer_phones(customer):
                number = matching.phone_keys(phone)[0]
                add(2, number + _SEP)
                self._phones.setdefault(number, []).append(at)
            for kind in range(3):
                self._ends[kind].append(len(self._starts[kind]))
        self._text = tuple("".join(p) for p in pieces)

    def _find(self, kind: int, needle: str) -> set[int]:
        text, starts, ends = self._text[kind], self._starts[kind], self._ends[kind]
        found: set[int] = set()
        position = text.find(needle)
        while position != -1:
            piece = bisect.bisect_right(starts, position) - 1
            found.add(bisect.bisect_right(ends, piece))
            position = text.find(needle, position + 1)
        return found

    def candidates(self, search: matching.CustomerSearch) -> set[int]:
        """Positions of every customer that could match `search` (a superset)."""
        out: set[int] = set()
        for text in (search.name, search.company):
            name = matching.normalise_name(text)
            if not name:
                continue
            # A name match is a substring of the words run together, or each searched word
            # starting a word of the candidate (reordered, prefixes): the first word must.
            out |= self._find(0, name.replace(" ", ""))
            out |= self._find(1, _SEP + name.split()[0])
        email = matching.normalise_email(search.email)
        if email.startswith("@") and "@" in email[1:]:
            out.update(range(len(self.ids)))  # "@a@b": no key fits; every customer is ranked
        elif email.startswith("@"):
            out.update(self._domains.get(email[1:], ()))
        elif email:
            out.update(self._emails.get(email, ()))
        if search.phone:
            phone = matching.normalise_phone(search.phone)
            if phone is not None:
                number = matching.phone_keys(phone)[0]
                # Theirs ends with ours (ours lacks an area or country code), or ours with theirs.
                out |= self._find(2, number + _SEP)
                for cut in range(len(number)):
                    out.update(self._phones.get(number[cut:], ()))
        return out


class Directory:
    """The company's customers and items, kept current; one per served company and process."""

    def __init__(
        self,
        client: QBOClient,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = MAX_AGE,
    ) -> None:
        self._client = client
        self._database = database
        self._clock = clock
        self._max_age = max_age
        self._lock = anyio.Lock()
        self._loaded = False
        self._stale = False
        self._synced_at: float | None = None
        self._objects: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in store.ENTITIES}
        self._strings: _Strings | None = None
        self._changed: set[str] = set()  # customer ids changed since the strings were built

    @property
    def realm_id(self) -> str:
        return self._client.realm_id

    def freshness(self) -> Freshness:
        """When the index was last brought up to date, and what it holds."""
        synced = self._synced_at
        return Freshness(
            synced_at=synced,
            age_seconds=None if synced is None else max(0.0, self._clock() - synced),
            customers=len(self._objects["Customer"]),
            items=len(self._objects["Item"]),
        )

    def mark_stale(self) -> None:
        """Something changed in QuickBooks (a webhook said so): the next lookup asks CDC."""
        self._stale = True

    async def remember(self, entity: str, objects: Iterable[Mapping[str, Any]]) -> None:
        """Note objects we wrote, as QuickBooks answered them (one store transaction)."""
        kept = [dict(o) for o in objects if o.get("Id") is not None]
        if entity not in self._objects or not kept or not self._loaded:
            return
        for obj in kept:
            self._put(entity, obj)
        await store.save(self._database, self.realm_id, entity, kept)

    async def fresh(self) -> None:
        """Bring the index up to date: nothing, one CDC request, or a full re-read."""
        async with self._lock:
            now = self._clock()
            if not self._loaded:
                await self._load(now)
            synced = self._synced_at
            if synced is None or now - synced > CDC_WINDOW.total_seconds():
                await self._read_all(now)
            elif self._stale or now - synced > self._max_age:
                await self._catch_up(now, synced)

    def customers(self) -> list[dict[str, Any]]:
        """Every customer, active and inactive."""
        return list(self._objects["Customer"].values())

    def items(self) -> list[dict[str, Any]]:
        """Every item, active and inactive."""
        return list(self._objects["Item"].values())

    def item(self, item_id: str) -> dict[str, Any] | None:
        """The item with this Id, active or inactive; None when the index has none."""
        return self._objects["Item"].get(item_id)

    def active_item_named(self, name: str) -> dict[str, Any] | None:
        """The one active item named `name` as QuickBooks compares names; None if none is."""
        items = self._objects["Item"]
        found = [str(i.get("Id")) for i in items_named(items.values(), name) if _active(i)]
        return items[found[0]] if len(found) == 1 else None

    def customer_candidates(self, search: matching.CustomerSearch) -> list[dict[str, Any]]:
        """Every customer that could match `search` (rank them with `rank_customers`)."""
        customers = self._objects["Customer"]
        if self._strings is None or len(self._changed) > REBUILD_AFTER:
            self._strings = _Strings(list(customers.values()))
            self._changed = set()
        strings = self._strings
        ids = {strings.ids[at] for at in strings.candidates(search)} - self._changed
        ids |= self._changed
        return [customers[i] for i in ids if i in customers]

    # ---- keeping it current ----------------------------------------------------------------

    async def _load(self, now: float) -> None:
        synced = await store.synced_at(self._database, self.realm_id)
        if synced is not None and now - synced <= CDC_WINDOW.total_seconds():
            for entity in store.ENTITIES:
                rows = await store.load(self._database, self.realm_id, entity)
                self._objects[entity] = {str(o.get("Id")): o for o in rows}
            self._synced_at = synced
            self._strings = None
        self._loaded = True

    async def _read_all(self, now: float) -> None:
        fetched: dict[str, dict[str, dict[str, Any]]] = {}
        for entity in store.ENTITIES:
            rows: dict[str, dict[str, Any]] = {}
            for active in (True, False):
                query = Query.select(entity).where("Active", "=", active).order_by("Id")
                async for row in self._client.query_all(query):
                    rows[str(row.get("Id"))] = row
            fetched[entity] = rows
        for entity, rows in fetched.items():
            last = entity == store.ENTITIES[-1]
            await store.save(
                self._database,
                self.realm_id,
                entity,
                rows.values(),
                replace=True,
                synced_at=now if last else None,
            )
        self._objects = fetched
        self._strings = None
        self._changed = set()
        self._synced_at = now
        self._stale = False

    async def _catch_up(self, now: float, synced: float) -> None:
        since = datetime.fromtimestamp(max(synced - CDC_OVERLAP, now - 29 * 86_400), UTC)
        changes = await self._client.cdc(list(store.ENTITIES), min(since, _utc(now)))
        if sum(len(rows) for rows in changes.values()) >= CDC_MAX:
            await self._read_all(now)
            return
        for index, entity in enumerate(store.ENTITIES):
            rows = changes.get(entity, [])
            gone = [str(r.get("Id")) for r in rows if r.get("status") == "Deleted"]
            kept = [r for r in rows if r.get("status") != "Deleted"]
            for row in kept:
                self._put(entity, row)
            for entity_id in gone:
                self._objects[entity].pop(entity_id, None)
                if entity == "Customer":
                    self._changed.add(entity_id)
            last = index == len(store.ENTITIES) - 1
            await store.save(
                self._database,
                self.realm_id,
                entity,
                kept,
                deleted=gone,
                synced_at=now if last else None,
            )
        self._synced_at = now
        self._stale = False

    def _put(self, entity: str, obj: dict[str, Any]) -> None:
        entity_id = str(obj.get("Id"))
        self._objects[entity][entity_id] = obj
        if entity == "Customer":
            self._changed.add(entity_id)


def _active(obj: Mapping[str, Any]) -> bool:
    return obj.get("Active") is not False


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def like(value: str | None, pattern: str) -> bool:
    """QuickBooks' `LIKE '%pattern%'` on a name: contains, case-insensitively."""
    return isinstance(value, str) and pattern.casefold() in value.casefold()


def items_named(items: Iterable[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """Items whose Name equals `name` as QuickBooks compares names (trimmed, any case)."""
    wanted = name.strip().casefold()
    return [i for i in items if str(i.get("Name", "")).strip().casefold() == wanted]
