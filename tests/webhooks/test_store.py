"""Storing events once: duplicate deliveries, the two formats, and CDC against webhooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.store.db import SqliteDatabase
from qb_mcp.webhooks.events import Event

pytestmark = pytest.mark.anyio

WHEN = datetime(2026, 1, 15, 12, 0, 0, 250_000, tzinfo=UTC)


def event(source: str = "legacy", **overrides: object) -> Event:
    fields: dict[str, object] = {
        "realm_id": "123",
        "entity": "Customer",
        "entity_id": "58",
        "operation": "Create",
        "occurred_at": WHEN,
        "source": source,
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


async def rows(database: Database) -> list[tuple[str, str, str, str]]:
    found = await database.fetchall(
        "SELECT entity_id, operation, source, COALESCE(confirmed_by, '') FROM webhook_events ORDER BY seq"
    )
    return [tuple(row) for row in found]  # type: ignore[misc]


@pytest.fixture
def database(any_database: Database) -> Database:
    """The storing rules on both backends (tests/conftest.py): the SQL is shared."""
    return any_database


async def test_a_new_event_is_stored_with_its_fields(database: Database) -> None:
    result = await store.store_events(database, [event(deleted_id=None)], now=1000.0)
    [stored] = result.stored
    assert (stored.entity, stored.entity_id, stored.operation, stored.source) == (
        "Customer",
        "58",
        "Create",
        "legacy",
    )
    assert stored.occurred_at == WHEN
    assert await store.get(database, stored.event_id) == stored


async def test_a_repeated_legacy_delivery_is_stored_once(database: Database) -> None:
    await store.store_events(database, [event()], now=1.0)
    again = await store.store_events(
        database, [event(occurred_at=WHEN.replace(microsecond=0))], now=2.0
    )
    assert (again.stored, again.duplicates) == ([], 1)
    assert await store.count(database) == 1


async def test_a_repeated_cloudevent_id_is_stored_once(database: Database) -> None:
    first = event("cloudevents", cloudevent_id="abc")
    await store.store_events(database, [first], now=1.0)
    retry = await store.store_events(database, [first], now=2.0)
    assert retry.duplicates == 1
    assert await store.count(database) == 1


async def test_the_same_change_in_both_formats_is_one_event(database: Database) -> None:
    await store.store_events(database, [event("legacy")], now=1.0)
    other = await store.store_events(database, [event("cloudevents", cloudevent_id="x")], now=2.0)
    assert other.duplicates == 1
    assert await store.count(database) == 1


async def test_a_duplicate_inside_one_delivery_is_stored_once(database: Database) -> None:
    result = await store.store_events(database, [event(), event()], now=1.0)
    assert (len(result.stored), result.duplicates) == (1, 1)


async def test_create_and_update_in_one_second_are_two_events(database: Database) -> None:
    result = await store.store_events(
        database,
        [event(), event(operation="Update", occurred_at=WHEN + timedelta(milliseconds=300))],
        now=1.0,
    )
    assert len(result.stored) == 2


async def test_a_later_version_is_a_new_event(database: Database) -> None:
    await store.store_events(database, [event(operation="Update")], now=1.0)
    later = await store.store_events(
        database, [event(operation="Update", occurred_at=WHEN + timedelta(seconds=1))], now=2.0
    )
    assert len(later.stored) == 1


async def test_cdc_finds_nothing_new_for_an_announced_version(database: Database) -> None:
    await store.store_events(
        database, [event("cloudevents", cloudevent_id="a", operation="Void")], now=1.0
    )
    cdc = await store.store_events(
        database,
        [event("cdc", operation="Update", occurred_at=WHEN.replace(microsecond=0))],
        now=2.0,
    )
    assert (cdc.stored, cdc.duplicates) == ([], 1)


async def test_a_webhook_after_cdc_confirms_the_row_instead_of_adding_one(
    database: Database,
) -> None:
    await store.store_events(database, [event("cdc", operation="Update")], now=1.0)
    late = await store.store_events(database, [event("legacy", operation="Void")], now=2.0)
    assert late.stored == []
    assert await rows(database) == [("58", "Void", "cdc", "legacy")]


async def test_a_webhook_matching_cdcs_guess_confirms_it(database: Database) -> None:
    await store.store_events(database, [event("cdc")], now=1.0)
    await store.store_events(database, [event("cloudevents", cloudevent_id="z")], now=2.0)
    assert await rows(database) == [("58", "Create", "cdc", "cloudevents")]


async def test_merge_target_is_kept(database: Database) -> None:
    result = await store.store_events(database, [event(operation="Merge", deleted_id="7")], now=1.0)
    assert result.stored[0].deleted_id == "7"
    assert result.stored[0].to_dict()["deleted_id"] == "7"


async def test_other_realms_and_entities_do_not_collide(database: Database) -> None:
    result = await store.store_events(
        database,
        [event(), event(realm_id="456"), event(entity="Invoice"), event(entity_id="59")],
        now=1.0,
    )
    assert len(result.stored) == 4


async def test_a_failed_transaction_stores_nothing(database: Database) -> None:
    bad = event(source="smoke-signal")  # refused by the table's CHECK, after a good one
    with pytest.raises(Exception, match=r"(?i)check constraint"):
        await store.store_events(database, [event(entity_id="1"), bad], now=1.0)
    assert await store.count(database) == 0


async def test_group_commit_stores_each_change_once_under_concurrency(database: Database) -> None:
    writer = store.EventWriter(database)
    changes = [event(entity_id=str(n)) for n in range(40)]
    again = [
        event("cloudevents", entity_id=str(n), cloudevent_id=f"ce-{n}") for n in range(0, 40, 3)
    ]
    results = await asyncio.gather(
        *(writer.store([e], now=1.0) for e in [*changes, *changes[:10], *again])
    )
    assert sum(len(r.stored) for r in results) == 40
    assert sum(r.duplicates for r in results) == 10 + len(again)
    assert await store.count(database) == 40


async def test_group_commit_applies_the_cdc_rules_too(database: Database) -> None:
    await store.store_events(database, [event("cdc", operation="Update")], now=1.0)
    writer = store.EventWriter(database)
    [late] = await asyncio.gather(writer.store([event("legacy", operation="Void")], now=2.0))
    assert (late.stored, late.duplicates) == ([], 1)
    assert await rows(database) == [("58", "Void", "cdc", "legacy")]


async def test_one_bad_delivery_in_a_group_fails_alone(database: Database) -> None:
    writer = store.EventWriter(database)
    good = [writer.store([event(entity_id=str(n))], now=1.0) for n in range(5)]
    bad = writer.store([event(source="smoke-signal", entity_id="99")], now=1.0)
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert [isinstance(r, Exception) for r in results] == [False] * 5 + [True]
    assert await store.count(database) == 5


async def test_duplicates_arriving_together_are_settled_in_one_transaction(
    database: Database,
) -> None:
    await store.store_events(database, [event("cdc", entity_id="7", operation="Update")], now=1.0)
    for n in range(10):
        await store.store_events(database, [event(entity_id=str(n))], now=1.0)
    # Counted on SQLite, whose trace callback sees every statement; on PostgreSQL the same
    # code path runs and the results must agree.
    traced = isinstance(database, SqliteDatabase)
    statements: list[str] = []
    if traced:
        await database._connection.set_trace_callback(statements.append)
    writer = store.EventWriter(database)
    late = event("legacy", entity_id="7", operation="Void")  # confirms the CDC row (rule 4)
    again = [event(entity_id=str(n)) for n in range(10)]
    results = await asyncio.gather(*(writer.store([e], now=2.0) for e in [*again, late]))
    if traced:
        await database._connection.set_trace_callback(None)
        assert sum(s.startswith("BEGIN") for s in statements) == 1
    assert [(len(r.stored), r.duplicates) for r in results] == [(0, 1)] * 11
    assert ("7", "Void", "cdc", "legacy") in await rows(database)


async def test_a_bad_delivery_among_duplicates_fails_alone(database: Database) -> None:
    await store.store_events(database, [event(entity_id="1")], now=1.0)
    writer = store.EventWriter(database)
    results = await asyncio.gather(
        writer.store([event(entity_id="1")], now=2.0),
        writer.store([event(source="smoke-signal", entity_id="99")], now=2.0),
        writer.store([event(entity_id="2", operation="Update")], now=2.0),
        return_exceptions=True,
    )
    assert isinstance(results[1], Exception)
    assert [(len(r.stored), r.duplicates) for r in (results[0], results[2])] == [(0, 1), (1, 0)]
    assert await store.count(database) == 2


async def test_a_claim_leases_the_oldest_due_events_in_order(database: Database) -> None:
    for n in range(5):
        await store.store_events(database, [event(entity_id=str(n))], now=1.0)
    first = await store.claim(database, now=10.0, lease=60.0, limit=3)
    assert [e.entity_id for e in first] == ["0", "1", "2"]
    rest = await store.claim(database, now=10.0, lease=60.0, limit=10)
    assert [e.entity_id for e in rest] == ["3", "4"]  # the leased ones are hidden
    assert await store.claim(database, now=20.0, lease=60.0, limit=10) == []
    again = await store.claim(database, now=71.0, lease=60.0, limit=10)  # leases lapsed
    assert [e.entity_id for e in again] == ["0", "1", "2", "3", "4"]
