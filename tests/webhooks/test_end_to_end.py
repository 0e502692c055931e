"""Issue 6 end to end over real loopback HTTP: the emulator signs and sends, the listener stores.

The emulator and the listener both run under uvicorn on loopback ports; the QBO client talks to
the emulator over HTTP; the emulator's WebhookSender posts signed notifications to the listener on
Intuit's retry schedule (scaled down so that its hours become milliseconds).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.emulator import DEMO_REALM_ID
from qb_mcp.emulator.changes import ChangeEvent
from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.webhooks.app import webhook_app
from qb_mcp.webhooks.catchup import CatchUp
from qb_mcp.webhooks.feed import recent_events
from tests.emulator.conftest import FakeClock
from tests.ports import free_port
from tests.webhooks.conftest import TOKEN, client_on, make_emulator, serving

pytestmark = pytest.mark.anyio

LINE = {
    "DetailType": "SalesItemLineDetail",
    "Amount": Decimal("40.00"),
    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": Decimal("20.00")},
}


@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
async def test_a_customer_created_through_the_client_arrives_as_a_stored_event(
    database: Database, payload_format: str
) -> None:
    clock = FakeClock()
    listener_port = free_port()
    emulator = make_emulator(
        clock,
        webhook_url=f"http://127.0.0.1:{listener_port}/webhooks/intuit",
        webhook_verifier_token=TOKEN,
        webhook_format=payload_format,
    )
    listener = webhook_app(database=database, verifier_token=TOKEN)
    async with (
        serving(listener, listener_port),
        serving(emulator.app) as emulator_url,
        client_on(emulator, clock, base_url=emulator_url) as client,
    ):
        created = await client.create("Customer", {"DisplayName": f"Webhook {payload_format} Co"})
        await emulator.webhooks.drained()
    [event] = await recent_events(database)
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        DEMO_REALM_ID,
        "Customer",
        created["Id"],
        "Create",
    )
    assert event.source == payload_format
    delivery = emulator.webhooks.deliveries[-1]
    assert delivery.ok and delivery.attempt == 1


def versions(changes: list[ChangeEvent]) -> Counter[tuple[str, str, str, int]]:
    return Counter(
        (c.entity, c.entity_id, c.operation, int(c.last_updated.timestamp())) for c in changes
    )


async def stored_versions(database: Database) -> Counter[tuple[str, str, str, int]]:
    rows = await database.fetchall(
        "SELECT entity, entity_id, operation, version_second FROM webhook_events"
    )
    return Counter((row[0], row[1], row[2], int(row[3])) for row in rows)


@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
async def test_changes_made_while_the_listener_is_down_are_caught_up_once_each(
    database: Database, payload_format: str
) -> None:
    clock = FakeClock()
    listener_port = free_port()
    emulator = make_emulator(
        clock,
        webhook_url=f"http://127.0.0.1:{listener_port}/webhooks/intuit",
        webhook_verifier_token=TOKEN,
        webhook_format=payload_format,
        webhook_retry_scale=0.00005,  # Intuit's 10 s, 20 s, 30 s, 5 min, ... in milliseconds
    )
    clock.advance(3600)  # the demo company's seeding is not part of this story
    changes: list[ChangeEvent] = []
    emulator.backend.subscribe(changes.append)

    async with (
        serving(emulator.app) as emulator_url,
        client_on(emulator, clock, base_url=emulator_url) as client,
    ):

        @contextlib.asynccontextmanager
        async def client_for(realm_id: str) -> AsyncIterator[Any]:
            yield client

        async def step() -> None:
            clock.advance(2)  # each change its own second, so versions are distinct

        catchup = CatchUp(
            database, client_for, realms=lambda: _demo_realm(), clock=clock, interval=3600
        )
        async with serving(webhook_app(database=database, verifier_token=TOKEN), listener_port):
            first = await client.create("Customer", {"DisplayName": "Before The Outage Co"})
            await step()
            await client.create("Customer", {"DisplayName": "Also Before Co"})
            await step()
            await emulator.webhooks.drained()
            await catchup.run_once()
        # The listener is down: QuickBooks keeps changing, Intuit's deliveries fail and wait.
        during = await client.create("Customer", {"DisplayName": "During The Outage Co"})
        await step()
        await client.update("Customer", during["Id"], {"CompanyName": "Outage Ltd"})
        await step()
        await client.update("Customer", first["Id"], {"CompanyName": "Changed While Down"})
        await step()
        estimate = await client.create(
            "Estimate", {"CustomerRef": {"value": first["Id"]}, "Line": [LINE]}
        )
        await step()
        await client.delete("Estimate", estimate["Id"])
        await step()
        invoice = await client.create(
            "Invoice", {"CustomerRef": {"value": first["Id"]}, "Line": [LINE]}
        )
        await step()
        await client.void("Invoice", invoice["Id"])
        await step()
        assert any(not d.ok for d in emulator.webhooks.deliveries)

        # Catch-up (as on start) finds every object's latest version without any webhook.
        [result] = await catchup.run_once()
        assert result.error is None
        latest = {(c.entity, c.entity_id): c for c in changes}
        cdc_rows = {(e.entity, e.entity_id) for e in result.stored}
        assert cdc_rows <= set(latest)
        assert {("Customer", during["Id"]), ("Estimate", estimate["Id"])} <= cdc_rows

        # The listener comes back (catching up on start, too); Intuit's retries get through.
        app = webhook_app(database=database, verifier_token=TOKEN, catchup=catchup)
        async with serving(app, listener_port):
            await emulator.webhooks.drained()
            await catchup.run_once()  # waits for the start-up run, and finds nothing new

    assert await stored_versions(database) == versions(changes)
    assert await store.count(database) == len(changes)
    assert not [
        e
        for e in await recent_events(database, limit=500)
        if e.source == "cdc" and e.confirmed_by is None
    ]


async def _demo_realm() -> list[str]:
    return [DEMO_REALM_ID]
