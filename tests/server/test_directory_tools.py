"""The local index through the MCP tools: a change made in QuickBooks shows in the next lookup,
and connection_status says how fresh the index is (issue 11)."""

from __future__ import annotations

import time

import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.server.conftest import TEST_LIMITS, Session

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_change_in_quickbooks_shows_once_the_index_is_older_than_its_age(
    settings: Settings, mode: str
) -> None:
    clock = Clock()
    emulator = Emulator(clock=clock)
    server = build_server(
        settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS), clock=clock
    )
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        s = Session(client, emulator)
        before = await s.call("find_customer", {"name": "Amy"})
        amy = before["matches"][0]
        status = await s.call("connection_status")
        assert status["index_customers"] > 0 and status["index_synced_at"]
        stored = emulator.backend.read(DEMO_REALM_ID, "Customer", amy["id"])["Customer"]
        clock.now += 1
        emulator.backend.write(  # someone edits the customer in QuickBooks itself
            DEMO_REALM_ID,
            "Customer",
            {
                "Id": amy["id"],
                "SyncToken": stored["SyncToken"],
                "sparse": True,
                "DisplayName": "Amy's Bird Sanctuary and Aviary",
            },
        )
        clock.now += 10
        after = await s.call("find_customer", {"name": "aviary"})
        assert [m["id"] for m in after["matches"]] == [amy["id"]]
        status = await s.call("connection_status")
        assert status["index_age_seconds"] < 1
