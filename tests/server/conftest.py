"""Fixtures for the MCP server tests: a fresh server per test over the in-process emulator, and
an MCP client session in either protocol era."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.server import build_server

MODES = ("auto", "legacy")
# QuickBooks' 500 requests a minute, shared process-wide per realm, would make a long test run
# wait on the budget; each test server gets its own larger one.
TEST_LIMITS = Limits(requests_per_window=100_000, window_seconds=1.0)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: "auto" (modern, 2026-07-28) and "legacy" (initialize handshake)."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", environment="emulator")


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@dataclass
class Session:
    """A connected client and the emulator behind the server."""

    client: Client
    emulator: Emulator

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool that must succeed; its structured result."""
        result = await self.client.call_tool(tool, arguments or {})
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        return result.structured_content

    async def fail(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a tool that must fail; the error text the model reads."""
        result = await self.client.call_tool(tool, arguments or {})
        assert result.is_error, result.structured_content
        return error_text(result)

    async def resource(self, uri: str) -> Any:
        read = await self.client.read_resource(uri)
        return json.loads(read.contents[0].text)  # type: ignore[union-attr]

    def state(self) -> str:
        """The emulator's business state as text (to check a call changed nothing)."""
        return json.dumps(self.emulator.backend.snapshot(), sort_keys=True, default=str)


def error_text(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@asynccontextmanager
async def connect(
    settings: Settings, emulator: Emulator, mode: str = "auto"
) -> AsyncIterator[Session]:
    """A fresh server on `emulator`, and a client session to it."""
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        yield Session(client, emulator)


async def connect_demo_company(
    settings: Settings,
    emulator: Emulator,
    *,
    transport: Any = None,
    company_name: str | None = None,
    realm_id: str = DEMO_REALM_ID,
) -> None:
    """Store a connection to one of the emulator's companies (default: the demo company) as
    `qb-mcp auth login` would: tokens the emulator issued, saved encrypted through the real
    token manager (`transport`: the emulator in process; None: over the network, at
    `settings`' OAuth URL)."""
    from qb_mcp.auth.intuit import TokenGrant
    from qb_mcp.auth.wiring import open_auth

    issued = emulator.issue_tokens(realm_id)
    async with open_auth(settings, transport=transport) as auth:
        await auth.manager.save_login(
            realm_id,
            TokenGrant(
                access_token=issued.access_token,
                refresh_token=issued.refresh_token,
                expires_in=issued.expires_in,
                refresh_expires_in=issued.x_refresh_token_expires_in,
            ),
            received_at=time.time(),
            company_name=company_name,
        )


# MCP's defaults for the hints a tool leaves out (qb_mcp/tools/base.py, ToolSpec.annotations).
HINT_DEFAULTS = {
    "readOnlyHint": False,
    "destructiveHint": True,
    "idempotentHint": False,
    "openWorldHint": True,
}


def effective_hints(annotations: Any) -> dict[str, bool]:
    """A tool's four hints as a client reads them: what it sent, else MCP's default."""
    sent = (
        annotations.model_dump(by_alias=True, exclude_none=True)
        if hasattr(annotations, "model_dump")
        else dict(annotations or {})
    )
    return {**HINT_DEFAULTS, **sent}
