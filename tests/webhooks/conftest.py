"""Fixtures for webhook tests: a fresh database, signed posts, and apps served on loopback.

`serving(app)` runs an ASGI app under uvicorn inside the test's own event loop, on a socket that
is listening before the server task starts (clients connect at once, no waiting for start-up).
Running in the test's loop lets the app share the test's `Database` without crossing loops.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from starlette.types import ASGIApp

from qb_mcp.store import Database, open_database
from qb_mcp.webhooks.signature import sign

TOKEN = "verifier-token-for-webhook-tests"
REALM = "9130355377388"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await open_database(tmp_path / "home" / "qb-mcp.sqlite3")
    try:
        yield db
    finally:
        await db.close()


def listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, port: int = 0) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (a free port unless given); yields the base URL.

    Leaving the block stops the server and closes its socket, as a stopped process would.
    """
    sock = listening_socket(port)
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="critical", lifespan="on", access_log=False, timeout_graceful_shutdown=1
        )
    )
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


async def post_signed(
    http: httpx2.AsyncClient,
    url: str,
    body: bytes,
    *,
    token: str = TOKEN,
    content_type: str = "application/json",
) -> httpx2.Response:
    return await http.post(
        url,
        content=body,
        headers={"Content-Type": content_type, "intuit-signature": sign(body, token)},
    )


# ---- the emulator as QuickBooks -------------------------------------------------------------


def make_emulator(clock: Any, **config: Any) -> Any:
    """An emulator on `clock` with limits no test here is about."""
    from qb_mcp.emulator import Emulator, EmulatorConfig

    settings: dict[str, Any] = {
        "requests_per_window": 1_000_000,
        "max_in_flight": 50,
        "batch_per_window": 1_000_000,
        "access_token_ttl": 1e9,  # the fake clock jumps hours; token expiry is not tested here
    }
    settings.update(config)
    return Emulator(EmulatorConfig(**settings), clock=clock)


def client_on(emulator: Any, clock: Any, *, base_url: str | None = None) -> Any:
    """A QBO client for the demo company: in process, or over HTTP when `base_url` is given."""
    from qb_mcp.emulator import DEMO_REALM_ID
    from qb_mcp.qbo.client import QBOClient
    from qb_mcp.qbo.limiter import RealmLimiter
    from qb_mcp.qbo.retry import RetryPolicy
    from qb_mcp.qbo.token_source import StaticTokenSource
    from tests.qbo.pipeline_support import ROOMY, Sleeps

    token = emulator.issue_tokens(DEMO_REALM_ID).access_token
    return QBOClient(
        realm_id=DEMO_REALM_ID,
        token_source=StaticTokenSource({DEMO_REALM_ID: token}),
        base_url=base_url or "http://emulator",
        transport=None if base_url else httpx2.ASGITransport(app=emulator.app),
        retry=RetryPolicy(jitter=lambda: 1.0, sleep=Sleeps()),
        limiter=RealmLimiter(ROOMY),
        clock=clock,
    )
