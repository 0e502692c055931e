"""Each realm's request budget, shared by the processes of one QBO_HOME (table `limiter_slots`).

QuickBooks counts requests per realm and app, not per process: two `qb-mcp serve` processes on
one QBO_HOME that each kept 500 a minute would together be throttled. So the slots are recorded
here, where every process sees them. The limiter (`qb_mcp.qbo.limiter`) owns the waiting and
the in-process budget; this module only answers "may one more request go now, and if not, for
how long is it worth waiting?", and records the answer, in one short write transaction.

`SlotBook` is the interface; `SharedSlots` implements it on either backend. Its take is one
transaction of the realm's own scope (`qb_mcp.store.base`): on SQLite that is the file's write
lock, on PostgreSQL an advisory lock per realm, so replicas sharing one database take slots of
one realm one at a time (the aggregate below then counts every replica's slots) while other
realms' takes go on beside them. A replica on another host that died is not seen by `pid_alive`;
its in-flight slots count until their lease runs out (`LEASE_SECONDS`), which is safe: later.

How a slot is kept:
- taken: a 'request' row (and a 'batch' row for a batch call) *in flight*, leased by its owner
  (host + pid) for `lease_seconds`, longer than any request may run (QuickBooks gives up on a
  request after 120 s; the client's own timeout is shorter);
- given back: it stops being in flight and counts toward the window until one window after the
  answer finished arriving (why that is always enough: `qb_mcp.qbo.limiter`'s docstring);
- its owner died: found when the budget is full (the pid is gone on this host, `host_id`) or
  when the lease runs out, and from then on counted like a request that finished at that
  moment, since it may have reached QuickBooks up to then.

Times are wall-clock epoch seconds from the caller's clock, since every process must agree on
them; a clock stepped back makes processes wait longer (safe), one stepped forward by more than
a window could let one window's worth through early.

Cost (SQLite in WAL mode): one `BEGIN IMMEDIATE` transaction of four short statements to take a
slot, one UPDATE to give it back; `bench/limiter.py` measures about 1-1.5 ms per request on a
loaded 2-core machine (50 us without sharing), against the 100+ ms of a QuickBooks round trip.
The table never holds more than one window's worth of rows per realm (about 540).
A write transaction of another process (a token refresh holds one across its HTTP call) makes
a take wait for it, like every other write to the store.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from qb_mcp.store.db import Database, Transaction

UNTIL_RELEASE = math.inf  # "no room until a request in flight finishes": poll or wait for one
LEASE_SECONDS = 150.0


class Budget(Protocol):
    """One realm's limits (`qb_mcp.qbo.limiter.Limits` is one)."""

    @property
    def requests_per_window(self) -> int: ...
    @property
    def window_seconds(self) -> float: ...
    @property
    def max_in_flight(self) -> int: ...
    @property
    def batch_per_window(self) -> int: ...
    @property
    def batch_window_seconds(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Ticket:
    """The slots one request holds (its request row, and its batch row for a batch call)."""

    ids: tuple[int, ...]


class SlotBook(Protocol):
    """Where a realm's slots are recorded when more than one process spends its budget."""

    async def take(
        self, realm_id: str, budget: Budget, *, batch: bool, now: float
    ) -> Ticket | float:
        """A slot if the request fits every budget now; else the seconds worth waiting before
        asking again (`UNTIL_RELEASE` when only a request in flight finishing can make room)."""
        ...

    async def give_back(self, ticket: Ticket, budget: Budget, *, now: float) -> None:
        """The request finished (answered or not) at `now`: it counts one window from then."""
        ...


def host_id() -> str:
    """Where a pid means one process: the host's name and, on Linux, its PID namespace. Replicas
    in containers may share a host name (host networking) while each has its own pids, and a
    live process of another container must never look dead to `pid_alive` here."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}#pid:{namespace}"


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass(frozen=True, slots=True)
class _Usage:
    taken: int = 0  # every row still counting: in flight and finished
    running: int = 0  # in flight
    soonest: float | None = None  # the first finished row to stop counting


# Parameters: (batch window, request window) wherever `CASE kind` appears.
_EXPIRE = "DELETE FROM limiter_slots WHERE realm_id = ? AND counts_until <= ?"
_LAPSED = (
    "UPDATE limiter_slots SET counts_until = lease_until + "
    "(CASE kind WHEN 'batch' THEN ? ELSE ? END), lease_until = NULL "
    "WHERE realm_id = ? AND lease_until <= ?"
)
_TAKE = (
    "INSERT INTO limiter_slots (realm_id, kind, host, pid, lease_until) "
    "VALUES (?, ?, ?, ?, ?) RETURNING id"
)
_GIVE_BACK = (
    "UPDATE limiter_slots SET counts_until = ? + (CASE kind WHEN 'batch' THEN ? ELSE ? END), "
    "lease_until = NULL WHERE id IN (?, ?) AND lease_until IS NOT NULL"
)
_OWNERS = (
    "SELECT DISTINCT pid FROM limiter_slots WHERE realm_id = ? AND host = ? "
    "AND lease_until IS NOT NULL AND pid != ?"
)
_ORPHANED = (
    "UPDATE limiter_slots SET counts_until = ? + (CASE kind WHEN 'batch' THEN ? ELSE ? END), "
    "lease_until = NULL WHERE realm_id = ? AND host = ? AND pid = ? AND lease_until IS NOT NULL"
)
_USAGE = (
    "SELECT kind, COUNT(*), COUNT(lease_until), MIN(counts_until) FROM limiter_slots "
    "WHERE realm_id = ? GROUP BY kind"
)


class SharedSlots:
    """`SlotBook` in the SQLite store, shared by every process that opens the same file."""

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = LEASE_SECONDS,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self._database = database
        self._lease = lease_seconds
        self._alive = alive
        self._host = host_id()

    async def take(
        self, realm_id: str, budget: Budget, *, batch: bool, now: float
    ) -> Ticket | float:
        windows = (budget.batch_window_seconds, budget.window_seconds)
        async with self._database.transaction(scope=f"limiter:{realm_id}") as tx:
            await tx.execute(_EXPIRE, (realm_id, now))
            await tx.execute(_LAPSED, (*windows, realm_id, now))
            wait = _wait(await _usage(tx, realm_id), budget, batch=batch, now=now)
            if wait == UNTIL_RELEASE and await self._free_the_dead(tx, realm_id, windows, now):
                wait = _wait(await _usage(tx, realm_id), budget, batch=batch, now=now)
            if wait > 0:
                return wait
            pid = os.getpid()
            lease = now + self._lease
            ids = []
            for kind in ("request", "batch") if batch else ("request",):
                row = await tx.fetchone(_TAKE, (realm_id, kind, self._host, pid, lease))
                assert row is not None
                ids.append(int(row[0]))
            return Ticket(tuple(ids))

    async def give_back(self, ticket: Ticket, budget: Budget, *, now: float) -> None:
        first, *rest = ticket.ids
        windows = (budget.batch_window_seconds, budget.window_seconds)
        await self._database.execute(_GIVE_BACK, (now, *windows, first, rest[0] if rest else first))

    async def _free_the_dead(
        self, tx: Transaction, realm_id: str, windows: tuple[float, float], now: float
    ) -> bool:
        """Turn the in-flight slots of processes gone from this host into finished ones."""
        rows = await tx.fetchall(_OWNERS, (realm_id, self._host, os.getpid()))
        dead = [int(row[0]) for row in rows if not self._alive(int(row[0]))]
        for pid in dead:
            await tx.execute(_ORPHANED, (now, *windows, realm_id, self._host, pid))
        return bool(dead)


async def _usage(tx: Transaction, realm_id: str) -> dict[str, _Usage]:
    rows = await tx.fetchall(_USAGE, (realm_id,))
    return {str(row[0]): _Usage(int(row[1]), int(row[2]), row[3]) for row in rows}


def _wait(usage: dict[str, _Usage], budget: Budget, *, batch: bool, now: float) -> float:
    requests = usage.get("request", _Usage())
    if requests.running >= budget.max_in_flight:
        return UNTIL_RELEASE
    waits = [_window_wait(requests, budget.requests_per_window, now)]
    if batch:
        waits.append(_window_wait(usage.get("batch", _Usage()), budget.batch_per_window, now))
    return max(waits)


def _window_wait(usage: _Usage, allowed: int, now: float) -> float:
    if usage.taken < allowed:
        return 0.0
    if usage.soonest is None:
        return UNTIL_RELEASE  # the window is full of requests still in flight
    return max(float(usage.soonest) - now, 1e-6)
