"""Payment terms and payment methods through a real MCP client session, both eras."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from tests.server.conftest import connect

pytestmark = pytest.mark.anyio


def _customer(emulator: Emulator, name: str) -> dict[str, str]:
    rows = emulator.backend.query(
        DEMO_REALM_ID, "SELECT * FROM Customer WHERE DisplayName = 'Cool Cars'"
    )["QueryResponse"]["Customer"]
    assert rows[0]["DisplayName"] == name
    return dict(rows[0])


async def test_an_unknown_payment_method_is_a_tool_error_listing_the_companys(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        invoice = (await s.call("list_open_invoices", {}))["invoices"][0]
        before = s.state()
        text = await s.fail(
            "record_payment",
            {"amount": "1.00", "invoice_ids": [invoice["id"]], "method": "Bitcoin"},
        )
        assert s.state() == before
        paid = await s.call(
            "record_payment", {"amount": "1.00", "invoice_ids": [invoice["id"]], "method": "visa"}
        )
    assert "Bitcoin" in text and "MasterCard" in text and "Fix:" in text
    assert paid["method"] == "Visa"


async def test_convert_estimate_follows_the_customers_terms(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    customer = _customer(emulator, "Cool Cars")
    net60 = emulator.backend.query(DEMO_REALM_ID, "SELECT * FROM Term WHERE Name = 'Net 60'")
    term_id = net60["QueryResponse"]["Term"][0]["Id"]
    emulator.backend.write(
        DEMO_REALM_ID,
        "Customer",
        {
            "Id": customer["Id"],
            "SyncToken": customer["SyncToken"],
            "sparse": True,
            "SalesTermRef": {"value": term_id},
        },
    )
    async with connect(settings, emulator, mode) as s:
        estimate = await s.call(
            "create_estimate",
            {
                "customer_id": customer["Id"],
                "txn_date": "2026-05-01",
                "lines": [{"item_name": "Design", "quantity": "1"}],
            },
        )
        converted = await s.call(
            "convert_estimate", {"estimate_id": estimate["id"], "txn_date": "2026-05-02"}
        )
    due = date(2026, 5, 2) + timedelta(days=60)
    assert converted["invoice"]["due_date"] == due.isoformat()
    assert "Net 60" in converted["due_date_rule"]
