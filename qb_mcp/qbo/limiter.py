"""Per-realm request budget: QuickBooks' limits kept proactively, so callers wait, never fail.

QuickBooks allows, per realm and app, 500 requests per minute, 10 requests in flight, and 40 batch
requests per minute (batch calls also count toward the 500). Going over earns a 429 (fault 3001)
and Intuit asks for a 60 s pause, so it is far cheaper to wait here than to be throttled there.

How a request is counted. A slot is taken before the request is sent and its window entry is
stamped with the time the answer *finished* arriving. QuickBooks counts a request when it arrives,
which is somewhere between our send and our receive; expiring the entry one window after the
receive therefore never lets us run ahead of QuickBooks' own sliding window, whatever the network
delay. (Proof sketch: among any requests QuickBooks sees within one window, take the last one we
started; every other one had started before it and finished after the window's start, so it was
still counted when that last one asked for its slot.) Every attempt counts, including retries and
the ones that fail: QuickBooks counts them too.

Across processes. QuickBooks' budget is per realm, not per process, so a limiter given a
`SlotBook` (`qb_mcp.store.limits`: the database every process on one QBO_HOME opens) also takes
each request's slot there, after its slot in this process: the in-process budget still keeps one
process fair and cheap (at most `max_in_flight` of its tasks ever reach the store, one at a time
per kind of request, so waiting costs one small transaction per poll, not one per task), and the
shared one keeps all processes together under QuickBooks' limits. A slot held elsewhere is
noticed by polling every `poll_interval` (a release in this process wakes waiters at once).

`limiter_for(realm_id)` is the process-wide registry: every client of one realm shares one budget
(one per database when given one, shared with the other processes using that database).
A limiter is meant for one event loop at a time (asyncio, not threads); waiting is done on futures
made per wait, so successive loops (tests, `asyncio.run` per command) can share it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING

import anyio

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.store.limits import UNTIL_RELEASE, SharedSlots, SlotBook, Ticket

if TYPE_CHECKING:
    from qb_mcp.store.db import Database

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Limits:
    """One realm's budget. Defaults are QuickBooks' published limits."""

    requests_per_window: int = 500
    window_seconds: float = 60.0
    max_in_flight: int = 10
    batch_per_window: int = 40
    batch_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("requests_per_window", "max_in_flight", "batch_per_window"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"Limits.{name} must be at least 1")
        for name in ("window_seconds", "batch_window_seconds"):
            if getattr(self, name) <= 0:
                raise InvalidArgumentError(f"Limits.{name} must be positive")


class _Entry:
    """One request in the sliding window; `until` is when it stops counting."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = float("inf")  # in flight: counts until it finishes, then for one window


