"""The worker: hands stored events to a handler in order, at least once, and marks them done.

Events are leased in `seq` order (the order they were stored) and handled one at a time. A handler
that raises gets the event marked failed with a retry time on a backoff schedule; the worker goes
on with the next event, so one bad event never holds the rest back (it is retried later, which is
the one place order gives way). A worker that dies mid-event loses its lease after `lease` seconds
and the event is handed out again: at least once, never silently dropped. Workers in several
processes may share the database; the lease keeps them from handling the same event together.

The worker does not fetch objects from QuickBooks: events carry ids only, and fetching each one
would spend the company's 500 requests a minute on things nobody asked about. `feed.event_details`
fetches one when someone asks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from qb_mcp.store import events as store
from qb_mcp.store.db import Database
from qb_mcp.store.events import StoredEvent

log = logging.getLogger(__name__)

# Seconds before the 1st, 2nd, ... retry of a failed event; the last repeats.
RETRY_DELAYS = (10.0, 60.0, 300.0, 1800.0, 3600.0)

Handler = Callable[[StoredEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WorkReport:
    """What one pass did."""

    done: int
    failed: int


async def log_event(event: StoredEvent) -> None:
    """The standalone listener's handler: one INFO line per event (ids only, no QuickBooks text)."""
    log.info(
        "event %s: %s %s %s in realm %s (%s)",
        event.event_id,
        event.entity,
        event.entity_id,
        event.operation,
        event.realm_id,
        event.source,
    )


class Worker:
    """Takes due events in order and hands each to `handler`."""

    def __init__(
        self,
        database: Database,
        handler: Handler = log_event,
        *,
        clock: Callable[[], float] = time.time,
        lease: float = 60.0,
        batch: int = 50,
        poll_interval: float = 1.0,
        min_interval: float = 0.1,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        if lease <= 0 or batch < 1 or poll_interval <= 0 or min_interval < 0 or not retry_delays:
            raise ValueError("lease and poll_interval must be positive, batch >= 1, delays given")
        self._database = database
        self._handler = handler
        self._clock = clock
        self._lease = lease
        self._batch = batch
        self._poll_interval = poll_interval
        self._min_interval = min_interval
        self._delays = tuple(retry_delays)
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look for work now (the listener calls this after storing events)."""
        self._wake.set()

    async def run_once(self) -> WorkReport:
        """Handle every event due now; returns how many were done and failed."""
        done = failed = 0
        while True:
            events = await store.claim(
                self._database, now=self._clock(), lease=self._lease, limit=self._batch
            )
            if not events:
                return WorkReport(done, failed)
            handled: list[int] = []
            try:
                for event in events:
                    if await self._handle(event):
                        handled.append(event.seq)
                    else:
                        failed += 1
            finally:
                # One statement for the batch. If we die before it runs, the leases lapse and
                # the batch is handed out again: at least once.
                await store.mark_done(self._database, handled, now=self._clock())
            done += len(handled)

    async def run(self) -> None:
        """Work until cancelled: a pass whenever woken, and every `poll_interval` seconds (events
        stored by other processes, retries coming due).

        Passes start at most every `min_interval` seconds: under a burst of deliveries one pass
        takes many events, instead of one pass per delivery competing with the listener for the
        database (measured in bench/webhooks.py).
        """
        while True:
            try:
                await self.run_once()
            except Exception:
                # A locked or broken database must not end the loop; the next pass tries again.
                log.exception("event worker pass failed")
            await anyio.sleep(self._min_interval)
            with anyio.move_on_after(self._poll_interval):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def _handle(self, event: StoredEvent) -> bool:
        """True when handled; a failure is recorded with its retry time."""
        try:
            await self._handler(event)
        except Exception as exc:
            delay = self._delays[min(event.attempts, len(self._delays) - 1)]
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "event %s failed (attempt %d): %s", event.event_id, event.attempts + 1, error
            )
            await store.mark_failed(
                self._database, event.seq, error=error, retry_at=self._clock() + delay
            )
            return False
        return True
