"""Helpers for the authenticated-HTTP tests: the real `serve --transport http` app under uvicorn
on a free loopback port, and MCP clients carrying a bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from qb_mcp.server_http import http_app, prepare_auth
from tests.server.conftest import TEST_LIMITS
from tests.webhooks.conftest import serving


@asynccontextmanager
async def serve_http(
    settings: Settings,
    *,
    emulator: Emulator | None = None,
    host: str = "127.0.0.1",
    clock: Callable[[], float] | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[str]:
    """`serve --transport http`'s app (auth decided as at start-up) on loopback; yields the base
    URL. `host` is what the server believes it listens on (the Host checks follow it).
    `transport`: serve the connected companies through it (else `emulator`'s demo company)."""
    if transport is not None:
        server = build_server(settings, transport=transport, limiter=RealmLimiter(TEST_LIMITS))
    else:
        server = build_server(
            settings, emulator=emulator or Emulator(), limiter=RealmLimiter(TEST_LIMITS)
        )
    auth = await prepare_auth(settings, host=host, no_auth=False, clock=clock)
    try:
        async with serving(http_app(server, settings, host=host, auth=auth)) as base:
            yield base
    finally:
        await auth.aclose()


def client(base: str, token: str | None, *, mode: str = "auto", **headers: str) -> Client:
    """An MCP client for `base`/mcp sending `Authorization: Bearer token`."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60))
    transport: Any = streamable_http_client(f"{base}/mcp", http_client=http)
    return Client(transport, mode=mode)  # type: ignore[arg-type]


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
