"""Issue 13, several companies in one server: `list_companies`, the `company` argument every
QuickBooks tool takes, per-company resources, and companies connected while the server runs.

Two companies of one emulator are connected as `qb-mcp auth login` would connect them (tokens in
the store, the real token manager and client per company); the emulator is reached in process.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.emulator.seed import DEMO_COMPANY_NAME
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.server.conftest import (
    TEST_LIMITS,
    Session,
    connect_demo_company,
    effective_hints,
    error_text,
)
from tests.server.test_tools import CONTACT

pytestmark = pytest.mark.anyio

SECOND = "9341453050298463"
SECOND_NAME = "Second Street Bakery"


@pytest.fixture
def two(emulator: Emulator) -> Emulator:
    """The emulator with a second company beside the demo one."""
    emulator.backend.add_company(SECOND, seed="empty", company_name=SECOND_NAME)
    return emulator


def wired(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(
        settings, oauth_base_url="http://emulator", api_base_url="http://emulator", **changes
    )


async def connect_both(settings: Settings, emulator: Emulator) -> httpx2.ASGITransport:
    transport = httpx2.ASGITransport(app=emulator.app)
    await connect_demo_company(
        settings, emulator, transport=transport, company_name=DEMO_COMPANY_NAME
    )
    await connect_demo_company(
        settings, emulator, transport=transport, company_name=SECOND_NAME, realm_id=SECOND
    )
    return transport


@asynccontextmanager
async def serving(
    settings: Settings, emulator: Emulator, transport: Any, mode: str = "auto"
) -> AsyncIterator[Session]:
    server = build_server(settings, transport=transport, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        yield Session(client, emulator)


def customers(emulator: Emulator, realm_id: str) -> set[str]:
    found = emulator.backend.query(realm_id, "select * from Customer")
    return {row["DisplayName"] for row in found["QueryResponse"].get("Customer", [])}


async def test_list_companies_shows_each_connected_company(
    settings: Settings, two: Emulator, mode: str
) -> None:
    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport, mode) as s:
        listed = await s.call("list_companies")
    assert [(c["realm_id"], c["company_name"], c["health"]) for c in listed["companies"]] == [
        (DEMO_REALM_ID, DEMO_COMPANY_NAME, "OK"),
        (SECOND, SECOND_NAME, "OK"),
    ]
    assert not any(c["default"] for c in listed["companies"])
    assert {c["environment"] for c in listed["companies"]} == {"emulator"}
    assert "company argument" in listed["note"]


async def test_without_a_default_a_call_lists_the_choices_and_writes_nothing(
    settings: Settings, two: Emulator, mode: str
) -> None:
    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport, mode) as s:
        before = s.state()
        text = await s.fail("upsert_customer", CONTACT)
        after = s.state()
    assert "several companies are connected" in text
    assert DEMO_REALM_ID in text and SECOND in text and "Second Street Bakery" in text
    assert before == after


@pytest.mark.parametrize("company", [SECOND, "second street bakery", int(SECOND)])
async def test_the_company_argument_chooses_the_books_written(
    settings: Settings, two: Emulator, company: Any
) -> None:
    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport) as s:
        made = await s.call("upsert_customer", {**CONTACT, "company": company})
        found = await s.call("find_customer", {"name": "Rosa", "company": company})
        elsewhere = await s.call("find_customer", {"name": "Rosa", "company": DEMO_REALM_ID})
        status = await s.call("connection_status", {"company": company})
        second_writes = await s.resource(f"qbo://companies/{SECOND}/audit/recent")
        demo_writes = await s.resource(f"qbo://companies/{DEMO_REALM_ID}/audit/recent")
    assert made["outcome"] == "created"
    assert "Rosa Diaz" in customers(two, SECOND)
    assert "Rosa Diaz" not in customers(two, DEMO_REALM_ID)
    assert [m["display_name"] for m in found["matches"]] == ["Rosa Diaz"]
    assert elsewhere["matches"] == []
    assert (status["realm_id"], status["company_name"]) == (SECOND, SECOND_NAME)
    assert [(w["realm_id"], w["tool"]) for w in second_writes["writes"]] == [
        (SECOND, "upsert_customer")
    ]
    assert demo_writes["writes"] == []


@pytest.mark.parametrize(
    ("company", "said"),
    [
        ("Nobody's Books", "is not a connected company"),
        ("123", "is not a connected company"),
        ("[1, 2]", "is not a connected company"),
    ],
)
async def test_an_unknown_company_is_refused_with_the_choices(
    settings: Settings, two: Emulator, company: str, said: str
) -> None:
    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport) as s:
        before = s.state()
        text = await s.fail("upsert_customer", {**CONTACT, "company": company})
        after = s.state()
    assert said in text and SECOND in text and DEMO_REALM_ID in text
    assert before == after


async def test_two_companies_of_one_name_need_the_realm_id(
    settings: Settings, two: Emulator
) -> None:
    settings = wired(settings)
    transport = httpx2.ASGITransport(app=two.app)
    await connect_demo_company(settings, two, transport=transport, company_name=SECOND_NAME)
    await connect_demo_company(
        settings, two, transport=transport, company_name=SECOND_NAME, realm_id=SECOND
    )
    async with serving(settings, two, transport) as s:
        text = await s.fail("find_customer", {"name": "Amy", "company": SECOND_NAME.upper()})
        by_id = await s.call("find_customer", {"name": "Amy", "company": DEMO_REALM_ID})
    assert "several companies are named" in text and "give the realm id" in text
    assert by_id["matches"]


async def test_qbo_realm_id_is_the_default(settings: Settings, two: Emulator) -> None:
    settings = wired(settings, realm_id=SECOND)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport) as s:
        listed = await s.call("list_companies")
        await s.call("upsert_customer", CONTACT)
        company = await s.resource("qbo://company")
        writes = await s.resource("qbo://audit/recent")
    assert [c["realm_id"] for c in listed["companies"] if c["default"]] == [SECOND]
    assert listed["note"] is None
    assert "Rosa Diaz" in customers(two, SECOND)
    assert company["realm_id"] == SECOND
    assert [w["realm_id"] for w in writes["writes"]] == [SECOND]


async def test_short_resource_uris_without_a_default_list_the_choices(
    settings: Settings, two: Emulator
) -> None:
    from mcp import MCPError

    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport) as s:
        with pytest.raises(MCPError, match="several companies are connected"):
            await s.client.read_resource("qbo://events/recent")
        by_name = await s.resource("qbo://companies/Second%20Street%20Bakery/company")
    assert by_name["realm_id"] == SECOND


async def test_a_company_connected_while_serving_is_reachable_at_once(
    settings: Settings, two: Emulator, tmp_path: Path
) -> None:
    settings = wired(settings)
    transport = httpx2.ASGITransport(app=two.app)
    await connect_demo_company(settings, two, transport=transport, company_name=DEMO_COMPANY_NAME)
    async with serving(settings, two, transport) as s:
        first = await s.call("list_companies")
        # Another process (`qb-mcp auth login`, a hosted login on another replica) connects one.
        await connect_demo_company(
            settings, two, transport=transport, company_name=SECOND_NAME, realm_id=SECOND
        )
        made = await s.call("upsert_customer", {**CONTACT, "company": SECOND_NAME})
        second = await s.call("list_companies")
    assert [c["realm_id"] for c in first["companies"]] == [DEMO_REALM_ID]
    assert first["companies"][0]["default"] is True
    assert made["outcome"] == "created" and "Rosa Diaz" in customers(two, SECOND)
    assert [c["realm_id"] for c in second["companies"]] == [DEMO_REALM_ID, SECOND]
    assert not any(c["default"] for c in second["companies"])


async def test_the_demo_company_is_listed_when_nothing_is_connected(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool("list_companies", {})
        by_id = await client.call_tool("find_customer", {"name": "Amy", "company": DEMO_REALM_ID})
    assert not result.is_error, error_text(result)
    listed = result.structured_content
    assert listed is not None
    assert [(c["realm_id"], c["source"], c["default"]) for c in listed["companies"]] == [
        (DEMO_REALM_ID, "emulator", True)
    ]
    assert not by_id.is_error, error_text(by_id)


async def test_every_quickbooks_tool_takes_company_and_only_those(
    settings: Settings, emulator: Emulator
) -> None:
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server) as client:  # type: ignore[arg-type]
        tools = (await client.list_tools()).tools
    takes_tools = [t for t in tools if "company" in t.input_schema.get("properties", {})]
    takes = {t.name for t in takes_tools}
    touches = {t.name for t in tools if effective_hints(t.annotations)["openWorldHint"]}
    assert takes == touches
    assert "find_customer" in takes and "explain_fault" not in takes
    assert "list_companies" not in takes
    # The same few words on each (the tools/list budget); list_companies says the rest.
    assert len({json.dumps(t.input_schema["properties"]["company"]) for t in takes_tools}) == 1
    [listing] = [t for t in tools if t.name == "list_companies"]
    assert "`company` (realm id or name)" in (listing.description or "")


# ---- over HTTP, with bearer tokens limited to some companies ---------------------------------------


async def test_a_token_limited_to_one_company_sees_and_reaches_only_it(
    settings: Settings, two: Emulator, mode: str
) -> None:
    from mcp import MCPError

    from qb_mcp.store import audit, open_database
    from tests.server.http_auth_support import client, serve_http
    from tests.server.test_http_auth import add_token

    settings = wired(settings)
    transport = await connect_both(settings, two)
    limited = await add_token(settings.home, "bakery-bot", "write", (SECOND,))
    everyone = await add_token(settings.home, "accountant", "read")
    async with serve_http(settings, transport=transport) as base:
        async with client(base, limited, mode=mode) as mcp:
            listed = await mcp.call_tool("list_companies", {})
            made = await mcp.call_tool("upsert_customer", CONTACT)  # its only company
            before = json.dumps(two.backend.snapshot(), sort_keys=True, default=str)
            refused = await mcp.call_tool("upsert_customer", {**CONTACT, "company": DEMO_REALM_ID})
            by_name = await mcp.call_tool(
                "find_customer", {"name": "Amy", "company": DEMO_COMPANY_NAME}
            )
            after = json.dumps(two.backend.snapshot(), sort_keys=True, default=str)
            with pytest.raises(MCPError, match="not a connected company this token may use"):
                await mcp.read_resource(f"qbo://companies/{DEMO_REALM_ID}/company")
            own = await mcp.read_resource("qbo://company")
        async with client(base, everyone, mode=mode) as mcp:
            all_listed = await mcp.call_tool("list_companies", {})
    assert not listed.is_error, error_text(listed)
    assert listed.structured_content is not None
    shown = listed.structured_content["companies"]
    assert [(c["realm_id"], c["default"]) for c in shown] == [(SECOND, True)]
    assert not made.is_error, error_text(made)
    assert "Rosa Diaz" in customers(two, SECOND)
    for answer in (refused, by_name):
        assert answer.is_error
        assert "is not a connected company this token may use" in error_text(answer)
        offered = error_text(answer).split("choose one of:")[1].split(".")[0]
        assert offered.strip() == f'{SECOND} ("{SECOND_NAME}")'  # the other one is not shown
    assert before == after
    assert SECOND in own.contents[0].text  # type: ignore[union-attr]
    assert all_listed.structured_content is not None
    assert len(all_listed.structured_content["companies"]) == 2
    database = await open_database(settings.database_path)
    try:
        assert [e.realm_id for e in await audit.recent(database)] == [SECOND]
    finally:
        await database.close()


async def test_a_listener_of_one_companys_events_hears_of_them(
    settings: Settings, emulator: Emulator
) -> None:
    import anyio

    from tests.server.conftest import connect
    from tests.server.test_events import change, store_events

    uri = f"qbo://companies/{DEMO_REALM_ID}/events/recent"
    async with connect(settings, emulator, "auto") as s:
        async with s.client.listen(resource_subscriptions=[uri]) as subscription:
            [event_id] = await store_events(settings, [change("7")])
            with anyio.fail_after(5):
                update = await anext(subscription)
        events = (await s.resource(uri))["events"]
    assert update.uri == uri  # type: ignore[union-attr]
    assert [e["event_id"] for e in events] == [event_id]


@pytest.mark.parametrize("company", ["x" * 201, True, ["1"], {"realm": "1"}])
async def test_a_malformed_company_argument_is_refused(
    settings: Settings, emulator: Emulator, company: Any
) -> None:
    from tests.server.conftest import connect

    async with connect(settings, emulator) as s:
        before = s.state()
        text = await s.fail("upsert_customer", {**CONTACT, "company": company})
        after = s.state()
    assert "company:" in text and before == after


async def test_a_write_confirmation_names_the_company_when_there_are_several(
    settings: Settings, two: Emulator, mode: str
) -> None:
    from tests.server.test_confirm import User

    settings = wired(settings, confirm_writes=True)
    transport = await connect_both(settings, two)
    user = User("accept")
    server = build_server(settings, transport=transport, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server, mode=mode, elicitation_callback=user) as client:  # type: ignore[arg-type]
        made = await client.call_tool("upsert_customer", {**CONTACT, "company": SECOND})
    assert not made.is_error, error_text(made)
    [message] = user.asked
    assert f'company "{SECOND_NAME}" (realm {SECOND})' in message.splitlines()[0]


async def test_the_company_of_a_resource_uri_is_completed(
    settings: Settings, two: Emulator
) -> None:
    from mcp.types import ResourceTemplateReference

    settings = wired(settings)
    transport = await connect_both(settings, two)
    async with serving(settings, two, transport) as s:
        done = await s.client.complete(
            ResourceTemplateReference(
                type="ref/resource", uri="qbo://companies/{company}/events/recent"
            ),
            {"name": "company", "value": "93414530502984"},
        )
    assert done.completion.values == [SECOND]


async def test_a_misspelt_argument_is_told_company_is_one(
    settings: Settings, emulator: Emulator
) -> None:
    from tests.server.conftest import connect

    async with connect(settings, emulator) as s:
        text = await s.fail("find_customer", {"name": "Amy", "compny": DEMO_REALM_ID})
    assert "compny: not an argument" in text and text.count("company") >= 1
    assert "valid arguments:" in text and ", company)" in text


async def test_python_books_open_one_of_several_companies(
    settings: Settings, two: Emulator
) -> None:
    from qb_mcp import ConfigError, open_books

    settings = wired(settings)
    transport = await connect_both(settings, two)
    wiring: dict[str, Any] = {"transport": transport, "limiter": RealmLimiter(TEST_LIMITS)}
    async with open_books(settings, company=SECOND, **wiring) as books:
        listed = await books.list_companies()
        await books.upsert_customer(CONTACT)
    assert [(c.realm_id, c.default) for c in listed.companies] == [
        (DEMO_REALM_ID, False),
        (SECOND, True),
    ]
    assert "Rosa Diaz" in customers(two, SECOND)
    with pytest.raises(ConfigError, match="several companies"):
        async with open_books(settings, **wiring):
            pass


@pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")
async def test_a_limited_token_cannot_subscribe_to_another_companys_events(
    settings: Settings, two: Emulator
) -> None:
    from mcp import MCPError

    from tests.server.http_auth_support import client, serve_http
    from tests.server.test_http_auth import add_token

    settings = wired(settings)
    transport = await connect_both(settings, two)
    limited = await add_token(settings.home, "bakery-bot", "read", (SECOND,))
    other = f"qbo://companies/{DEMO_REALM_ID}/events/recent"
    own = f"qbo://companies/{SECOND}/events/recent"
    async with serve_http(settings, transport=transport) as base:
        async with client(base, limited, mode="legacy") as mcp:
            with pytest.raises(MCPError, match="not a connected company this token may use"):
                await mcp.subscribe_resource(other)
            await mcp.subscribe_resource(own)
            await mcp.subscribe_resource("qbo://events/recent")  # its default: its own
        async with client(base, limited, mode="auto") as mcp:
            with pytest.raises(MCPError, match="not a connected company this token may use"):
                async with mcp.listen(resource_subscriptions=[own, other]):
                    pass


async def test_the_same_write_to_one_company_twice_at_once_makes_one_object(
    settings: Settings, two: Emulator
) -> None:
    import anyio

    settings = wired(settings)
    transport = await connect_both(settings, two)
    outcomes: list[str] = []
    async with serving(settings, two, transport) as s:

        async def upsert(company: str) -> None:
            made = await s.call("upsert_customer", {**CONTACT, "company": company})
            outcomes.append(made["outcome"])

        async with anyio.create_task_group() as tasks:
            for company in (SECOND, SECOND_NAME, DEMO_REALM_ID, DEMO_REALM_ID):
                tasks.start_soon(upsert, company)
    assert sorted(outcomes) == ["created", "created", "unchanged", "unchanged"]
    for realm in (SECOND, DEMO_REALM_ID):
        found = two.backend.query(realm, "select * from Customer where DisplayName = 'Rosa Diaz'")
        assert len(found["QueryResponse"]["Customer"]) == 1
