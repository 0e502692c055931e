"""Issue 10, item 1, across processes: two `qb-mcp serve` processes on one QBO_HOME, each pair's
two identical calls sent one to each, write once and name the same object.

Both processes must serve the same company: the in-process demo emulator would give each its own,
so one emulator runs here (uvicorn, real HTTP) and the company is connected in the shared
database (`QBO_ENVIRONMENT=emulator`, its URL in QBO_OAUTH_BASE_URL), as a user's own
`qb-mcp emulator` would be.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from qb_mcp.auth.intuit import TokenGrant
from qb_mcp.auth.wiring import open_auth
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from tests.auth.live import serve
from tests.server.concurrency import (
    PAIRS,
    ROOMY,
    SCENARIOS,
    disagreements,
    duplicates,
    replays,
    run_pairs,
    seed,
)
from tests.server.conftest import error_text

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Real HTTP and two processes add their own jitter; this keeps each pair's calls overlapping.
LATENCY = 0.05
CUSTOMER_LATENCY = 0.01  # customer writes take one section per realm: 100 calls in a row
# Each upsert_customers pair makes one batch call, and QuickBooks allows 40 a minute per company,
# a budget the two processes share (qb_mcp.store.limits): 35 pairs stay within one minute's.
BULK_PAIRS = 35


async def connect(settings: Settings, emulator: Emulator) -> None:
    pair = emulator.issue_tokens(DEMO_REALM_ID)
    grant = TokenGrant(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.x_refresh_token_expires_in,
    )
    async with open_auth(settings) as auth:
        await auth.manager.save_login(DEMO_REALM_ID, grant, received_at=time.time())


def caller(client: Client) -> Any:
    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        return result.structured_content

    return call


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_identical_calls_in_two_serve_processes_write_once(
    tmp_path: Path, scenario: str
) -> None:
    tool, args_of = SCENARIOS[scenario]
    pairs = BULK_PAIRS if tool == "upsert_customers" else PAIRS
    emulator = Emulator(ROOMY)
    world = seed(emulator, pairs)
    with serve(emulator.app) as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
        env.update(
            QBO_HOME=str(tmp_path / "home"),
            QBO_ENVIRONMENT="emulator",
            QBO_OAUTH_BASE_URL=base_url,
            QBO_TOKEN_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            QBO_LOG_LEVEL="WARNING",
        )
        await connect(Settings.from_env(env), emulator)
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "qb_mcp", "serve"], env=env
        )
        async with Client(params) as a, Client(params) as b:
            # Both processes are up (the first call of each connects it) before the race.
            await a.call_tool("connection_status", {})
            await b.call_tool("connection_status", {})
            latency = CUSTOMER_LATENCY if "customer" in tool else LATENCY
            emulator.chaos.set_latency(latency)
            # Odd pairs start in B: each process makes half the writes.
            answers = await run_pairs(
                caller(a),
                caller(b),
                tool,
                args_of,
                world,
                latency=latency,
                pairs=pairs,
                swap_odd=True,
            )
    assert len(answers) == pairs
    assert duplicates(emulator, tool, world) == {}
    assert disagreements(tool, answers) == []
    assert replays(tool, answers) == len(answers)
    # No second write was sent at all: QuickBooks never had to replay a requestid.
    assert emulator.request_ids.replays == 0