class RealmLimiter:
    """Sliding-window and concurrency budget for one realm, shared by every task using it.

    `slot(batch=...)` waits (never raises) until the request fits all three budgets. The clock
    and sleep are injectable so tests run in virtual time. With a `book` (the budget shared with
    other processes) the clock must be one every process agrees on: wall-clock time by default.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        book: SlotBook | None = None,
        realm_id: str = "",
        poll_interval: float = 0.05,
    ) -> None:
        self.limits = limits or Limits()
        self._clock = clock or (time.time if book is not None else time.monotonic)
        self._sleep = sleep
        self._book = book
        self.realm_id = realm_id
        self._poll_interval = poll_interval
        # One task per kind (plain, batch) asks the shared book at a time; see the module doc.
        self._book_turns = {False: asyncio.Lock(), True: asyncio.Lock()}
        self._requests: deque[_Entry] = deque()
        self._batches: deque[_Entry] = deque()
        self._in_flight = 0
        # Futures of tasks waiting for an in-flight slot. Created per wait (never at construction)
        # so one limiter can serve successive event loops, as the process-wide registry requires.
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold one request slot (and a batch slot if `batch`) while the request runs."""
        entries = await self._acquire(batch)
        try:
            ticket = await self._take_shared(batch) if self._book is not None else None
            try:
                yield
            finally:
                if ticket is not None:
                    await self._give_back(ticket)
        finally:
            self._release(entries)

    async def _take_shared(self, batch: bool) -> Ticket:
        assert self._book is not None
        async with self._book_turns[batch]:
            started = self._clock()
            told = False
            while True:
                # Shielded: a cancellation between the commit and our return would leave a slot
                # taken that nobody gives back until its lease runs out.
                with anyio.CancelScope(shield=True):
                    got = await self._book.take(
                        self.realm_id, self.limits, batch=batch, now=self._clock()
                    )
                if isinstance(got, Ticket):
                    return got
                if not told and self._clock() - started + got > 1.0:
                    told = True  # once per request: a long wait should not look like a hang
                    log.info(
                        "realm %s: QuickBooks' request budget, shared with the other processes "
                        "on this QBO_HOME, is used up; waiting for room",
                        self.realm_id,
                        extra={"qbo_wait_reason": "budget"},
                    )
                await self._sleep(self._poll_interval if got == UNTIL_RELEASE else got)

    async def _give_back(self, ticket: Ticket) -> None:
        assert self._book is not None
        with anyio.CancelScope(shield=True):
            await self._book.give_back(ticket, self.limits, now=self._clock())

    async def _acquire(self, batch: bool) -> list[_Entry]:
        limits = self.limits
        while True:
            now = self._clock()
            _expire(self._requests, now)
            _expire(self._batches, now)
            if self._in_flight >= limits.max_in_flight:
                await self._wait_for_release()
                continue
            waits = [_wait_time(self._requests, limits.requests_per_window, now)]
            if batch:
                waits.append(_wait_time(self._batches, limits.batch_per_window, now))
            if any(wait == UNTIL_RELEASE for wait in waits):
                # A full window whose entries are all still in flight (no finish time yet):
                # only a release can free room.
                await self._wait_for_release()
                continue
            if max(waits) > 0:
                await self._sleep(max(waits))
                continue
            entries = [_Entry()]
            self._requests.append(entries[0])
            if batch:
                entries.append(_Entry())
                self._batches.append(entries[1])
            self._in_flight += 1
            return entries

    def _release(self, entries: list[_Entry]) -> None:
        now = self._clock()
        window = (self.limits.window_seconds, self.limits.batch_window_seconds)
        for entry, seconds in zip(entries, window, strict=False):
            entry.until = now + seconds
        self._in_flight -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(None)
        # Entries finish out of order; keep each deque sorted by `until` so expiry stays at the
        # left end.
        _resort(self._requests)
        _resort(self._batches)

    async def _wait_for_release(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()


def _expire(entries: deque[_Entry], now: float) -> None:
    while entries and entries[0].until <= now:
        entries.popleft()


def _wait_time(entries: deque[_Entry], budget: int, now: float) -> float:
    """0 when there is room; else seconds until the oldest finished entry expires, or
    `UNTIL_RELEASE` when the only way to get room is for an in-flight request to finish."""
    if len(entries) < budget:
        return 0.0
    soonest = entries[0].until
    if soonest == float("inf"):
        return UNTIL_RELEASE
    return max(soonest - now, 1e-6)


def _resort(entries: deque[_Entry]) -> None:
    if any(entries[i].until > entries[i + 1].until for i in range(len(entries) - 1)):
        ordered = sorted(entries, key=lambda entry: entry.until)
        entries.clear()
        entries.extend(ordered)


_registry: dict[str, RealmLimiter] = {}
# Per open database, for as long as some client uses the limiter: it holds the database, so a
# mapping keyed by the database itself would keep every database ever opened alive; the id is
# unique while the limiter (and so the database) lives.
_shared_registry: weakref.WeakValueDictionary[tuple[int, str], RealmLimiter] = (
    weakref.WeakValueDictionary()
)
_registry_lock = Lock()


def limiter_for(
    realm_id: str, limits: Limits | None = None, *, database: Database | None = None
) -> RealmLimiter:
    """The process-wide limiter of `realm_id`, created on first use.

    With a `database`, the limiter also keeps the budget it shares there with every other
    process on that database (one limiter per realm and open database).
    `limits` applies only when the limiter is created; a later, different value is refused rather
    than silently ignored, since two budgets for one realm would defeat the point.
    """
    with _registry_lock:
        if database is None:
            limiter = _registry.get(realm_id)
            if limiter is None:
                limiter = _registry[realm_id] = RealmLimiter(limits, realm_id=realm_id)
                return limiter
        else:
            limiter = _shared_registry.get((id(database), realm_id))
            if limiter is None:
                limiter = RealmLimiter(limits, book=SharedSlots(database), realm_id=realm_id)
                _shared_registry[(id(database), realm_id)] = limiter
                return limiter
        if limits is not None and limits != limiter.limits:
            raise InvalidArgumentError(
                f"realm {realm_id} already has a limiter with {limiter.limits}; "
                "one realm has one budget per process"
            )
        return limiter
