"""`qbo://events/{event_id}`, `recent_changes` and resource-updated notifications, in memory
(both protocol eras) and through a `serve` process on stdio that follows the shared database."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client, MCPError, StdioServerParameters

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from qb_mcp.store import Database, open_database
from qb_mcp.store import events as store
from qb_mcp.webhooks.events import Event
from tests.server.conftest import TEST_LIMITS, Session, connect_demo_company, error_text
from tests.server.test_tools import CONTACT

pytestmark = pytest.mark.anyio

RECENT = "qbo://events/recent"
MISSING_ID = "evt_" + "0" * 24


def change(
    entity_id: str,
    *,
    entity: str = "Customer",
    operation: str = "Update",
    realm_id: str = DEMO_REALM_ID,
    at: datetime = datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
    source: Literal["legacy", "cloudevents", "cdc"] = "legacy",
) -> Event:
    return Event(
        realm_id=realm_id,
        entity=entity,
        entity_id=entity_id,
        operation=operation,
        occurred_at=at,
        source=source,
    )


@asynccontextmanager
async def shared_database(settings: Settings) -> AsyncIterator[Database]:
    """The server's database opened a second time, as `qb-mcp webhooks` in another process would."""
    database = await open_database(settings.database_path)
    try:
        yield database
    finally:
        await database.close()


async def store_events(settings: Settings, events: Sequence[Event]) -> list[str]:
    async with shared_database(settings) as database:
        result = await store.store_events(database, events, now=time.time())
    return [event.event_id for event in result.stored]


async def stored_count(settings: Settings) -> int:
    async with shared_database(settings) as database:
        return await store.count(database)


@asynccontextmanager
async def connect(
    settings: Settings, emulator: Emulator, mode: str = "auto", **client: Any
) -> AsyncIterator[Session]:
    """A fresh server following the database every 50 ms, and a client session to it."""
    server = build_server(
        settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS), event_poll_interval=0.05
    )
    async with Client(server, mode=mode, **client) as session:
        yield Session(session, emulator)


# ---- qbo://events/{event_id} ----------------------------------------------------------------------


