"""The server around the tools: read-only mode, resources, prompts, and which company it serves."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.errors import ConfigError
from qb_mcp.server import build_server, choose_connection
from qb_mcp.store import connections, open_database
from qb_mcp.store.connections import StoredTokens
from tests.server.conftest import connect, connect_demo_company, error_text
from tests.server.test_tools import CONTACT, TOOLS, WRITE_TOOLS

pytestmark = pytest.mark.anyio


async def test_read_only_serves_no_write_tool(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    read_only = dataclasses.replace(settings, read_only=True)
    async with connect(read_only, emulator, mode) as s:
        names = {tool.name for tool in (await s.client.list_tools()).tools}
        before = s.state()
        result = await s.client.call_tool("upsert_customer", CONTACT)
        assert s.state() == before
    assert names == TOOLS - WRITE_TOOLS
    assert result.is_error
    assert "upsert_customer" in error_text(result)


def test_read_only_from_the_environment_wins_over_an_absent_flag() -> None:
    settings = Settings.from_env({"QBO_READ_ONLY": "true"}).with_overrides(read_only=None)
    assert settings.read_only is True


async def test_read_only_from_the_command_line(tmp_path: Path) -> None:
    from qb_mcp.cli import build_parser

    args = build_parser().parse_args(["serve", "--read-only"])
    settings = Settings.from_env({"QBO_HOME": str(tmp_path)}).with_overrides(
        read_only=args.read_only
    )
    server = build_server(settings, emulator=Emulator())
    async with Client(server) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == TOOLS - WRITE_TOOLS


async def test_company_resource_names_the_company(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        company = await s.resource("qbo://company")
    assert company["realm_id"] == DEMO_REALM_ID
    assert company["source"] == "emulator"
    assert company["reachable"] is True


async def test_events_resource_lists_stored_events_of_the_company(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    import time
    from datetime import UTC, datetime

    from qb_mcp.store import events as stored_events
    from qb_mcp.webhooks.events import Event

    def change(realm_id: str, entity_id: str) -> Event:
        return Event(
            realm_id=realm_id,
            entity="Customer",
            entity_id=entity_id,
            operation="Update",
            occurred_at=datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
            source="legacy",
        )

    database = await open_database(settings.database_path)
    try:
        await stored_events.store_events(
            database, [change(DEMO_REALM_ID, "7"), change("123", "8")], now=time.time()
        )
    finally:
        await database.close()
    async with connect(settings, emulator, mode) as s:
        events = await s.resource("qbo://events/recent")
    assert [(e["entity"], e["entity_id"], e["operation"]) for e in events["events"]] == [
        ("Customer", "7", "Update")
    ]
    assert "note" not in events


async def test_events_resource_is_empty_with_a_note(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        events = await s.resource("qbo://events/recent")
        listed = {str(r.uri) for r in (await s.client.list_resources()).resources}
    assert events["events"] == []
    assert "webhook" in events["note"]
    assert listed == {"qbo://company", "qbo://audit/recent", "qbo://events/recent"}


async def test_prompts_have_descriptions_and_arguments(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        prompts = {p.name: p for p in (await s.client.list_prompts()).prompts}
        quote = await s.client.get_prompt(
            "quote_to_cash", {"customer": "Rosa Diaz", "work": "3 hours of design"}
        )
    assert set(prompts) == {"quote_to_cash", "collect_payment", "debug_integration"}
    for prompt in prompts.values():
        assert prompt.description and prompt.arguments
        assert any(argument.required for argument in prompt.arguments)
    text = quote.messages[0].content.text  # type: ignore[union-attr]
    assert "Rosa Diaz" in text and "3 hours of design" in text
    assert "$" not in text


async def test_serves_the_demo_company_when_none_is_connected_and_keeps_its_state(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qb_mcp.server")
    async with Client(build_server(settings)) as client:
        created = await client.call_tool("upsert_customer", CONTACT)
    assert "built-in emulator" in caplog.text
    assert (settings.home / "emulator-state.json").exists()
    # A new process (a new server) finds the customer made by the previous one.
    async with Client(build_server(settings)) as client:
        again = await client.call_tool("upsert_customer", CONTACT)
    assert created.structured_content["outcome"] == "created"  # type: ignore[index]
    assert again.structured_content["outcome"] == "unchanged"  # type: ignore[index]


def _tokens() -> StoredTokens:
    return StoredTokens(
        access_token="x",
        refresh_token="y",
        access_expires_at=0,
        access_issued_at=0,
        refresh_expires_at=0,
        hard_expires_at=None,
        key_id="k",
    )


async def _connected(settings: Settings, *realms: tuple[str, str]) -> None:
    database = await open_database(settings.database_path)
    try:
        for realm_id, environment in realms:
            await connections.save_login(
                database,
                realm_id=realm_id,
                environment=environment,
                tokens=_tokens(),
                now=0,
                company_name=f"Company {realm_id}",
            )
    finally:
        await database.close()


async def _choose(settings: Settings) -> str | None:
    database = await open_database(settings.database_path)
    try:
        row = await choose_connection(settings, database)
    finally:
        await database.close()
    return None if row is None else row.realm_id


async def test_the_only_connection_is_chosen(settings: Settings) -> None:
    assert await _choose(settings) is None
    await _connected(settings, ("111", "emulator"))
    assert await _choose(settings) == "111"


async def test_several_connections_have_no_default_but_qbo_realm_id(settings: Settings) -> None:
    # Each is served; tools name theirs with `company` (tests/server/test_companies.py).
    await _connected(settings, ("111", "emulator"), ("222", "emulator"))
    assert await _choose(settings) is None
    assert await _choose(dataclasses.replace(settings, realm_id="222")) == "222"


async def test_an_unknown_qbo_realm_id_is_refused(settings: Settings) -> None:
    await _connected(settings, ("111", "emulator"))
    with pytest.raises(ConfigError, match="333 is not a connected company"):
        await _choose(dataclasses.replace(settings, realm_id="333"))


async def test_a_connection_of_another_environment_is_refused(settings: Settings) -> None:
    await _connected(settings, ("111", "sandbox"))
    with pytest.raises(ConfigError, match="QBO_ENVIRONMENT=sandbox"):
        await _choose(settings)


async def test_audit_resource_is_empty_at_first(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        audit = await s.resource("qbo://audit/recent")
    assert audit == {"writes": []}
    assert json.dumps(audit)


async def test_a_connected_company_is_served_through_its_stored_tokens(
    settings: Settings, emulator: Emulator
) -> None:
    """The real-connection path: encrypted tokens in the store, the token manager, Intuit's
    paths (the emulator stands in for Intuit, reached in process)."""

    import httpx2

    from qb_mcp.qbo.limiter import RealmLimiter
    from tests.server.conftest import TEST_LIMITS

    connected = dataclasses.replace(
        settings, oauth_base_url="http://emulator", api_base_url="http://emulator"
    )
    transport = httpx2.ASGITransport(app=emulator.app)
    await connect_demo_company(
        connected,
        emulator,
        transport=transport,
        company_name="Craig's Design and Landscaping Services",
    )
    server = build_server(connected, transport=transport, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server) as client:
        status = await client.call_tool("connection_status", {})
        made = await client.call_tool("upsert_customer", CONTACT)
    assert not status.is_error, error_text(status)
    assert status.structured_content["source"] == "connection"  # type: ignore[index]
    assert status.structured_content["refresh_token_expires_at"]  # type: ignore[index]
    assert made.structured_content["outcome"] == "created"  # type: ignore[index]
    assert not (connected.home / "emulator-state.json").exists()
