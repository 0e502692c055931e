"""create_estimate and convert_estimate against the emulator's demo company."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from qb_mcp.bookkeeping.sales import (
    ConvertEstimateInput,
    CreateEstimateInput,
    convert_estimate,
    create_estimate,
)
from qb_mcp.emulator import Emulator
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from tests.bookkeeping.support import TODAY, database, emulator, named, objects, qbo, state

pytestmark = pytest.mark.anyio
__all__ = ["database", "emulator", "qbo"]


def estimate_of(emulator: Emulator, customer: str) -> dict[str, Any]:
    cid = named(emulator, customer)["Id"]
    return next(e for e in objects(emulator, "Estimate") if e["CustomerRef"]["value"] == cid)


# ---- create_estimate ---------------------------------------------------------------------------


async def test_estimate_by_names_uses_the_item_price(qbo: QBOClient) -> None:
    params = CreateEstimateInput.model_validate(
        {
            "customer_name": "Amy's Bird Sanctuary",
            "lines": [{"item_name": "Design", "quantity": 2, "description": "Pond design"}],
            "expiration_date": "2026-02-15",
            "memo": "Valid for a month",
        }
    )
    estimate = await create_estimate(qbo, params, today=TODAY)
    assert estimate.total == Decimal("150.00") and estimate.status == "Pending"
    assert estimate.lines[0].unit_price == Decimal("75") and estimate.lines[0].item_name == "Design"
    assert estimate.expiration_date == "2026-02-15" and estimate.memo == "Valid for a month"
    assert estimate.doc_number


async def test_line_amounts_round_half_up_like_quickbooks(
    qbo: QBOClient, emulator: Emulator
) -> None:
    hours = next(i for i in objects(emulator, "Item") if i["Name"] == "Hours")
    params = CreateEstimateInput.model_validate(
        {
            "customer_id": named(emulator, "Cool Cars")["Id"],
            "lines": [
                {"item_id": hours["Id"], "quantity": "4.5", "unit_price": "12.3456"},
                {"item_id": hours["Id"], "quantity": 1.1, "unit_price": 0.1},
            ],
        }
    )
    estimate = await create_estimate(qbo, params, today=TODAY)
    assert [line.amount for line in estimate.lines] == [Decimal("55.56"), Decimal("0.11")]
    assert estimate.total == Decimal("55.67")


async def test_an_ambiguous_customer_name_lists_candidates(
    qbo: QBOClient, emulator: Emulator
) -> None:
    east = await qbo.create("Customer", {"DisplayName": "Acme Gardens East"})
    west = await qbo.create("Customer", {"DisplayName": "Acme Gardens West"})
    before = state(emulator)
    params = CreateEstimateInput.model_validate(
        {"customer_name": "Acme Gardens", "lines": [{"item_name": "Hours"}]}
    )
    with pytest.raises(InvalidArgumentError) as raised:
        await create_estimate(qbo, params, today=TODAY)
    assert east["Id"] in str(raised.value) and west["Id"] in str(raised.value)
    assert "customer_id" in str(raised.value)
    assert state(emulator) == before


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"customer_name": "Nobody Like This", "lines": [{"item_name": "Hours"}]}, "find_customer"),
        ({"customer_name": "Kookies by Kathy", "lines": [{"item_name": "Hours"}]}, "inactive"),
        ({"customer_name": "Cool Cars", "lines": [{"item_name": "Gold Plating"}]}, "find_items"),
        ({"customer_id": "99999", "lines": [{"item_name": "Hours"}]}, "no customer"),
        ({"customer_name": "Cool Cars", "lines": [{"item_id": "99999"}]}, "line 1"),
    ],
)
async def test_bad_references_are_refused_and_nothing_is_written(
    qbo: QBOClient, emulator: Emulator, fields: dict[str, Any], words: str
) -> None:
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await create_estimate(qbo, CreateEstimateInput.model_validate(fields), today=TODAY)
    assert words in str(raised.value)
    assert state(emulator) == before


async def test_the_same_key_never_creates_a_second_estimate(
    qbo: QBOClient, emulator: Emulator
) -> None:
    params = CreateEstimateInput.model_validate(
        {"customer_name": "Cool Cars", "lines": [{"item_name": "Hours"}], "idempotency_key": "q-1"}
    )
    before = len(objects(emulator, "Estimate"))
    first = await create_estimate(qbo, params, today=TODAY)
    second = await create_estimate(qbo, params, today=TODAY)
    assert first.id == second.id and len(objects(emulator, "Estimate")) == before + 1


@pytest.mark.parametrize(
    "fields",
    [
        {"lines": [{"item_name": "Hours"}]},
        {"customer_id": "1", "customer_name": "x", "lines": [{"item_name": "Hours"}]},
        {"customer_id": "1", "lines": []},
        {"customer_id": "1", "lines": [{"item_name": "Hours", "item_id": "2"}]},
        {"customer_id": "1", "lines": [{"item_name": "Hours", "quantity": "-1"}]},
        {"customer_id": "1", "lines": [{"item_name": "Hours", "unit_price": "1e400"}]},
        {"customer_id": "1", "lines": [{"item_name": "Hours", "quantity": float("nan")}]},
        {"customer_id": "1; drop", "lines": [{"item_name": "Hours"}]},
        {"customer_id": "1", "lines": [{"item_name": "Hours"}], "doc_number": "x" * 22},
        {
            "customer_id": "1",
            "lines": [{"item_name": "Hours"}],
            "txn_date": "2026-02-01",
            "expiration_date": "2026-01-01",
        },
    ],
)
def test_estimate_input_refusals(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreateEstimateInput.model_validate(fields)


_anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=150)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "customer_id": _anything,
            "customer_name": _anything,
            "lines": st.lists(
                st.dictionaries(
                    st.sampled_from(["item_id", "item_name", "quantity", "unit_price"]),
                    _anything,
                ),
                max_size=3,
            ),
            "txn_date": _anything,
            "memo": _anything,
        },
    )
)
def test_any_estimate_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    try:
        model = CreateEstimateInput.model_validate(fields)
    except ValidationError:
        return
    assert model.lines and all(line.quantity >= 0 for line in model.lines)


# ---- convert_estimate --------------------------------------------------------------------------


async def test_convert_links_the_invoice_and_closes_the_estimate(
    qbo: QBOClient, emulator: Emulator
) -> None:
    estimate = estimate_of(emulator, "Amy's Bird Sanctuary")
    result = await convert_estimate(
        qbo, ConvertEstimateInput(estimate_id=estimate["Id"]), today=TODAY
    )
    invoice = result.invoice
    assert invoice.total == Decimal("150.00") and invoice.balance == Decimal("150.00")
    assert invoice.due_date == (TODAY + timedelta(days=30)).isoformat()
    assert [(link.txn_id, link.txn_type) for link in invoice.links] == [
        (estimate["Id"], "Estimate")
    ]
    assert invoice.memo == "Thank you for your business and have a great day!"
    assert result.estimate_status == "Closed" and not result.already_converted
    stored = estimate_of(emulator, "Amy's Bird Sanctuary")
    assert stored["TxnStatus"] == "Closed"
    assert stored["LinkedTxn"] == [{"TxnId": invoice.id, "TxnType": "Invoice"}]


async def test_converting_twice_returns_the_same_invoice(
    qbo: QBOClient, emulator: Emulator
) -> None:
    estimate = estimate_of(emulator, "O'Brien Plumbing")
    params = ConvertEstimateInput(
        estimate_doc_number=estimate["DocNumber"], due_date=date(2026, 3, 1)
    )
    before = len(objects(emulator, "Invoice"))
    first = await convert_estimate(qbo, params, today=TODAY)
    second = await convert_estimate(qbo, params, today=TODAY)
    assert first.invoice.id == second.invoice.id and second.already_converted
    assert first.invoice.due_date == "2026-03-01" and first.due_date_rule == "given"
    assert len(objects(emulator, "Invoice")) == before + 1


async def test_an_already_invoiced_estimate_is_not_invoiced_again(
    qbo: QBOClient, emulator: Emulator
) -> None:
    estimate = estimate_of(emulator, "Müller GmbH")
    before = state(emulator)
    result = await convert_estimate(
        qbo, ConvertEstimateInput(estimate_id=estimate["Id"]), today=TODAY
    )
    assert result.already_converted and result.estimate_status == "Closed"
    assert result.invoice.id == estimate["LinkedTxn"][0]["TxnId"]
    assert state(emulator) == before


@pytest.mark.parametrize(
    ("customer", "words"), [("Cool Cars", "Rejected"), ("Café Zoë", "expired")]
)
async def test_rejected_and_expired_estimates_are_refused(
    qbo: QBOClient, emulator: Emulator, customer: str, words: str
) -> None:
    estimate = estimate_of(emulator, customer)
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await convert_estimate(qbo, ConvertEstimateInput(estimate_id=estimate["Id"]), today=TODAY)
    assert words in str(raised.value) and "create_estimate" in str(raised.value)
    assert state(emulator) == before


async def test_an_unknown_estimate_is_refused(qbo: QBOClient, emulator: Emulator) -> None:
    before = state(emulator)
    with pytest.raises(InvalidArgumentError):
        await convert_estimate(qbo, ConvertEstimateInput(estimate_doc_number="NOPE-1"), today=TODAY)
    assert state(emulator) == before


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"estimate_id": "1", "estimate_doc_number": "1001"},
        {"estimate_id": "1", "txn_date": "2026-02-01", "due_date": "2026-01-01"},
        {"estimate_id": "1", "due_date": "soon"},
    ],
)
def test_convert_input_refusals(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ConvertEstimateInput.model_validate(fields)


def _give_terms(emulator: Emulator, customer: str, term: str) -> str:
    from qb_mcp.emulator.app import DEMO_REALM_ID

    term_id = next(t["Id"] for t in objects(emulator, "Term") if t["Name"] == term)
    found = named(emulator, customer)
    emulator.backend.write(
        DEMO_REALM_ID,
        "Customer",
        {
            "Id": found["Id"],
            "SyncToken": found["SyncToken"],
            "sparse": True,
            "SalesTermRef": {"value": term_id},
        },
    )
    return str(term_id)


async def test_convert_takes_the_due_date_from_the_customers_terms(
    qbo: QBOClient, emulator: Emulator
) -> None:
    term_id = _give_terms(emulator, "Amy's Bird Sanctuary", "Net 15")
    estimate = estimate_of(emulator, "Amy's Bird Sanctuary")
    result = await convert_estimate(
        qbo, ConvertEstimateInput(estimate_id=estimate["Id"]), today=TODAY
    )
    stored = next(i for i in objects(emulator, "Invoice") if i["Id"] == result.invoice.id)
    assert result.invoice.due_date == (TODAY + timedelta(days=15)).isoformat()
    assert "Net 15" in result.due_date_rule
    assert stored["SalesTermRef"]["value"] == term_id


async def test_convert_without_terms_leaves_the_due_date_to_the_companys_default(
    qbo: QBOClient, emulator: Emulator
) -> None:
    estimate = estimate_of(emulator, "Amy's Bird Sanctuary")
    result = await convert_estimate(
        qbo, ConvertEstimateInput(estimate_id=estimate["Id"]), today=TODAY
    )
    assert result.invoice.due_date == (TODAY + timedelta(days=30)).isoformat()
    assert "company's default" in result.due_date_rule


@pytest.mark.parametrize(
    ("issued", "due"),
    [
        (date(2026, 3, 5), date(2026, 4, 1)),  # past the 1st: next month's
        (date(2026, 3, 25), date(2026, 5, 1)),  # within 10 days of April 1st: May's
        (date(2026, 12, 10), date(2027, 1, 1)),
    ],
)
def test_a_date_driven_term_is_due_on_its_day_of_the_month(issued: date, due: date) -> None:
    from qb_mcp.bookkeeping.terms import Terms

    terms = Terms("6", "1st of month", {"DayOfMonthDue": 1, "DueNextMonthDays": 10})
    assert terms.due(issued) == due
