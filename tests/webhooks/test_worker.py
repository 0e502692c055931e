"""The worker: in order, at least once, failures retried later without holding the rest back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.events import Event
from qb_mcp.webhooks.worker import Worker
from tests.emulator.conftest import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


async def store_ids(database: Database, *ids: str) -> None:
    events = [
        Event("123", "Customer", entity_id, "Update", T0 + timedelta(seconds=n), "legacy")
        for n, entity_id in enumerate(ids)
    ]
    await store.store_events(database, events, now=1.0)


class Recorder:
    """A handler that records what it was given and fails for the ids it is told to."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.seen: list[str] = []
        self.failing = failing or set()

    async def __call__(self, event: StoredEvent) -> None:
        self.seen.append(event.entity_id)
        if event.entity_id in self.failing:
            raise RuntimeError(f"cannot handle {event.entity_id}")


async def statuses(database: Database) -> dict[str, str]:
    rows = await database.fetchall("SELECT entity_id, status FROM webhook_events")
    return {row[0]: row[1] for row in rows}


async def test_events_are_handled_in_the_order_stored_and_marked_done(database: Database) -> None:
    await store_ids(database, "3", "1", "2")
    handler = Recorder()
    report = await Worker(database, handler, clock=FakeClock()).run_once()
    assert handler.seen == ["3", "1", "2"]
    assert (report.done, report.failed) == (3, 0)
    assert set((await statuses(database)).values()) == {"done"}


async def test_done_events_are_not_handled_again(database: Database) -> None:
    await store_ids(database, "1")
    handler = Recorder()
    worker = Worker(database, handler, clock=FakeClock())
    await worker.run_once()
    await worker.run_once()
    assert handler.seen == ["1"]


async def test_a_failure_does_not_block_later_events(database: Database) -> None:
    await store_ids(database, "1", "2", "3")
    handler = Recorder(failing={"2"})
    report = await Worker(database, handler, clock=FakeClock()).run_once()
    assert handler.seen == ["1", "2", "3"]
    assert (report.done, report.failed) == (2, 1)
    assert await statuses(database) == {"1": "done", "2": "failed", "3": "done"}
    [failed] = [e for e in await store.recent(database) if e.status == "failed"]
    assert failed.last_error == "RuntimeError: cannot handle 2"
    assert failed.attempts == 1


async def test_a_failed_event_is_retried_when_its_delay_has_passed(database: Database) -> None:
    await store_ids(database, "1")
    clock = FakeClock()
    handler = Recorder(failing={"1"})
    worker = Worker(database, handler, clock=clock, retry_delays=(10.0, 60.0))
    await worker.run_once()
    clock.advance(9)
    await worker.run_once()
    assert handler.seen == ["1"]  # not due yet
    handler.failing.clear()
    clock.advance(1)
    assert (await worker.run_once()).done == 1
    assert handler.seen == ["1", "1"]
    assert await statuses(database) == {"1": "done"}


async def test_the_backoff_grows_with_each_attempt(database: Database) -> None:
    await store_ids(database, "1")
    clock = FakeClock()
    worker = Worker(database, Recorder(failing={"1"}), clock=clock, retry_delays=(10.0, 60.0))
    await worker.run_once()
    clock.advance(10)
    await worker.run_once()
    [event] = await store.recent(database)
    assert (event.attempts, event.next_attempt_at) == (2, clock.now + 60.0)


async def test_an_event_leased_by_a_dead_worker_is_handed_out_again(database: Database) -> None:
    await store_ids(database, "1")
    clock = FakeClock()
    # A worker that claimed the event and died before marking it: only its lease remains.
    assert len(await store.claim(database, now=clock.now, lease=60.0, limit=10)) == 1
    handler = Recorder()
    worker = Worker(database, handler, clock=clock, lease=60.0)
    await worker.run_once()
    assert handler.seen == []  # still leased
    clock.advance(60)
    await worker.run_once()
    assert handler.seen == ["1"]


async def test_worker_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Worker(None, Recorder(), lease=0)  # type: ignore[arg-type]
