"""Issue 10, item 1: identical write calls made at once write once and name the same object, in
one MCP session and in two sessions on one server (the two-process case: test_concurrent_serve).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.server import build_server
from tests.server.concurrency import (
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

# Every request waits this long in the emulator, so both calls of a pair are in flight together.
LATENCY = 0.05
# Customer writes share one section per realm (bookkeeping/customers.py): the 100 calls run one
# after the other, so a shorter wait keeps the test short; the pairs still overlap.
CUSTOMER_LATENCY = 0.01
LIMITS = Limits(
    requests_per_window=10**9, window_seconds=1.0, max_in_flight=50, batch_per_window=10**9
)


def caller(client: Client) -> Any:
    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        return result.structured_content

    return call


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("sessions", [1, 2])
async def test_identical_calls_at_once_write_once(
    tmp_path: Path, scenario: str, sessions: int
) -> None:
    tool, args_of = SCENARIOS[scenario]
    emulator = Emulator(ROOMY)
    world = seed(emulator)
    latency = CUSTOMER_LATENCY if "customer" in tool else LATENCY
    emulator.chaos.set_latency(latency)
    settings = Settings(home=tmp_path / "home", environment="emulator")
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(LIMITS))
    async with Client(server) as one:  # type: ignore[arg-type]
        if sessions == 1:
            answers = await run_pairs(
                caller(one), caller(one), tool, args_of, world, latency=LATENCY
            )
        else:
            # A second session on the same server (its own lifespan, database connection and
            # write sections object): only the lock files stand between the two.
            async with Client(server) as two:  # type: ignore[arg-type]
                answers = await run_pairs(
                    caller(one), caller(two), tool, args_of, world, latency=LATENCY
                )
    assert duplicates(emulator, tool, world) == {}
    assert disagreements(tool, answers) == []
    assert replays(tool, answers) == len(answers)
    # No second write was sent at all: QuickBooks never had to replay a requestid.
    assert emulator.request_ids.replays == 0
