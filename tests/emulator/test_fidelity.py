"""Where the emulator once disagreed with QuickBooks (issue 9), checked over HTTP.

Each test names the source it follows; docs/emulator.md ("Corrected against QuickBooks") lists
them. These are the requests that independently written clients (python-quickbooks,
node-quickbooks, intuit-oauth) send in their ordinary flows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx2
import pytest

from qb_mcp.emulator import Emulator
from tests.emulator.client_bodies import PYTHON_QUICKBOOKS_CUSTOMER
from tests.emulator.conftest import state_of

pytestmark = pytest.mark.anyio


def fault_code(response: httpx2.Response) -> str:
    return str(response.json()["Fault"]["Error"][0]["code"])


async def ok(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def paid_invoice(client: httpx2.AsyncClient, base: str) -> tuple[dict[str, Any], ...]:
    """A new customer, an invoice of 80.00 and a payment of 30.00 applied to it."""
    customer = (await ok(await client.post(f"{base}/customer", json={"DisplayName": "Void Co"})))[
        "Customer"
    ]
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 80,
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    invoice = (
        await ok(
            await client.post(
                f"{base}/invoice",
                json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]},
            )
        )
    )["Invoice"]
    payment = (
        await ok(
            await client.post(
                f"{base}/payment",
                json={
                    "CustomerRef": {"value": customer["Id"]},
                    "TotalAmt": 30,
                    "Line": [
                        {
                            "Amount": 30,
                            "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                        }
                    ],
                },
            )
        )
    )["Payment"]
    return customer, invoice, payment


# ---- 1. voiding a payment: a sparse update with include=void -------------------------------------


async def test_payment_is_voided_by_a_sparse_update_with_include_void(
    client: httpx2.AsyncClient, base: str
) -> None:
    # Intuit's Payment reference, "Void a payment"; python-quickbooks' VoidMixin sends this.
    _, invoice, payment = await paid_invoice(client, base)
    answer = await ok(
        await client.post(
            f"{base}/payment?operation=update&include=void&minorversion=75",
            json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
        )
    )
    voided = answer["Payment"]
    assert voided["TotalAmt"] == 0 and voided["UnappliedAmt"] == 0 and voided["Line"] == []
    assert voided["PrivateNote"] == "Voided"
    assert voided["SyncToken"] == str(int(payment["SyncToken"]) + 1)
    read = (await ok(await client.get(f"{base}/invoice/{invoice['Id']}")))["Invoice"]
    assert Decimal(str(read["Balance"])) == Decimal("80.00")


async def test_payment_operation_void_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, base: str, emulator: Emulator
) -> None:
    # operation=void is the Invoice form; QuickBooks-V3-PHP-SDK#357/#479 show it failing here.
    _, _, payment = await paid_invoice(client, base)
    before = state_of(emulator)
    response = await client.post(
        f"{base}/payment?operation=void",
        json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
    )
    assert response.status_code == 400 and fault_code(response) == "500"
    assert state_of(emulator) == before


async def test_invoice_is_still_voided_with_operation_void(
    client: httpx2.AsyncClient, base: str
) -> None:
    _, created, _ = await paid_invoice(client, base)
    invoice = (await ok(await client.get(f"{base}/invoice/{created['Id']}")))["Invoice"]
    answer = await ok(
        await client.post(
            f"{base}/invoice?operation=void",
            json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]},
        )
    )
    assert answer["Invoice"]["TotalAmt"] == 0 and answer["Invoice"]["Balance"] == 0


async def test_sales_receipt_is_voided_like_a_payment(
    client: httpx2.AsyncClient, base: str, emulator: Emulator
) -> None:
    # Intuit's SalesReceipt reference, "Void a salesreceipt"; QuickBooks-V3-PHP-SDK#357.
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 25,
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    made = (
        await ok(
            await client.post(
                f"{base}/salesreceipt", json={"CustomerRef": {"value": "1"}, "Line": [line]}
            )
        )
    )["SalesReceipt"]
    stub = {"Id": made["Id"], "SyncToken": made["SyncToken"]}
    before = state_of(emulator)
    refused = await client.post(f"{base}/salesreceipt?operation=void", json=stub)
    assert refused.status_code == 400 and fault_code(refused) == "500"
    assert state_of(emulator) == before
    voided = await ok(
        await client.post(
            f"{base}/salesreceipt?operation=update&include=void", json={**stub, "sparse": True}
        )
    )
    assert voided["SalesReceipt"]["TotalAmt"] == 0


# ---- 2, 3, 4, 6: the bodies and queries python-quickbooks sends ---------------------------------


async def test_python_quickbooks_default_customer_and_invoice_save(
    client: httpx2.AsyncClient, base: str
) -> None:
    customer = (
        await ok(await client.post(f"{base}/customer", json=dict(PYTHON_QUICKBOOKS_CUSTOMER)))
    )["Customer"]
    invoice = {
        "CustomerRef": {"value": customer["Id"]},
        "DueDate": "",
        "ShipDate": "",
        "TxnDate": "",
        "TotalAmt": "",
        "Line": [
            {
                "Amount": 100,
                "DetailType": "SalesItemLineDetail",
                "LineNum": 1,
                "LinkedTxn": [],
                "CustomField": [],
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "1"},
                    "PriceLevelRef": {"value": "1"},
                    "Qty": 0,
                    "ServiceDate": "",
                    "TaxInclusiveAmt": 0,
                    "UnitPrice": 0,
                },
            }
        ],
    }
    saved = (await ok(await client.post(f"{base}/invoice?minorversion=75", json=invoice)))[
        "Invoice"
    ]
    assert saved["TotalAmt"] == 100 and saved["TxnDate"]


async def test_a_property_list_query_answers_whole_objects(
    client: httpx2.AsyncClient, base: str
) -> None:
    listed = await ok(
        await client.get(f"{base}/query", params={"query": "SELECT *, Sku FROM Item"})
    )
    everything = await ok(await client.get(f"{base}/query", params={"query": "SELECT * FROM Item"}))
    assert listed["QueryResponse"] == everything["QueryResponse"]
