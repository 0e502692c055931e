"""The client over real loopback HTTP (uvicorn): timeouts and cut connections."""

from __future__ import annotations

import pytest

from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from tests.qbo.pipeline_support import REALM, ROOMY, Sleeps, roomy_emulator, served

pytestmark = pytest.mark.anyio


def loopback_client(emulator: object, base_url: str, sleeps: Sleeps, timeout: float) -> QBOClient:
    token = emulator.issue_tokens(REALM).access_token  # type: ignore[attr-defined]
    return QBOClient(
        realm_id=REALM,
        token_source=StaticTokenSource({REALM: token}),
        base_url=base_url,
        limiter=RealmLimiter(ROOMY),
        retry=RetryPolicy(jitter=lambda: 1.0, sleep=sleeps),
        timeout=timeout,
    )


async def test_a_timed_out_write_is_retried_with_the_same_id_and_done_once() -> None:
    emulator = roomy_emulator()
    emulator.chaos.set_latency(1.0)
    # The first attempt times out; the retry's (instant) sleep takes the latency away.
    sleeps = Sleeps(hook=lambda _: emulator.chaos.set_latency(0))
    with served(emulator) as base_url:
        async with loopback_client(emulator, base_url, sleeps, timeout=0.2) as client:
            created = await client.create("Customer", {"DisplayName": "Slow Line"})
            count = await client.query(
                "select count(*) from Customer where DisplayName = 'Slow Line'"
            )
    assert sleeps.delays == [0.5]
    assert created["DisplayName"] == "Slow Line"
    assert count["totalCount"] == 1


async def test_a_connection_cut_after_commit_is_settled_over_real_http() -> None:
    emulator = roomy_emulator()
    emulator.chaos.drop_responses(count=2)
    sleeps = Sleeps()
    with served(emulator) as base_url:
        async with loopback_client(emulator, base_url, sleeps, timeout=5.0) as client:
            created = await client.create("Customer", {"DisplayName": "Cut Twice"})
            count = await client.query(
                "select count(*) from Customer where DisplayName = 'Cut Twice'"
            )
    assert len(sleeps.delays) == 2
    assert created["DisplayName"] == "Cut Twice"
    assert count["totalCount"] == 1
