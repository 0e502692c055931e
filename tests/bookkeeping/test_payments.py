"""record_payment against the emulator's demo company."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from qb_mcp.bookkeeping.payments import RecordPaymentInput, record_payment
from qb_mcp.emulator import Emulator
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from tests.bookkeeping.support import TODAY, database, emulator, named, objects, qbo, state

pytestmark = pytest.mark.anyio
__all__ = ["database", "emulator", "qbo"]


def invoice_of(emulator: Emulator, customer: str) -> dict[str, Any]:
    cid = named(emulator, customer)["Id"]
    return next(i for i in objects(emulator, "Invoice") if i["CustomerRef"]["value"] == cid)


def pay(**fields: Any) -> RecordPaymentInput:
    return RecordPaymentInput.model_validate(fields)


async def test_pay_an_invoice_in_full_by_number(qbo: QBOClient, emulator: Emulator) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    result = await record_payment(
        qbo,
        pay(
            amount="337.50",
            invoice_doc_numbers=[invoice["DocNumber"]],
            method="Check",
            reference="1234",
        ),
        today=TODAY,
    )
    assert result.total == Decimal("337.50") and result.unapplied == Decimal("0.00")
    assert [(a.invoice_id, a.applied, a.remaining_balance) for a in result.applied] == [
        (invoice["Id"], Decimal("337.50"), Decimal("0.00"))
    ]
    assert result.reference == "1234" and result.txn_date == TODAY.isoformat()
    stored = next(p for p in objects(emulator, "Payment") if p["Id"] == result.payment_id)
    assert stored["PaymentMethodRef"]["value"] == "2"  # the default Check
    assert result.method == "Check"


async def test_without_invoices_the_oldest_are_paid_first(
    qbo: QBOClient, emulator: Emulator
) -> None:
    amy = named(emulator, "Amy's Bird Sanctuary")
    hours = next(i for i in objects(emulator, "Item") if i["Name"] == "Hours")
    older = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": amy["Id"]},
            "TxnDate": "2025-12-01",
            "DueDate": "2025-12-31",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "75.00",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": hours["Id"]},
                        "Qty": 1,
                        "UnitPrice": 75,
                    },
                }
            ],
        },
    )
    newer = invoice_of(emulator, "Amy's Bird Sanctuary")
    result = await record_payment(
        qbo, pay(customer_name="Amy's Bird Sanctuary", amount="100.00"), today=TODAY
    )
    assert [(a.invoice_id, a.applied, a.remaining_balance) for a in result.applied] == [
        (older["Id"], Decimal("75.00"), Decimal("0.00")),
        (newer["Id"], Decimal("25.00"), Decimal("249.00")),
    ]


async def test_over_application_is_refused_without_leave_credit(
    qbo: QBOClient, emulator: Emulator
) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await record_payment(qbo, pay(amount="500", invoice_ids=[invoice["Id"]]), today=TODAY)
    assert "337.50" in str(raised.value) and "leave_credit" in str(raised.value)
    assert state(emulator) == before


async def test_leave_credit_keeps_the_rest_unapplied(qbo: QBOClient, emulator: Emulator) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    result = await record_payment(
        qbo, pay(amount="500", invoice_ids=[invoice["Id"]], leave_credit=True), today=TODAY
    )
    assert result.unapplied == Decimal("162.50")
    assert result.applied[0].remaining_balance == Decimal("0.00")


async def test_a_partial_payment_leaves_a_balance(qbo: QBOClient, emulator: Emulator) -> None:
    invoice = invoice_of(emulator, "Müller GmbH")  # 325.00 with 125.00 already paid
    result = await record_payment(qbo, pay(amount="50", invoice_ids=[invoice["Id"]]), today=TODAY)
    assert result.applied[0].remaining_balance == Decimal("150.00")


@pytest.mark.parametrize(
    ("customer", "invoice_owner", "words"),
    [
        ("Amy's Bird Sanctuary", "Søren Kierkegaard", "belongs to customer"),
        (None, "Bill's Windsurf Shop", "already paid"),
    ],
)
async def test_wrong_or_paid_invoices_are_refused(
    qbo: QBOClient, emulator: Emulator, customer: str | None, invoice_owner: str, words: str
) -> None:
    invoice = invoice_of(emulator, invoice_owner)
    fields: dict[str, Any] = {"amount": "10", "invoice_ids": [invoice["Id"]]}
    if customer:
        fields["customer_name"] = customer
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await record_payment(qbo, pay(**fields), today=TODAY)
    assert words in str(raised.value)
    assert state(emulator) == before


async def test_a_voided_invoice_is_refused(qbo: QBOClient, emulator: Emulator) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    await qbo.void("Invoice", invoice["Id"])
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await record_payment(qbo, pay(amount="10", invoice_ids=[invoice["Id"]]), today=TODAY)
    assert "voided" in str(raised.value)
    assert state(emulator) == before


async def test_a_retried_call_records_one_payment(qbo: QBOClient, emulator: Emulator) -> None:
    params = pay(customer_name="Søren Kierkegaard", amount="100", reference="wire-9")
    before = len(objects(emulator, "Payment"))
    first = await record_payment(qbo, params, today=TODAY)
    second = await record_payment(qbo, params, today=TODAY)
    assert second.payment_id == first.payment_id and second.already_recorded
    assert not first.already_recorded
    assert len(objects(emulator, "Payment")) == before + 1


async def test_distinct_keys_record_identical_payments_twice(
    qbo: QBOClient, emulator: Emulator
) -> None:
    before = len(objects(emulator, "Payment"))
    for key in ("pay-a", "pay-b"):
        await record_payment(
            qbo,
            pay(customer_name="Søren Kierkegaard", amount="10", idempotency_key=key),
            today=TODAY,
        )
    assert len(objects(emulator, "Payment")) == before + 2


async def test_a_customer_with_nothing_open_needs_leave_credit(
    qbo: QBOClient, emulator: Emulator
) -> None:
    before = state(emulator)
    with pytest.raises(InvalidArgumentError):
        await record_payment(qbo, pay(customer_name="Cool Cars", amount="10"), today=TODAY)
    assert state(emulator) == before
    credit = await record_payment(
        qbo, pay(customer_name="Cool Cars", amount="10", leave_credit=True), today=TODAY
    )
    assert credit.applied == [] and credit.unapplied == Decimal("10.00")


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": "10"},
        {"amount": "0", "customer_id": "1"},
        {"amount": "-5", "customer_id": "1"},
        {"amount": "10.001", "customer_id": "1"},
        {"amount": "1e3", "customer_id": "1"},
        {"amount": True, "customer_id": "1"},
        {"amount": "10", "customer_id": "1", "customer_name": "x"},
        {"amount": "10", "invoice_ids": ["1", "1"]},
        {"amount": "10", "customer_id": "1", "idempotency_key": "has space"},
        {"amount": "10", "customer_id": "1", "reference": "x" * 22},
    ],
)
def test_payment_input_refusals(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordPaymentInput.model_validate(fields)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), st.decimals()
)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "customer_id",
                "customer_name",
                "amount",
                "invoice_ids",
                "invoice_doc_numbers",
                "txn_date",
                "method",
                "reference",
                "leave_credit",
                "idempotency_key",
            ]
        ),
        st.one_of(_scalars, st.lists(_scalars, max_size=3)),
    )
)
def test_any_payment_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    try:
        model = RecordPaymentInput.model_validate(fields)
    except ValidationError:
        return
    assert model.amount > 0 and model.amount == model.amount.quantize(Decimal("0.01"))


async def test_the_method_is_found_by_name_whatever_its_case(
    qbo: QBOClient, emulator: Emulator
) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    result = await record_payment(
        qbo,
        pay(amount="10.00", invoice_ids=[invoice["Id"]], method="  american express"),
        today=TODAY,
    )
    stored = next(p for p in objects(emulator, "Payment") if p["Id"] == result.payment_id)
    assert result.method == "American Express"
    assert stored["PaymentMethodRef"]["value"] == "6"
    assert "Method:" not in (stored.get("PrivateNote") or "")


async def test_an_unknown_method_is_refused_with_the_companys_methods(
    qbo: QBOClient, emulator: Emulator
) -> None:
    invoice = invoice_of(emulator, "Søren Kierkegaard")
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as refused:
        await record_payment(
            qbo, pay(amount="10.00", invoice_ids=[invoice["Id"]], method="Bitcoin"), today=TODAY
        )
    assert state(emulator) == before
    assert "Bitcoin" in str(refused.value)
    assert all(name in str(refused.value) for name in ("Cash", "Check", "Visa"))
