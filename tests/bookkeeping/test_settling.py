"""Issue 10, item 6 (third point): a write whose answer never came back leaves its ledger row
pending; the next call of the same intent, inside its write section, settles it once the
outcome is known: `done` when it finds the object (payment marker, linked invoice, matching
customer), `failed` when it found nothing and wrote anew. `qb-mcp doctor` reports what is left.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.bookkeeping.customers import CustomerContact, upsert_customer
from qb_mcp.bookkeeping.payments import RecordPaymentInput, record_payment
from qb_mcp.bookkeeping.sales import ConvertEstimateInput, convert_estimate
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.errors import QBOError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store import Database
from qb_mcp.store.intents import sections_for
from qb_mcp.store.ledger import Ledger
from tests.bookkeeping.support import (
    TODAY,
    BeforeFirstWrite,
    build_client,
    database,
    emulator,
    named,
    objects,
    qbo,
)

pytestmark = pytest.mark.anyio
__all__ = ["database", "emulator", "qbo"]


def lose_every_answer(emulator: Emulator) -> None:
    """Every write commits, and its answer (and every replay of it) is cut off: the client
    gives up not knowing, as a process that crashed mid-write would."""
    emulator.chaos.drop_responses(count=1_000)


async def test_a_repeat_that_finds_the_payment_settles_the_pending_row(
    qbo: QBOClient, emulator: Emulator, database: Database
) -> None:
    ledger = Ledger(database)
    params = RecordPaymentInput.model_validate(
        {"customer_name": "Søren Kierkegaard", "amount": "100", "reference": "wire-9"}
    )
    lose_every_answer(emulator)
    with pytest.raises(QBOError):
        await record_payment(qbo, params, today=TODAY, sections=sections_for(database))
    emulator.chaos.clear()
    [left] = await ledger.pending(DEMO_REALM_ID)
    assert (left.tool, left.entity) == ("record_payment", "Payment")
    assert (await ledger.pending_summary()).by_tool == {"record_payment": 1}

    again = await record_payment(qbo, params, today=TODAY, sections=sections_for(database))

    assert again.already_recorded
    assert await ledger.pending() == []
    settled = await ledger.get(DEMO_REALM_ID, left.request_id)
    assert settled is not None
    assert (settled.status, settled.settled_by) == ("done", "found")
    assert settled.response is not None and again.payment_id in settled.response
    assert (await ledger.pending_summary()).count == 0


async def test_a_repeat_that_writes_anew_settles_the_row_that_wrote_nothing(
    qbo: QBOClient, emulator: Emulator, database: Database
) -> None:
    ledger = Ledger(database)
    customer = named(emulator, "Søren Kierkegaard")
    params = RecordPaymentInput.model_validate(
        {"customer_id": customer["Id"], "amount": "10.00", "leave_credit": True}
    )
    # From the payment's POST on, QuickBooks answers 503: nothing is written, outcome unknown.
    outage = BeforeFirstWrite(emulator, lambda: emulator.chaos.fail_requests(503, count=1_000))
    async with build_client(emulator, database, outage) as failing:
        with pytest.raises(QBOError):
            await record_payment(failing, params, today=TODAY, sections=sections_for(database))
    emulator.chaos.clear()
    [left] = await ledger.pending(DEMO_REALM_ID)
    # Meanwhile the customer pays everything open, so the repeat's lines (and requestid) differ:
    # all of it stays as credit.
    for invoice in objects(emulator, "Invoice"):
        balance = Decimal(str(invoice["Balance"]))
        if invoice["CustomerRef"]["value"] == customer["Id"] and balance > 0:
            link = [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
            emulator.backend.write(
                DEMO_REALM_ID,
                "Payment",
                {
                    "CustomerRef": {"value": customer["Id"]},
                    "TotalAmt": str(balance),
                    "Line": [{"Amount": str(balance), "LinkedTxn": link}],
                },
            )

    again = await record_payment(qbo, params, today=TODAY, sections=sections_for(database))

    assert not again.already_recorded
    assert await ledger.pending() == []
    settled = await ledger.get(DEMO_REALM_ID, left.request_id)
    assert settled is not None
    assert (settled.status, settled.settled_by) == ("failed", "unwritten")


async def test_a_repeat_that_finds_the_invoice_settles_the_conversion(
    qbo: QBOClient, emulator: Emulator, database: Database
) -> None:
    ledger = Ledger(database)
    cid = named(emulator, "Amy's Bird Sanctuary")["Id"]
    estimate: dict[str, Any] = next(
        e for e in objects(emulator, "Estimate") if e["CustomerRef"]["value"] == cid
    )
    params = ConvertEstimateInput(estimate_id=estimate["Id"])
    lose_every_answer(emulator)
    with pytest.raises(QBOError):
        await convert_estimate(qbo, params, today=TODAY, sections=sections_for(database))
    emulator.chaos.clear()
    assert {row.entity for row in await ledger.pending()} == {"Invoice"}

    again = await convert_estimate(qbo, params, today=TODAY, sections=sections_for(database))

    assert again.already_converted and again.estimate_status == "Closed"
    assert await ledger.pending() == []


async def test_a_repeat_that_finds_the_customer_settles_the_create(
    qbo: QBOClient, emulator: Emulator, database: Database
) -> None:
    ledger = Ledger(database)
    contact = CustomerContact(display_name="Lost Answer Ltd", email="lost@example.com")
    lose_every_answer(emulator)
    with pytest.raises(QBOError):
        await upsert_customer(qbo, contact, sections=sections_for(database))
    emulator.chaos.clear()
    assert [row.tool for row in await ledger.pending()] == ["upsert_customer"]

    again = await upsert_customer(qbo, contact, sections=sections_for(database))

    assert again.outcome == "unchanged"
    assert await ledger.pending() == []
    assert [c["DisplayName"] for c in objects(emulator, "Customer")].count("Lost Answer Ltd") == 1
