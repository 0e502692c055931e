"""Replicas on one PostgreSQL database (issue 13): one refresh per realm at a time, one request
budget per realm, and webhook events stored by one replica announced by every replica.

Each "replica" here is its own pool of connections to the database, sharing nothing in the
process (no asyncio lock, no in-memory state): only PostgreSQL keeps them apart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import httpx2
import pytest

from qb_mcp.auth.crypto import KeyRing
from qb_mcp.auth.intuit import IntuitOAuth, TokenGrant
from qb_mcp.auth.manager import TokenManager
from qb_mcp.config import OAuthEndpoints
from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.server_events import EventFollower
from qb_mcp.store import connections, events
from qb_mcp.store.events import StoredEvent
from qb_mcp.store.limits import SharedSlots
from qb_mcp.store.postgres import PostgresDatabase, open_postgres
from qb_mcp.webhooks.events import Event
from tests.auth.conftest import FakeClock
from tests.qbo.test_limiter import most_in_flight, run_load, worst_window
from tests.qbo.virtual_time import VirtualTime

pytestmark = pytest.mark.anyio

REALM = DEMO_REALM_ID


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[PostgresDatabase]]:
    opened = [await open_postgres(postgres_url, pool_size=3) for _ in range(2)]
    try:
        yield opened
    finally:
        for database in opened:
            await database.close()


async def test_replicas_refresh_a_realm_once_and_keep_the_rotated_token(
    replicas: list[PostgresDatabase],
) -> None:
    clock = FakeClock()
    # Refresh tokens rotate on every refresh: a second refresh with the old one would be an
    # invalid_grant, so a double refresh shows as a failure, not only as a count.
    emulator = Emulator(EmulatorConfig(rotate_refresh_after=0), clock=clock)
    transport = httpx2.ASGITransport(app=emulator.app)
    keyring = KeyRing([os.urandom(32)])
    oauths = [
        IntuitOAuth(
            endpoints=OAuthEndpoints.at("http://emulator"),
            client_id="test-client",
            client_secret="test-secret",
            transport=transport,
        )
        for _ in replicas
    ]
    managers = [
        TokenManager(database=db, keyring=keyring, oauth=oauth, environment="emulator", clock=clock)
        for db, oauth in zip(replicas, oauths, strict=True)
    ]
    try:
        pair = emulator.oauth.issue_tokens(REALM)
        grant = TokenGrant(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            refresh_expires_in=pair.x_refresh_token_expires_in,
        )
        await managers[0].save_login(REALM, grant, received_at=clock())
        for round_ in range(3):
            clock.advance(3600)
            tokens = await asyncio.gather(*(managers[i % 2].access_token(REALM) for i in range(20)))
            assert len(set(tokens)) == 1
            assert emulator.oauth.refresh_count == round_ + 1
        row = await connections.get(replicas[1], REALM)
        assert row is not None and not row.needs_reauth
    finally:
        for oauth in oauths:
            await oauth.aclose()


SMALL = Limits(
    requests_per_window=20,
    window_seconds=10.0,
    max_in_flight=5,
    batch_per_window=3,
    batch_window_seconds=10.0,
)


async def test_replicas_stay_under_one_budget_together(replicas: list[PostgresDatabase]) -> None:
    time_ = VirtualTime()
    limiters = [
        RealmLimiter(
            SMALL,
            clock=time_.clock,
            sleep=time_.sleep,
            book=SharedSlots(database),
            realm_id=REALM,
            poll_interval=0.05,
        )
        for database in replicas
    ]
    records = await asyncio.gather(
        *(run_load(limiter, time_, tasks=20, each=3) for limiter in limiters)
    )
    together = records[0] + records[1]
    assert len(together) == 120
    assert worst_window(together, SMALL.window_seconds) <= SMALL.requests_per_window
    assert most_in_flight(together) <= SMALL.max_in_flight
    batches = [entry for entry in together if entry[2]]
    assert worst_window(batches, SMALL.batch_window_seconds) <= SMALL.batch_per_window


class Heard:
    """A publisher that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self.arrived = anyio.Event()

    async def events_stored(self, stored: list[StoredEvent]) -> None:
        self.events.extend(stored)
        self.arrived.set()


async def test_an_event_stored_by_one_replica_is_announced_by_the_other_at_once(
    replicas: list[PostgresDatabase],
) -> None:
    heard = Heard()
    # A poll interval far longer than the test: only the notification can wake the follower.
    follower = EventFollower(replicas[1], heard, interval=600.0)  # type: ignore[arg-type]
    await follower.start()
    change = Event(REALM, "Invoice", "42", "Create", datetime(2026, 1, 2, tzinfo=UTC), "legacy")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follower.run)
        await anyio.sleep(0.3)  # LISTEN in place
        await events.store_events(replicas[0], [change], now=1.0)
        with anyio.fail_after(5):
            await heard.arrived.wait()
        tasks.cancel_scope.cancel()
    assert [e.entity_id for e in heard.events] == ["42"]
