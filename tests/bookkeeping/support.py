"""Fixtures for the bookkeeping tests: the demo company in the emulator and a client on it.

Import the fixtures into a test module (`from tests.bookkeeping.support import ...`). The
emulator's clock is fixed at 2026-01-15 12:00 UTC, so `TODAY` is the company's date and the
demo data's relative dates (an overdue invoice, an expired estimate) are stable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import pytest

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import Database, open_database

START = 1_768_478_400.0  # 2026-01-15T12:00:00Z
TODAY = date(2026, 1, 15)


class FixedClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def emulator() -> Emulator:
    config = EmulatorConfig(
        requests_per_window=1_000_000, max_in_flight=50, batch_per_window=1_000_000
    )
    return Emulator(config, clock=FixedClock())


def build_client(
    emulator: Emulator,
    database: Database,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> QBOClient:
    """A client on the in-process emulator with its own roomy limiter and instant retries."""
    token = emulator.issue_tokens(DEMO_REALM_ID).access_token
    return QBOClient(
        realm_id=DEMO_REALM_ID,
        token_source=StaticTokenSource({DEMO_REALM_ID: token}),
        base_url="http://emulator",
        transport=transport or httpx2.ASGITransport(app=emulator.app),
        database=database,
        limiter=RealmLimiter(
            Limits(requests_per_window=1_000_000, max_in_flight=10, batch_per_window=1_000_000)
        ),
        retry=RetryPolicy(jitter=lambda: 1.0, sleep=_no_sleep),
    )


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(tmp_path / "qb.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def qbo(emulator: Emulator, database: Database) -> AsyncIterator[QBOClient]:
    client = build_client(emulator, database)
    try:
        yield client
    finally:
        await client.aclose()


class BeforeFirstWrite(httpx2.AsyncBaseTransport):
    """Passes requests to the emulator; runs `hook` once, just before the first POST.

    A way to make someone else change QuickBooks between our read and our write (a race), with
    no sleeps and no mocks.
    """

    def __init__(self, emulator: Emulator, hook: Callable[[], None]) -> None:
        self._inner = httpx2.ASGITransport(app=emulator.app)
        self._hook: Callable[[], None] | None = hook

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and self._hook is not None:
            hook, self._hook = self._hook, None
            hook()
        return await self._inner.handle_async_request(request)


def state(emulator: Emulator) -> str:
    """The emulator's whole business state as text: equal before and after = nothing written."""
    return json.dumps(emulator.backend.snapshot(), sort_keys=True, default=str)


def objects(emulator: Emulator, entity: str) -> list[dict[str, Any]]:
    """Every stored object of `entity` in the demo company (read straight from the backend)."""
    answer = emulator.backend.query(DEMO_REALM_ID, f"select * from {entity} maxresults 1000")
    rows = answer.get("QueryResponse", {}).get(entity, [])
    inactive = []
    if entity in ("Customer", "Item"):
        more = emulator.backend.query(
            DEMO_REALM_ID, f"select * from {entity} where Active = false maxresults 1000"
        )
        inactive = more.get("QueryResponse", {}).get(entity, [])
    return [*rows, *inactive]


def named(emulator: Emulator, display_name: str) -> dict[str, Any]:
    """The demo customer with this DisplayName."""
    for customer in objects(emulator, "Customer"):
        if customer["DisplayName"] == display_name:
            return customer
    raise AssertionError(f"no customer {display_name!r}")
