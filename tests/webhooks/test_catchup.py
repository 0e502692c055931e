"""Catch-up: CDC turns changes no webhook announced into events, once each."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from qb_mcp.emulator import DEMO_REALM_ID
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.catchup import CatchUp, event_from_cdc
from qb_mcp.webhooks.events import Event
from tests.emulator.conftest import FakeClock
from tests.webhooks.conftest import client_on, make_emulator

pytestmark = pytest.mark.anyio

ESTIMATE_LINE = {
    "DetailType": "SalesItemLineDetail",
    "Amount": Decimal("100.00"),
    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": Decimal("100.00")},
}


class World:
    """The emulator, one client on it, and a CatchUp over the test database."""

    def __init__(self, database: Database) -> None:
        self.clock = FakeClock()
        self.emulator = make_emulator(self.clock)
        self.clock.advance(3600)  # the demo company's seeding is old news
        self.client = client_on(self.emulator, self.clock)
        self.notified: list[StoredEvent] = []
        self.catchup = CatchUp(
            database,
            self.client_for,
            realms=self.realms,
            clock=self.clock,
            on_stored=self.on_stored,
        )

    async def realms(self) -> list[str]:
        return [DEMO_REALM_ID]

    @contextlib.asynccontextmanager
    async def client_for(self, realm_id: str) -> AsyncIterator[Any]:
        yield self.client

    async def on_stored(self, events: list[StoredEvent]) -> None:
        self.notified.extend(events)

    async def customer(self, name: str) -> dict[str, Any]:
        created: dict[str, Any] = await self.client.create("Customer", {"DisplayName": name})
        self.clock.advance(2)
        return created


@pytest.fixture
async def world(database: Database) -> AsyncIterator[World]:
    w = World(database)
    try:
        yield w
    finally:
        await w.client.aclose()


async def summary(database: Database) -> list[tuple[str, str, str, str]]:
    rows = await database.fetchall(
        "SELECT entity, entity_id, operation, source FROM webhook_events ORDER BY seq"
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_changes_after_the_first_run_become_cdc_events(
    world: World, database: Database
) -> None:
    await world.catchup.run_once()
    world.clock.advance(3600)
    created = await world.customer("Caught Up Co")
    await world.client.update("Customer", created["Id"], {"CompanyName": "Caught Up Ltd"})
    world.clock.advance(2)
    estimate = await world.client.create(
        "Estimate", {"CustomerRef": {"value": created["Id"]}, "Line": [ESTIMATE_LINE]}
    )
    world.clock.advance(2)
    await world.client.delete("Estimate", estimate["Id"])
    world.clock.advance(2)
    [result] = await world.catchup.run_once()
    assert result.error is None
    assert await summary(database) == [
        ("Customer", created["Id"], "Update", "cdc"),
        ("Estimate", estimate["Id"], "Delete", "cdc"),
    ]
    assert [e.entity_id for e in world.notified] == [created["Id"], estimate["Id"]]


async def test_a_new_object_is_a_create(world: World, database: Database) -> None:
    await world.catchup.run_once()
    created = await world.customer("Brand New Co")
    await world.catchup.run_once()
    assert await summary(database) == [("Customer", created["Id"], "Create", "cdc")]


async def test_running_again_stores_nothing_new(world: World, database: Database) -> None:
    await world.catchup.run_once()
    await world.customer("Once Co")
    await world.catchup.run_once()
    world.clock.advance(10)
    [again] = await world.catchup.run_once()
    assert again.seen == 1  # the overlap brings it back...
    assert again.stored == []  # ...and de-duplication drops it
    assert len(await summary(database)) == 1


async def test_changes_webhooks_announced_are_not_doubled(world: World, database: Database) -> None:
    await world.catchup.run_once()
    created = await world.customer("Announced Co")
    announced = Event(
        DEMO_REALM_ID,
        "Customer",
        created["Id"],
        "Create",
        # the webhook's time has milliseconds; MetaData.LastUpdatedTime has whole seconds
        store.parse_stored_time(
            store.format_time(
                event_from_cdc(DEMO_REALM_ID, "Customer", created).occurred_at  # type: ignore[union-attr]
            )
        ).replace(microsecond=417_000),
        "legacy",
    )
    await store.store_events(database, [announced], now=world.clock.now)
    [result] = await world.catchup.run_once()
    assert (result.seen, result.stored) == (1, [])
    assert await summary(database) == [("Customer", created["Id"], "Create", "legacy")]


async def test_before_any_run_it_starts_from_the_newest_event(
    world: World, database: Database
) -> None:
    created = await world.customer("Before The Event Co")  # before the stored event: not wanted
    world.clock.advance(3600)
    seen = Event(DEMO_REALM_ID, "Item", "1", "Update", world.emulator.now(), "legacy")
    await store.store_events(database, [seen], now=world.clock.now)
    world.clock.advance(3600)
    later = await world.customer("After The Event Co")
    [result] = await world.catchup.run_once()
    assert result.changed_since is not None
    assert result.changed_since.timestamp() == pytest.approx(
        seen.occurred_at.timestamp() - 300, abs=1
    )
    assert [e.entity_id for e in result.stored] == [later["Id"]]
    assert created["Id"] not in {e.entity_id for e in result.stored}


async def test_a_cursor_older_than_30_days_is_clamped_and_warned(
    world: World, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await store.set_catchup_cursor(
        database, DEMO_REALM_ID, checked_through=world.clock.now - 40 * 86400, now=0.0, error=None
    )
    with caplog.at_level(logging.WARNING):
        [result] = await world.catchup.run_once()
    assert result.error is None
    assert "beyond CDC's 30 days" in caplog.text
    assert result.changed_since is not None
    assert world.clock.now - result.changed_since.timestamp() < 30 * 86400


async def test_a_failing_run_is_recorded_and_keeps_its_cursor(
    world: World, database: Database
) -> None:
    await world.catchup.run_once()
    before = await store.catchup_cursor(database, DEMO_REALM_ID)
    created = await world.customer("Missed While Throttled Co")
    world.emulator.chaos.throttle(count=100)
    [failed] = await world.catchup.run_once()
    assert failed.error is not None and "Throttled" in failed.error
    assert await store.catchup_cursor(database, DEMO_REALM_ID) == before
    world.emulator.chaos.clear()
    world.clock.advance(60)
    [ok] = await world.catchup.run_once()
    assert [e.entity_id for e in ok.stored] == [created["Id"]]


async def test_one_failing_realm_does_not_stop_the_others(world: World, database: Database) -> None:
    unknown = "4620816365999999999"  # no such company in the emulator

    async def two_realms() -> list[str]:
        return [unknown, DEMO_REALM_ID]

    @contextlib.asynccontextmanager
    async def client_for(realm_id: str) -> AsyncIterator[Any]:
        if realm_id == DEMO_REALM_ID:
            yield world.client
            return
        token = world.emulator.issue_tokens(DEMO_REALM_ID).access_token
        async with QBOClient(
            realm_id=realm_id,
            token_source=StaticTokenSource({realm_id: token}),
            base_url="http://emulator",
            transport=httpx2.ASGITransport(app=world.emulator.app),
            retry=RetryPolicy(max_attempts=1),
            clock=world.clock,
        ) as client:
            yield client

    catchup = CatchUp(database, client_for, realms=two_realms, clock=world.clock)
    await catchup.run_once()
    await world.customer("Second Realm Still Runs Co")
    first, second = await catchup.run_once()
    assert first.realm_id == unknown and first.error is not None
    assert second.error is None and len(second.stored) == 1
    assert await store.catchup_cursor(database, unknown) is None


def test_cdc_rows_without_metadata_are_skipped() -> None:
    assert event_from_cdc("1", "Customer", {"Id": "63"}) is None
    assert (
        event_from_cdc("1", "Customer", {"Id": "63", "MetaData": {"LastUpdatedTime": "bad"}})
        is None
    )


def test_the_cdc_sample_stub_reads_as_a_delete(samples_dir: Any) -> None:
    import json

    answer = json.loads((samples_dir / "cdc-response.json").read_text())
    stub = answer["CDCResponse"][0]["QueryResponse"][1]["Estimate"][2]
    event = event_from_cdc("1", "Estimate", stub)
    assert event is not None
    assert (event.entity_id, event.operation, event.source) == ("979", "Delete", "cdc")
    assert event.occurred_at.isoformat() == "2015-12-23T20:55:50+00:00"
