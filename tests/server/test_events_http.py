"""Issue 6's MCP "Done when", over real loopback HTTP.

QuickBooks is the emulator under uvicorn, signing webhooks in the format under test. The MCP
server serves it as a connected company (stored tokens, Intuit's paths over HTTP) under uvicorn,
with the webhook listener mounted beside `/mcp`. An MCP client subscribed to
`qbo://events/recent` creates a customer with the `upsert_customer` tool; the emulator notifies
the listener; the client is told the resource changed and reads the event. Every combination of
payload format (legacy, CloudEvents) and protocol era (modern `subscriptions/listen`, legacy
`resources/subscribe`) is run.

The emulator runs on a fake clock months behind ours, so the server's start-up catch-up (its
window ends at our clock's now) finds nothing: the event can only come from the webhook.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.emulator.conftest import FakeClock
from tests.ports import free_port
from tests.server.conftest import TEST_LIMITS, connect_demo_company
from tests.server.test_tools import CONTACT
from tests.webhooks.conftest import TOKEN, make_emulator, serving

pytestmark = pytest.mark.anyio

RECENT = "qbo://events/recent"


@asynccontextmanager
async def company_over_http(tmp_path: Path, payload_format: str) -> AsyncIterator[str]:
    """The emulator and the MCP server (listener mounted) on loopback; yields the MCP URL."""
    server_port = free_port()
    emulator = make_emulator(
        FakeClock(),
        webhook_url=f"http://127.0.0.1:{server_port}/webhooks/intuit",
        webhook_verifier_token=TOKEN,
        webhook_format=payload_format,
    )
    async with serving(emulator.app) as emulator_url:
        settings = Settings(
            home=tmp_path / "home",
            environment="emulator",
            api_base_url=emulator_url,
            oauth_base_url=emulator_url,
            webhook_verifier_token=TOKEN,
        )
        await connect_demo_company(
            settings, emulator, company_name="Craig's Design and Landscaping Services"
        )
        server = build_server(settings, limiter=RealmLimiter(TEST_LIMITS))
        async with serving(server.streamable_http_app(), server_port) as base:
            yield f"{base}/mcp"
        await emulator.webhooks.drained()


async def read_json(client: Client, uri: str) -> Any:
    read = await client.read_resource(uri)
    return json.loads(read.contents[0].text)  # type: ignore[union-attr]


async def create_customer(client: Client) -> str:
    made = await client.call_tool("upsert_customer", CONTACT)
    assert not made.is_error, made.content
    assert made.structured_content is not None
    return str(made.structured_content["customer"]["id"])


async def the_event_of(client: Client, customer_id: str) -> dict[str, Any]:
    """The one event `qbo://events/recent` lists for the customer."""
    events = (await read_json(client, RECENT))["events"]
    [event] = [e for e in events if e["entity_id"] == customer_id]
    return dict(event)


@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
async def test_a_modern_listener_hears_of_the_webhook_for_a_customer_made_by_the_tool(
    tmp_path: Path, payload_format: str
) -> None:
    async with (
        company_over_http(tmp_path, payload_format) as url,
        Client(url, mode="auto") as client,
        client.listen(resource_subscriptions=[RECENT]) as subscription,
    ):
        assert (await read_json(client, RECENT))["events"] == []
        customer_id = await create_customer(client)
        with anyio.fail_after(10):
            update = await anext(subscription)
        event = await the_event_of(client, customer_id)
        one = await read_json(client, f"qbo://events/{event['event_id']}")
    assert update.uri == RECENT  # type: ignore[union-attr]
    assert (event["entity"], event["operation"], event["source"]) == (
        "Customer",
        "Create",
        payload_format,
    )
    assert event["realm_id"] == DEMO_REALM_ID
    assert one["details"]["DisplayName"] == CONTACT["display_name"]


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
async def test_a_legacy_subscriber_hears_of_the_webhook_for_a_customer_made_by_the_tool(
    tmp_path: Path, payload_format: str
) -> None:
    notified = anyio.Event()
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        params = getattr(getattr(message, "root", message), "params", None)
        uri = getattr(params, "uri", None)
        if uri is not None:
            updates.append(str(uri))
            notified.set()

    async with (
        company_over_http(tmp_path, payload_format) as url,
        Client(url, mode="legacy", message_handler=on_message) as client,
    ):
        await client.subscribe_resource(RECENT)
        customer_id = await create_customer(client)
        with anyio.fail_after(10):
            await notified.wait()
        event = await the_event_of(client, customer_id)
    assert updates[0] == RECENT
    assert (event["entity"], event["operation"], event["source"]) == (
        "Customer",
        "Create",
        payload_format,
    )
