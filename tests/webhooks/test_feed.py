"""Reading events back: filters, ids, following from another process, details on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qb_mcp.emulator import DEMO_REALM_ID
from qb_mcp.errors import InvalidArgumentError, NotFoundError
from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.webhooks.events import Event
from qb_mcp.webhooks.feed import event_details, events_after, get_event, latest_seq, recent_events
from tests.emulator.conftest import FakeClock
from tests.qbo.pipeline_support import RecordingTransport, make_client
from tests.webhooks.conftest import client_on, make_emulator

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def event(entity_id: str, *, minutes: int = 0, **fields: str) -> Event:
    values: dict[str, str] = {"realm_id": "123", "entity": "Customer", "operation": "Create"}
    values.update(fields)
    return Event(
        entity_id=entity_id,
        occurred_at=T0 + timedelta(minutes=minutes),
        source="legacy",
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
async def filled(database: Database) -> Database:
    await store.store_events(
        database,
        [
            event("1", minutes=0),
            event("2", minutes=5, entity="Invoice", operation="Void"),
            event("3", minutes=10, realm_id="456"),
            event("4", minutes=15, operation="Update"),
        ],
        now=1.0,
    )
    return database


async def test_recent_events_are_newest_first(filled: Database) -> None:
    assert [e.entity_id for e in await recent_events(filled)] == ["4", "3", "2", "1"]


async def test_recent_events_filter_by_realm_entity_operation_and_time(filled: Database) -> None:
    assert [e.entity_id for e in await recent_events(filled, realm_id="456")] == ["3"]
    assert [e.entity_id for e in await recent_events(filled, entity="invoice")] == ["2"]
    assert [e.entity_id for e in await recent_events(filled, operation="update")] == ["4"]
    since = T0 + timedelta(minutes=5)
    assert [e.entity_id for e in await recent_events(filled, since=since)] == ["4", "3", "2"]
    assert [e.entity_id for e in await recent_events(filled, limit=1)] == ["4"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"realm_id": "abc"},
        {"entity": "Cust omer"},
        {"entity": ""},
        {"operation": "Explode"},
        {"since": datetime(2026, 1, 1)},  # no time zone
        {"limit": 0},
        {"limit": 501},
        {"limit": True},
    ],
)
async def test_recent_events_refuse_bad_arguments(
    filled: Database, arguments: dict[str, object]
) -> None:
    with pytest.raises(InvalidArgumentError):
        await recent_events(filled, **arguments)  # type: ignore[arg-type]


async def test_get_event_finds_by_public_id(filled: Database) -> None:
    newest = (await recent_events(filled, limit=1))[0]
    assert await get_event(filled, newest.event_id) == newest
    assert await get_event(filled, "evt_" + "0" * 24) is None


async def test_get_event_refuses_an_id_of_another_shape(filled: Database) -> None:
    for bad in ("", "1", "evt_XYZ", "evt_" + "0" * 25, "../etc"):
        with pytest.raises(InvalidArgumentError):
            await get_event(filled, bad)


async def test_a_follower_sees_events_stored_after_its_mark(filled: Database) -> None:
    mark = await latest_seq(filled)
    assert await events_after(filled, mark) == []
    await store.store_events(filled, [event("5", minutes=20)], now=2.0)
    assert [e.entity_id for e in await events_after(filled, mark)] == ["5"]
    with pytest.raises(InvalidArgumentError):
        await events_after(filled, -1)


async def test_to_dict_is_the_public_shape(filled: Database) -> None:
    [voided] = await recent_events(filled, entity="Invoice")
    assert voided.to_dict() == {
        "event_id": voided.event_id,
        "realm_id": "123",
        "entity": "Invoice",
        "entity_id": "2",
        "operation": "Void",
        "occurred_at": "2026-01-15T12:05:00.000000Z",
        "source": "legacy",
        "received_at": "1970-01-01T00:00:01.000000Z",
        "status": "pending",
    }


async def test_details_are_fetched_once_then_kept(database: Database) -> None:
    clock = FakeClock()
    emulator = make_emulator(clock)
    async with client_on(emulator, clock) as client:
        created = await client.create("Customer", {"DisplayName": "Details Co"})
        [stored] = (
            await store.store_events(
                database,
                [
                    Event(DEMO_REALM_ID, "Customer", created["Id"], "Create", T0, "legacy"),
                ],
                now=1.0,
            )
        ).stored
        first = await event_details(database, stored, client, clock=clock)
        assert first is not None and first["DisplayName"] == "Details Co"
        await client.update("Customer", created["Id"], {"DisplayName": "Renamed Co"})
        kept = await event_details(database, (await get_event(database, stored.event_id)), client)  # type: ignore[arg-type]
        assert kept is not None and kept["DisplayName"] == "Details Co"
        fresh = await event_details(database, stored, client, refresh=True)
        assert fresh is not None and fresh["DisplayName"] == "Renamed Co"


async def test_a_deleted_object_has_no_details_and_costs_no_request(database: Database) -> None:
    [deleted] = (
        await store.store_events(database, [event("9", operation="Delete")], now=1.0)
    ).stored

    emulator = make_emulator(FakeClock())
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        assert await event_details(database, deleted, client) is None
    assert transport.sent == []


async def test_details_of_a_missing_object_raise_the_clients_error(database: Database) -> None:
    clock = FakeClock()
    emulator = make_emulator(clock)
    [ghost] = (
        await store.store_events(
            database, [Event(DEMO_REALM_ID, "Customer", "99999", "Update", T0, "legacy")], now=1.0
        )
    ).stored
    async with client_on(emulator, clock) as client:
        with pytest.raises(NotFoundError):
            await event_details(database, ghost, client)
    assert (await get_event(database, ghost.event_id)).details is None  # type: ignore[union-attr]
