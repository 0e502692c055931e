"""The local index of customers and items: complete lookups in at most one request (issue 11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from qb_mcp.bookkeeping.customers import FindCustomerInput, find_customer
from qb_mcp.bookkeeping.directory import Directory
from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import Database
from tests.bookkeeping.support import FixedClock, database  # noqa: F401

pytestmark = pytest.mark.anyio

SEARCHES: list[dict[str, Any]] = [
    {"name": "obrien"},
    {"name": "cafe zoe"},
    {"name": "amy"},
    {"name": "bird sanct"},
    {"email": "Surf@Intuit.com"},
    {"email": "@intuit.com"},
    {"phone": "+1 650-555-3311"},
    {"phone": "555-3311"},
    {"company_name": "cool"},
    {"name": "nobody at all"},
    {"name": "jeff", "include_inactive": False},
]


class Counting(httpx2.AsyncBaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx2.ASGITransport(app=emulator.app)
        self.requests = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        return await self._inner.handle_async_request(request)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def world(clock: FixedClock) -> Emulator:
    config = EmulatorConfig(
        requests_per_window=1_000_000,
        max_in_flight=50,
        batch_per_window=1_000_000,
        access_token_ttl=100 * 86_400,  # the clock moves past CDC's 30 days
    )
    return Emulator(config, clock=clock)


@pytest.fixture
def transport(world: Emulator) -> Counting:
    return Counting(world)


@pytest.fixture
async def client(
    world: Emulator,
    transport: Counting,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> AsyncIterator[QBOClient]:
    async def no_sleep(_seconds: float) -> None:
        return None

    token = world.issue_tokens(DEMO_REALM_ID).access_token
    made = QBOClient(
        realm_id=DEMO_REALM_ID,
        token_source=StaticTokenSource({DEMO_REALM_ID: token}),
        base_url="http://emulator",
        transport=transport,
        database=database,
        limiter=RealmLimiter(Limits(requests_per_window=10**6, batch_per_window=10**6)),
        retry=RetryPolicy(jitter=lambda: 1.0, sleep=no_sleep),
        clock=clock,
    )
    try:
        yield made
    finally:
        await made.aclose()


async def test_lookups_rank_as_the_queries_did(
    client: QBOClient,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> None:
    directory = Directory(client, database, clock=clock)
    for search in SEARCHES:
        params = FindCustomerInput(**search)
        indexed = await find_customer(client, params, directory=directory)
        queried = await find_customer(client, params)
        assert [(m.id, m.score, m.reasons) for m in indexed.matches] == [
            (m.id, m.score, m.reasons) for m in queried.matches
        ], search


async def test_a_warm_lookup_costs_at_most_one_request(
    client: QBOClient,
    transport: Counting,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> None:
    directory = Directory(client, database, clock=clock)
    await find_customer(client, FindCustomerInput(name="amy"), directory=directory)
    for search in SEARCHES:
        before = transport.requests
        await find_customer(client, FindCustomerInput(**search), directory=directory)
        assert transport.requests - before == 0  # younger than max_age: no request
        clock.now += 10
        before = transport.requests
        await find_customer(client, FindCustomerInput(**search), directory=directory)
        assert transport.requests - before == 1  # one CDC request
    assert directory.freshness().customers > 0


async def test_a_change_made_in_quickbooks_shows_in_the_next_lookup(
    client: QBOClient,
    world: Emulator,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> None:
    directory = Directory(client, database, clock=clock)
    first = await find_customer(client, FindCustomerInput(name="amy"), directory=directory)
    amy = first.matches[0]
    stored = world.backend.read(DEMO_REALM_ID, "Customer", amy.id)["Customer"]
    clock.now += 1
    world.backend.write(
        DEMO_REALM_ID,
        "Customer",
        {
            "Id": amy.id,
            "SyncToken": stored["SyncToken"],
            "sparse": True,
            "PrimaryPhone": {"FreeFormNumber": "(415) 867-5309"},
        },
    )
    world.backend.write(DEMO_REALM_ID, "Customer", {"DisplayName": "Zebra Crossings Ltd"})
    directory.mark_stale()  # a webhook said so (else: once max_age has passed)
    by_phone = await find_customer(
        client, FindCustomerInput(phone="415 867 5309"), directory=directory
    )
    assert [m.id for m in by_phone.matches] == [amy.id]
    new = await find_customer(client, FindCustomerInput(name="zebra"), directory=directory)
    assert [m.display_name for m in new.matches] == ["Zebra Crossings Ltd"]


async def test_the_index_survives_a_restart_and_catches_up_by_cdc(
    client: QBOClient,
    transport: Counting,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> None:
    await Directory(client, database, clock=clock).fresh()
    clock.now += 60
    again = Directory(client, database, clock=clock)
    before = transport.requests
    found = await find_customer(client, FindCustomerInput(name="cafe zoe"), directory=again)
    assert transport.requests - before == 1
    assert found.matches[0].display_name == "Café Zoë"
    clock.now += 31 * 86_400  # past CDC's window: read in full again
    before = transport.requests
    await again.fresh()
    assert transport.requests - before > 1


@pytest.mark.parametrize(
    "search",
    [{}, {"name": "de"}, {"name": "GARDEN"}, {"type": "Service"}, {"include_inactive": True}],
)
async def test_find_items_from_the_index_equals_the_queries(
    client: QBOClient,
    database: Database,  # noqa: F811
    clock: FixedClock,
    search: dict[str, Any],
) -> None:
    from qb_mcp.bookkeeping.reads import FindItemsInput, find_items

    directory = Directory(client, database, clock=clock)
    params = FindItemsInput(**search)
    indexed = await find_items(client, params, directory=directory)
    queried = await find_items(client, params)
    assert indexed == queried


async def test_a_sync_matched_from_the_index_and_noted_in_it(
    client: QBOClient,
    transport: Counting,
    database: Database,  # noqa: F811
    clock: FixedClock,
) -> None:
    from qb_mcp.bookkeeping.customers import UpsertCustomersInput, upsert_customers

    directory = Directory(client, database, clock=clock)
    await directory.fresh()
    contacts = [
        {"display_name": "Indexed New Co", "email": "new@indexed.example"},
        {"display_name": "Someone", "email": "Surf@Intuit.com"},
        {"display_name": "Amy's Bird Sanctuary", "phone": "(650) 555-3311"},
    ]
    params = UpsertCustomersInput.model_validate({"contacts": contacts})
    clock.now += 10
    before = transport.requests
    result = await upsert_customers(client, params, directory=directory)
    assert [o.outcome for o in result.outcomes] == ["created", "updated", "unchanged"]
    # one CDC request, one batch; no page of customers read
    assert transport.requests - before == 2
    found = await find_customer(client, FindCustomerInput(name="indexed new"), directory=directory)
    assert [m.display_name for m in found.matches] == ["Indexed New Co"]
