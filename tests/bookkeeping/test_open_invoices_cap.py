"""list_open_invoices stops reading at its cap (issue 11)."""

from __future__ import annotations

import httpx2
import pytest

from qb_mcp.bookkeeping import reads
from qb_mcp.bookkeeping.reads import ListOpenInvoicesInput, list_open_invoices
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.store import Database
from tests.bookkeeping.support import TODAY, build_client, database, emulator  # noqa: F401


class Counting(httpx2.AsyncBaseTransport):
    def __init__(self, target: Emulator) -> None:
        self._inner = httpx2.ASGITransport(app=target.app)
        self.queries = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.queries += "/query" in request.url.path
        return await self._inner.handle_async_request(request)


@pytest.mark.anyio
async def test_no_page_is_read_beyond_the_cap(
    emulator: Emulator,  # noqa: F811
    database: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = {
        "Amount": "5.00",
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": "5.00"},
    }
    for _ in range(1_050):
        emulator.backend.write(
            DEMO_REALM_ID,
            "Invoice",
            {"CustomerRef": {"value": "1"}, "Line": [line], "DueDate": "2025-12-01"},
        )
    monkeypatch.setattr(reads, "MAX_OPEN_SCAN", 1_000)  # one page of 1000
    transport = Counting(emulator)
    client = build_client(emulator, database, transport)
    try:
        result = await list_open_invoices(client, ListOpenInvoicesInput(limit=3), today=TODAY)
    finally:
        await client.aclose()
    assert transport.queries == 1
    assert len(result.invoices) == 3 and result.truncated
    assert [i.due_date for i in result.invoices] == sorted(
        i.due_date or "" for i in result.invoices
    )
    assert result.total_open == sum(i.balance for i in result.invoices)