async def test_an_event_shows_the_changed_customer_and_keeps_it(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        [event_id] = await store_events(settings, [change(customer["id"])])
        read = await s.resource(f"qbo://events/{event_id}")
        async with shared_database(settings) as database:
            kept = await store.get(database, event_id)
    assert read["event"]["event_id"] == event_id
    assert read["event"]["entity_id"] == customer["id"]
    assert read["details"]["DisplayName"] == CONTACT["display_name"]
    assert kept is not None and kept.details is not None
    assert json.loads(kept.details)["Id"] == customer["id"]


async def test_a_deleted_object_has_nothing_to_fetch(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    [event_id] = await store_events(settings, [change("4242", operation="Delete")])
    async with connect(settings, emulator, mode) as s:
        read = await s.resource(f"qbo://events/{event_id}")
    assert read["details"] is None
    assert "deleted" in read["note"]
    assert "details_error" not in read


async def test_a_failed_fetch_still_shows_the_event_and_says_why(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    [event_id] = await store_events(settings, [change("987654")])
    async with connect(settings, emulator, mode) as s:
        read = await s.resource(f"qbo://events/{event_id}")
    assert read["event"]["entity_id"] == "987654"
    assert read["details"] is None
    assert read["details_error"]


@pytest.mark.parametrize(
    ("event_id", "words"),
    [(MISSING_ID, "never stored"), ("recent2", "evt_"), ("evt_XYZ", "evt_")],
)
async def test_an_unknown_or_malformed_event_id_is_a_resource_error(
    settings: Settings, emulator: Emulator, mode: str, event_id: str, words: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        with pytest.raises(MCPError) as caught:
            await s.client.read_resource(f"qbo://events/{event_id}")
    assert words in str(caught.value)
    assert await stored_count(settings) == 0


async def test_the_event_template_is_listed(settings: Settings, emulator: Emulator) -> None:
    async with connect(settings, emulator) as s:
        templates = (await s.client.list_resource_templates()).resource_templates
    assert {t.uri_template for t in templates} == {
        "qbo://events/{event_id}",
        "qbo://invoices/{id}/pdf",
        "qbo://companies/{company}/company",
        "qbo://companies/{company}/events/recent",
        "qbo://companies/{company}/audit/recent",
        "qbo://companies/{company}/invoices/{id}/pdf",
    }


# ---- recent_changes ------------------------------------------------------------------------------


async def test_recent_changes_filters_by_entity_operation_and_time_for_the_company(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    early = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    late = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    await store_events(
        settings,
        [
            change("1", at=early),
            change("2", operation="Create", at=late, source="cloudevents"),
            change("3", entity="Invoice", at=late),
            change("4", realm_id="123", at=late),
        ],
    )
    async with connect(settings, emulator, mode) as s:
        everything = await s.call("recent_changes")
        customers = await s.call("recent_changes", {"entity": "customer"})
        created = await s.call("recent_changes", {"operation": "Create"})
        later = await s.call("recent_changes", {"since": "2026-11-24T01:30:00Z"})
        one = await s.call("recent_changes", {"limit": 1})
        none = await s.call("recent_changes", {"entity": "Payment"})
    assert [c["entity_id"] for c in everything["changes"]] == ["3", "2", "1"]
    assert everything["count"] == 3 and everything["note"] is None
    assert {c["entity_id"] for c in customers["changes"]} == {"1", "2"}
    assert [(c["entity_id"], c["source"]) for c in created["changes"]] == [("2", "cloudevents")]
    assert {c["entity_id"] for c in later["changes"]} == {"2", "3"}
    assert one["count"] == 1
    assert none["changes"] == [] and "catch_up" in none["note"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"entity": "1Customer"}, "entity"),
        ({"entity": "Customer; DROP TABLE"}, "entity"),
        ({"operation": "Explode"}, "operation"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-24T01:00:00"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"realm_id": "123"}, "realm_id"),  # the company argument took its place
        ({"company": "123"}, "company"),
        ({"catch_up": "maybe"}, "catch_up"),
        ({"catch_up": True, "company": "123"}, "company"),
    ],
)
async def test_recent_changes_with_bad_arguments_is_a_tool_error_that_changes_nothing(
    settings: Settings, emulator: Emulator, arguments: dict[str, Any], field: str
) -> None:
    await store_events(settings, [change("1")])
    async with connect(settings, emulator) as s:
        before = s.state()
        text = await s.fail("recent_changes", arguments)
        after = s.state()
    assert field in text
    assert before == after
    assert await stored_count(settings) == 1


async def test_catch_up_on_demand_finds_a_customer_no_webhook_announced(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        before = await s.call("recent_changes", {"entity": "Customer"})
        caught = await s.call("recent_changes", {"entity": "Customer", "catch_up": True})
        again = await s.call("recent_changes", {"entity": "Customer", "catch_up": True})
    assert before["changes"] == []
    assert caught["caught_up"]["error"] is None
    assert caught["caught_up"]["new_events"] >= 1
    [made] = [c for c in caught["changes"] if c["entity_id"] == customer["id"]]
    assert (made["operation"], made["source"]) == ("Create", "cdc")
    assert again["caught_up"]["new_events"] == 0
    assert again["count"] == caught["count"]


async def test_read_only_keeps_recent_changes(tmp_path: Path, emulator: Emulator) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator", read_only=True)
    async with connect(settings, emulator) as s:
        names = {tool.name for tool in (await s.client.list_tools()).tools}
        listed = await s.call("recent_changes")
    assert "recent_changes" in names and "upsert_customer" not in names
    assert listed["changes"] == []


# ---- notifications ------------------------------------------------------------------------------


async def test_a_modern_listener_hears_of_events_another_process_stored(
    settings: Settings, emulator: Emulator
) -> None:
    async with connect(settings, emulator, "auto") as s:
        async with s.client.listen(resource_subscriptions=[RECENT]) as subscription:
            [event_id] = await store_events(settings, [change("7")])
            with anyio.fail_after(5):
                update = await anext(subscription)
        events = (await s.resource(RECENT))["events"]
    assert update.uri == RECENT  # type: ignore[union-attr]
    assert [e["event_id"] for e in events] == [event_id]


async def test_a_listener_of_one_event_hears_of_that_event_only(
    settings: Settings, emulator: Emulator
) -> None:
    watched = change("8")
    async with (
        connect(settings, emulator, "auto") as s,
        s.client.listen(
            resource_subscriptions=[f"qbo://events/{watched.event_id}"]
        ) as subscription,
    ):
        await store_events(settings, [change("9")])
        await store_events(settings, [watched])
        with anyio.fail_after(5):
            update = await anext(subscription)
    assert update.uri == f"qbo://events/{watched.event_id}"  # type: ignore[union-attr]


@pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")
async def test_a_legacy_subscriber_hears_of_events_until_it_unsubscribes(
    settings: Settings, emulator: Emulator
) -> None:
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        nonlocal got
        uri = getattr(getattr(message, "params", None), "uri", None)
        if uri is not None:
            updates.append(str(uri))
            got.set()

    later = change("8")
    later_uri = f"qbo://events/{later.event_id}"
    async with connect(settings, emulator, "legacy", message_handler=on_message) as s:
        await s.client.subscribe_resource(RECENT)
        await store_events(settings, [change("7")])
        with anyio.fail_after(5):
            await got.wait()
        await s.client.unsubscribe_resource(RECENT)
        await s.client.subscribe_resource(later_uri)
        got = anyio.Event()
        await store_events(settings, [later])
        # Both URIs are announced together, recent first: had the unsubscribe not worked, its
        # notice would arrive before this one.
        with anyio.fail_after(5):
            await got.wait()
    assert updates == [RECENT, later_uri]


async def test_a_stdio_serve_announces_events_stored_by_another_process(
    tmp_path: Path,
) -> None:
    """`qb-mcp serve` on stdio, `qb-mcp webhooks` (here: this test) storing into the same
    QBO_HOME: the server polls the database and tells its listening client."""
    import os

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    params = StdioServerParameters(command=sys.executable, args=["-m", "qb_mcp", "serve"], env=env)
    settings = Settings(home=home, environment="emulator")
    async with Client(params) as client:
        await client.call_tool("connection_status", {})  # the server is up, its database open
        async with client.listen(resource_subscriptions=[RECENT]) as subscription:
            [event_id] = await store_events(settings, [change("7")])
            with anyio.fail_after(10):
                update = await anext(subscription)
        read = await client.read_resource(RECENT)
        failed = await client.call_tool("recent_changes", {"limit": "many"})
    events = json.loads(read.contents[0].text)["events"]  # type: ignore[union-attr]
    assert update.uri == RECENT  # type: ignore[union-attr]
    assert [e["event_id"] for e in events] == [event_id]
    assert failed.is_error and "limit" in error_text(failed)


async def test_a_connected_company_is_caught_up_on_start_and_listeners_hear_of_it(
    settings: Settings, emulator: Emulator
) -> None:
    """The lifespan's periodic catch-up (connected companies only) runs at once on start; what
    it stores reaches subscribers. The emulator stands in for Intuit, in process."""
    import dataclasses

    import httpx2

    from qb_mcp.server import open_state, run_event_loops
    from qb_mcp.server_events import EventPublisher

    connected = dataclasses.replace(
        settings, oauth_base_url="http://emulator", api_base_url="http://emulator"
    )
    transport = httpx2.ASGITransport(app=emulator.app)
    await connect_demo_company(connected, emulator, transport=transport)
    publisher = EventPublisher()
    heard: list[str] = []
    got = anyio.Event()

    def listener(event: Any) -> None:
        heard.append(event.uri)
        got.set()

    publisher.bus.subscribe(listener)
    async with (
        open_state(connected, transport=transport, limiter=RealmLimiter(TEST_LIMITS)) as state,
        run_event_loops(state, publisher, poll_interval=0.05, catch_up_interval=3600),
    ):
        assert [company.source for company in state.listed()] == ["connection"]
        with anyio.fail_after(5):
            await got.wait()
        found = await store.recent(state.database, realm_id=DEMO_REALM_ID, limit=500)
        cursor = await store.catchup_cursor(state.database, DEMO_REALM_ID)
    assert heard[0] == RECENT
    assert found and {e.source for e in found} == {"cdc"}
    assert cursor is not None
