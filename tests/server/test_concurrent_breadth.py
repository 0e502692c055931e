"""The breadth write tools called twice at once with the same arguments write once (their write
sections), in one MCP session, with every emulator request slowed so the two calls overlap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.server import build_server
from tests.server.concurrency import ROOMY
from tests.server.conftest import error_text

pytestmark = pytest.mark.anyio

LIMITS = Limits(requests_per_window=10**9, window_seconds=1.0, max_in_flight=50)
PAIRS = 3


def _count(emulator: Emulator, entity: str, where: str = "") -> int:
    answer = emulator.backend.query(DEMO_REALM_ID, f"SELECT * FROM {entity} {where}")
    return len(answer["QueryResponse"].get(entity, []))


async def _twice(client: Client, tool: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    async def one() -> None:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        results.append(result.structured_content)

    async with anyio.create_task_group() as group:
        group.start_soon(one)
        group.start_soon(one)
    return results


async def test_identical_sales_receipts_items_and_voids_at_once_write_once(
    tmp_path: Path,
) -> None:
    emulator = Emulator(ROOMY)
    emulator.chaos.set_latency(0.02)
    receipts_before = _count(emulator, "SalesReceipt")
    settings = Settings(home=tmp_path / "home", environment="emulator")
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(LIMITS))
    async with Client(server) as client:  # type: ignore[arg-type]
        for n in range(PAIRS):
            sale = {
                "customer_name": "Cool Cars",
                "lines": [{"item_name": "Design", "quantity": str(n + 1)}],
                "method": "Cash",
            }
            first, second = await _twice(client, "create_sales_receipt", sale)
            assert first["id"] == second["id"]
            item = {"name": f"Pair item {n}", "type": "service", "price": "10"}
            made, found = await _twice(client, "upsert_item", item)
            assert made["item"]["id"] == found["item"]["id"]
            voided = await _twice(
                client, "void_transaction", {"kind": "sales_receipt", "id": first["id"]}
            )
            assert sorted(v["already_voided"] for v in voided) == [False, True]
    assert _count(emulator, "SalesReceipt") == receipts_before + PAIRS
    assert _count(emulator, "Item", "WHERE Name LIKE 'Pair item%'") == PAIRS


async def test_identical_credit_memos_and_refunds_at_once_write_once(tmp_path: Path) -> None:
    emulator = Emulator(ROOMY)
    emulator.chaos.set_latency(0.02)
    memos_before = _count(emulator, "CreditMemo")
    refunds_before = _count(emulator, "RefundReceipt")
    settings = Settings(home=tmp_path / "home", environment="emulator")
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(LIMITS))
    async with Client(server) as client:  # type: ignore[arg-type]
        for n in range(PAIRS):
            lines = [{"item_name": "Design", "quantity": str(n + 1)}]
            credit = {"customer_name": "Cool Cars", "lines": lines}
            first, second = await _twice(client, "create_credit_memo", credit)
            assert first["id"] == second["id"]
            refund = {**credit, "from_account": "Checking", "method": "Check"}
            paid, again = await _twice(client, "refund", refund)
            assert paid["id"] == again["id"]
    assert _count(emulator, "CreditMemo") == memos_before + PAIRS
    assert _count(emulator, "RefundReceipt") == refunds_before + PAIRS
