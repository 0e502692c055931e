"""Fixtures for the auth tests: a fake clock, the emulator's OAuth server in process, a store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from qb_mcp.auth.crypto import KeyRing
from qb_mcp.auth.intuit import IntuitOAuth, TokenGrant
from qb_mcp.auth.manager import TokenManager
from qb_mcp.config import OAuthEndpoints
from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.emulator.oauth import OAuthServer
from qb_mcp.store import Database, open_database

REALM = DEMO_REALM_ID
START = 1_800_000_000.0


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    clock: FakeClock
    emulator: Emulator
    server: OAuthServer
    transport: httpx2.AsyncBaseTransport
    database: Database
    keyring: KeyRing
    oauth: IntuitOAuth
    manager: TokenManager

    async def connect(self, realm_id: str = REALM) -> TokenGrant:
        """Issue tokens at the emulator and store them as a login would."""
        pair = self.server.issue_tokens(realm_id)
        grant = TokenGrant(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            refresh_expires_in=pair.x_refresh_token_expires_in,
        )
        await self.manager.save_login(realm_id, grant, received_at=self.clock())
        return grant


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    """The Intuit of the tests; refresh tokens rotate on every refresh, the strictest case."""
    return Emulator(EmulatorConfig(rotate_refresh_after=0), clock=clock)


@pytest.fixture
async def harness(tmp_path: Path, clock: FakeClock, emulator: Emulator) -> AsyncIterator[Harness]:
    transport = httpx2.ASGITransport(app=emulator.app)
    database = await open_database(tmp_path / "home" / "qb-mcp.sqlite3")
    keyring = KeyRing([os.urandom(32)])
    oauth = IntuitOAuth(
        endpoints=OAuthEndpoints.at("http://emulator"),
        client_id="test-client",
        client_secret="test-secret",
        transport=transport,
    )
    manager = TokenManager(
        database=database, keyring=keyring, oauth=oauth, environment="emulator", clock=clock
    )
    try:
        yield Harness(clock, emulator, emulator.oauth, transport, database, keyring, oauth, manager)
    finally:
        await oauth.aclose()
        await database.close()
