"""find_items, list_open_invoices, get_transaction and run_query against the demo company."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from qb_mcp.bookkeeping.reads import (
    FindItemsInput,
    GetTransactionInput,
    ListOpenInvoicesInput,
    RunQueryInput,
    find_items,
    get_transaction,
    list_open_invoices,
    run_query,
)
from qb_mcp.emulator import Emulator
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from tests.bookkeeping.support import TODAY, database, emulator, named, objects, qbo

pytestmark = pytest.mark.anyio
__all__ = ["database", "emulator", "qbo"]


async def test_find_items_by_partial_name(qbo: QBOClient) -> None:
    found = await find_items(qbo, FindItemsInput(name="sign"))
    assert [(i.name, i.unit_price, i.type) for i in found.items] == [
        ("Design", Decimal("75"), "Service")
    ]


async def test_find_items_lists_all_with_a_limit(qbo: QBOClient) -> None:
    found = await find_items(qbo, FindItemsInput(limit=2))
    assert [i.name for i in found.items] == ["Design", "Hours"] and found.truncated


async def test_open_invoices_are_ordered_with_overdue_flags(qbo: QBOClient) -> None:
    result = await list_open_invoices(qbo, ListOpenInvoicesInput(), today=TODAY)
    names = [i.customer_name for i in result.invoices]
    assert names == ["Søren Kierkegaard", "Müller GmbH", "Amy's Bird Sanctuary"]
    soren = result.invoices[0]
    assert soren.overdue and soren.days_overdue == 15 and soren.balance == Decimal("337.50")
    assert not result.invoices[1].overdue and result.invoices[1].days_overdue == 0
    assert result.total_open == Decimal("811.50") and result.as_of == TODAY.isoformat()


async def test_open_invoices_of_one_customer_and_overdue_only(qbo: QBOClient) -> None:
    mine = await list_open_invoices(
        qbo, ListOpenInvoicesInput(customer_name="Müller GmbH"), today=TODAY
    )
    overdue = await list_open_invoices(qbo, ListOpenInvoicesInput(overdue_only=True), today=TODAY)
    assert [i.balance for i in mine.invoices] == [Decimal("200.00")]
    assert [i.customer_name for i in overdue.invoices] == ["Søren Kierkegaard"]


async def test_get_an_invoice_by_number_with_lines_and_links(
    qbo: QBOClient, emulator: Emulator
) -> None:
    muller = named(emulator, "Müller GmbH")["Id"]
    invoice = next(i for i in objects(emulator, "Invoice") if i["CustomerRef"]["value"] == muller)
    result = await get_transaction(
        qbo, GetTransactionInput(kind="invoice", doc_number=invoice["DocNumber"])
    )
    assert result.kind == "invoice" and result.invoice is not None
    assert [line.amount for line in result.invoice.lines] == [Decimal("225.00"), Decimal("100.00")]
    assert {link.txn_type for link in result.links} == {"Estimate", "Payment"}


async def test_get_a_payment_by_id(qbo: QBOClient, emulator: Emulator) -> None:
    payment = next(p for p in objects(emulator, "Payment") if p.get("PaymentRefNum") == "4711")
    result = await get_transaction(qbo, GetTransactionInput(kind="payment", id=payment["Id"]))
    assert result.payment is not None and result.payment.total == Decimal("125.00")
    assert [a.amount for a in result.payment.applied] == [Decimal("125.00")]


async def test_an_id_used_by_several_kinds_asks_for_the_kind(qbo: QBOClient) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        await get_transaction(qbo, GetTransactionInput(id="1"))
    assert "kind" in str(raised.value)


async def test_an_unknown_transaction_is_refused(qbo: QBOClient) -> None:
    with pytest.raises(InvalidArgumentError):
        await get_transaction(qbo, GetTransactionInput(kind="estimate", id="424242"))


async def test_run_query_pages_with_a_cursor(qbo: QBOClient) -> None:
    first = await run_query(qbo, RunQueryInput(query="SELECT * FROM Customer", max_rows=5))
    assert len(first.rows) == 5 and first.next_start_position == 6
    rest = await run_query(
        qbo, RunQueryInput(query="select * from Customer", start_position=6, max_rows=100)
    )
    assert rest.next_start_position is None
    ids = [r["id"] for r in first.rows + rest.rows]
    assert len(ids) == len(set(ids)) == 11  # the active demo customers
    assert set(first.rows[0]) >= {"id", "display_name", "open_balance"}


async def test_run_query_counts(qbo: QBOClient) -> None:
    result = await run_query(qbo, RunQueryInput(query="SELECT COUNT(*) FROM Invoice"))
    assert result.total_count == 4 and result.rows == []


async def test_run_query_with_a_quoted_apostrophe(qbo: QBOClient) -> None:
    result = await run_query(
        qbo, RunQueryInput(query="select * from Customer where DisplayName = 'O\\'Brien Plumbing'")
    )
    assert [r["display_name"] for r in result.rows] == ["O'Brien Plumbing"]


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM Customer",
        "update Customer set Active = false",
        "select Id from Customer",
        "select * from Customer; select * from Invoice",
        "select * from Customer maxresults 5000",
        "select * from Customer STARTPOSITION 3",
        "  ",
    ],
)
async def test_run_query_refuses_anything_but_select_before_sending(
    qbo: QBOClient, text: str
) -> None:
    sent: list[str] = []
    real = qbo.query

    async def spy(query: Any) -> dict[str, Any]:
        sent.append(str(query))
        return await real(query)

    qbo.query = spy  # type: ignore[method-assign]
    with pytest.raises((InvalidArgumentError, ValidationError)):
        await run_query(qbo, RunQueryInput(query=text))
    assert sent == []


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["query", "start_position", "max_rows", "other"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=50), st.floats(), st.booleans()),
    )
)
def test_any_query_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    try:
        model = RunQueryInput.model_validate(fields)
    except ValidationError:
        return
    assert 1 <= model.max_rows <= 100 and model.start_position >= 1


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["kind", "id", "doc_number", "customer_id", "name", "type", "limit"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=30), st.booleans()),
    )
)
def test_any_read_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    for model in (GetTransactionInput, FindItemsInput, ListOpenInvoicesInput):
        try:
            model.model_validate(fields)
        except ValidationError:
            continue
