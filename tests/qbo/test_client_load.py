"""A thousand writes while QuickBooks drops answers after committing and fails with 503s."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from qb_mcp.emulator import Emulator
from qb_mcp.qbo.batch import BatchOp
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.store import open_database
from tests.qbo.pipeline_support import make_client, roomy_emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

N = 1_000
REALM = "4620816365100000001"


def faulty_emulator() -> Emulator:
    emulator = roomy_emulator()
    emulator.backend.add_company(REALM, seed="empty")
    emulator.chaos.seed(20261124)
    emulator.chaos.drop_responses(rate=0.10)
    emulator.chaos.fail_requests(503, rate=0.05)
    return emulator


async def names_in(client: QBOClient) -> Counter[str]:
    emulator_rows = [row async for row in client.query_all(Query.select("Customer"))]
    return Counter(row["DisplayName"] for row in emulator_rows)


async def test_a_thousand_creates_under_faults_make_exactly_a_thousand(tmp_path: Path) -> None:
    emulator = faulty_emulator()
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        async with make_client(emulator, realm_id=REALM, database=database) as client:
            created = await asyncio.gather(
                *(client.create("Customer", {"DisplayName": f"Load {n:04}"}) for n in range(N))
            )
            injected = emulator.chaos.injected
            emulator.chaos.clear()
            count = await client.query("select count(*) from Customer")
            names = await names_in(client)
    finally:
        await database.close()
    assert injected > 100  # about 15% of the requests failed or lost their answer
    assert len({c["Id"] for c in created}) == N
    assert count["totalCount"] == N
    assert names == Counter({f"Load {n:04}": 1 for n in range(N)})


async def test_a_thousand_batched_creates_under_faults_make_exactly_a_thousand() -> None:
    emulator = faulty_emulator()
    async with make_client(emulator, realm_id=REALM) as client:
        results = await client.batch(
            [BatchOp.create("Customer", {"DisplayName": f"Batch Load {n:04}"}) for n in range(N)]
        )
        injected = emulator.chaos.injected
        emulator.chaos.clear()
        count = await client.query("select count(*) from Customer")
        names = await names_in(client)
    assert injected > 0
    assert all(result.ok for result in results)
    assert count["totalCount"] == N
    assert names == Counter({f"Batch Load {n:04}": 1 for n in range(N)})
