"""Items resolved from the local index (issue 11): once the index is warm, create_estimate,
create_sales_receipt and upsert_item read no item from QuickBooks; the only read they may send
is the index's CDC request. Requests are counted at the transport."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.server.conftest import TEST_LIMITS, Session
from tests.server.test_server import connect_demo_company

pytestmark = pytest.mark.anyio


class Clock:
    """The server's clock: moved on to age the index past its few seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Recording(httpx2.AsyncBaseTransport):
    """The emulator in process; keeps what each API request asked for."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx2.ASGITransport(app=emulator.app)
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if "/v3/company/" in request.url.path:
            path = request.url.path.rsplit(f"/{DEMO_REALM_ID}/", 1)[-1]
            query = request.url.params.get("query", "")
            self.sent.append(f"{request.method} {path} {query}".strip())
        return await self._inner.handle_async_request(request)

    def item_reads(self, since: int) -> list[str]:
        return [
            s
            for s in self.sent[since:]
            if s.startswith("GET item/") or "from item" in s.lower() or "FROM Item" in s
        ]

    def cdc(self, since: int) -> int:
        return sum(s.startswith("GET cdc") for s in self.sent[since:])


@pytest.fixture
async def served(
    settings: Settings, emulator: Emulator, clock: Clock
) -> AsyncIterator[tuple[Session, Recording]]:
    connected = dataclasses.replace(
        settings, oauth_base_url="http://emulator", api_base_url="http://emulator"
    )
    transport = Recording(emulator)
    await connect_demo_company(
        connected, emulator, transport=httpx2.ASGITransport(app=emulator.app)
    )
    server = build_server(
        connected, transport=transport, limiter=RealmLimiter(TEST_LIMITS), clock=clock
    )
    async with Client(server) as client:
        session = Session(client, emulator)
        await session.call("find_items", {})  # the index fills (a full read, once)
        yield session, transport


async def customer_id(s: Session) -> str:
    return str(
        (await s.call("find_customer", {"name": "Amy's Bird Sanctuary"}))["matches"][0]["id"]
    )


async def item_id(s: Session, name: str) -> str:
    found = await s.call("find_items", {"name": name})
    return str(found["items"][0]["id"])


async def test_create_estimate_reads_no_item_once_the_index_is_warm(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    customer, design = await customer_id(s), await item_id(s, "Design")
    before = len(transport.sent)
    lines: list[dict[str, Any]] = [
        {"item_name": "hours", "quantity": "2"},  # any case, as QuickBooks compares names
        {"item_id": design, "quantity": "1.5", "unit_price": "80"},
    ]
    # As assistants send it: the list as JSON text, numbers as strings.
    made = await s.call("create_estimate", {"customer_id": customer, "lines": json.dumps(lines)})
    assert [line["amount"] for line in made["lines"]] == ["150.00", "120.00"]
    assert transport.item_reads(before) == []
    assert transport.cdc(before) <= 1


async def test_create_sales_receipt_reads_no_item_once_the_index_is_warm(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    customer = await customer_id(s)
    before = len(transport.sent)
    await s.call(
        "create_sales_receipt",
        {"customer_id": customer, "lines": [{"item_name": "Landscaping", "quantity": "3"}]},
    )
    assert transport.item_reads(before) == []
    assert transport.cdc(before) <= 1


async def test_upsert_item_finds_an_existing_item_in_the_index(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    before = len(transport.sent)
    result = await s.call("upsert_item", {"name": "Installation", "type": "service", "price": "50"})
    assert result["outcome"] == "unchanged"
    assert transport.item_reads(before) == []
    updated = await s.call(
        "upsert_item", {"name": "installation", "type": "service", "price": "55"}
    )
    assert (updated["outcome"], updated["changed"]) == ("updated", ["UnitPrice"])
    # The index notes our write: the next estimate prices from the new UnitPrice, unread.
    customer = await customer_id(s)
    before = len(transport.sent)
    made = await s.call(
        "create_estimate",
        {"customer_id": customer, "lines": [{"item_name": "Installation", "quantity": "1"}]},
    )
    assert made["lines"][0]["amount"] == "55.00"
    assert transport.item_reads(before) == []


async def test_an_item_the_index_does_not_know_is_asked_of_quickbooks(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    customer = await customer_id(s)
    state = s.state()
    before = len(transport.sent)
    message = await s.fail(
        "create_estimate",
        {"customer_id": customer, "lines": [{"item_name": "Hourz", "quantity": "1"}]},
    )
    assert "no active item named" in message and "Hourz" in message
    assert transport.item_reads(before)  # not refused on the index's word alone
    assert s.state() == state  # nothing written


async def test_a_new_item_is_looked_up_in_quickbooks_before_it_is_created(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    before = len(transport.sent)
    made = await s.call("upsert_item", {"name": "Pruning", "type": "service", "price": "40"})
    assert made["outcome"] == "created"
    assert transport.item_reads(before)  # a stale index must not make a second item
    again = await s.call("upsert_item", {"name": "Pruning", "type": "service", "price": "40"})
    assert (again["outcome"], again["item"]["id"]) == ("unchanged", made["item"]["id"])


async def test_find_customer_by_crm_id_looks_through_every_customer_in_the_index(
    served: tuple[Session, Recording],
) -> None:
    s, transport = served
    made = await s.call(
        "upsert_customers",
        {
            "contacts": json.dumps(
                [
                    {
                        "crm_id": "0031x00000AbC",
                        "display_name": "Rosa Diaz",
                        "email": "r@d.example",
                    },
                    {"crm_id": "0031x00000AbCD", "display_name": "Rosa Diaz Two"},
                ]
            )
        },
    )
    first = made["outcomes"][0]["customer_id"]
    before = len(transport.sent)
    found = await s.call("find_customer", {"crm_id": "0031x00000AbC"})
    assert [(m["id"], m["crm_id"], m["reasons"]) for m in found["matches"]] == [
        (first, "0031x00000AbC", ["CRM id matches"])
    ]  # exact: not the id that merely starts with it
    assert len(transport.sent) - before <= 1  # the index's CDC at most
    assert (await s.call("find_customer", {"crm_id": "nobody-has-this"}))["matches"] == []


async def test_a_crm_id_set_in_quickbooks_itself_is_found(
    served: tuple[Session, Recording], clock: Clock
) -> None:
    s, _ = served
    amy = (await s.call("find_customer", {"name": "Amy's Bird Sanctuary"}))["matches"][0]
    stored = s.emulator.backend.read(DEMO_REALM_ID, "Customer", amy["id"])["Customer"]
    s.emulator.backend.write(  # someone pastes the marker into Notes in QuickBooks
        DEMO_REALM_ID,
        "Customer",
        {"Id": amy["id"], "SyncToken": stored["SyncToken"], "sparse": True, "Notes": "[crm:A-1]"},
    )
    clock.offset += 10  # older than the index's age: the next lookup asks CDC first
    found = await s.call("find_customer", {"crm_id": "A-1"})
    assert [m["id"] for m in found["matches"]] == [amy["id"]]


async def test_a_malformed_crm_id_is_refused(served: tuple[Session, Recording]) -> None:
    s, _ = served
    message = await s.fail("find_customer", {"crm_id": "has space"})
    assert "crm_id" in message
