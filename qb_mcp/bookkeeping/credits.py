"""Giving money back: a credit memo (create_credit_memo) and a refund (refund).

A CreditMemo is credit the customer keeps (Intuit's CreditMemo reference): lines as an
estimate's, TotalAmt their sum, RemainingCredit what is left to use, and the customer's Balance
goes down by it. A RefundReceipt is money paid back at once (Intuit's RefundReceipt reference):
lines, how it was paid (PaymentMethodRef, PaymentRefNum) and the account it left
(DepositToAccountRef, required: a Bank or Other Current Asset account). Neither is owed later.

Retries. Money moves, so a retry must never give the credit or the refund twice, even a day
later: like a sales receipt, each carries a marker in PrivateNote (`[qb-mcp:credit:<hash>]`,
`[qb-mcp:refund:<hash>]`) of the call's resolved arguments, and the customer's objects of that
date are read for it first (neither entity can be filtered on TotalAmt). The marker check and the
write run as one write section per company ("credit_memos", "refunds"), keyed by the arguments,
so two identical calls at once write once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    BANK_ACCOUNT,
    CUSTOMER_ID,
    CUSTOMER_MEMO,
    CUSTOMER_NAME,
    IDEMPOTENCY_KEY,
    METHOD,
    NEXT_NUMBER,
    TODAY,
    DateIn,
    DocNumberIn,
    IdempotencyKeyIn,
    IdIn,
    InputModel,
    Line1,
    LineView,
    Text,
    amount_of,
    answer_text,
    exactly_one,
    find_marked,
    memo_marker,
    memo_text,
    ref_name,
    ref_value,
    resolve_customer,
    sales_lines,
    text,
)
from qb_mcp.bookkeeping.days import company_today
from qb_mcp.bookkeeping.receipts import deposit_account, marker_lines
from qb_mcp.bookkeeping.sales import MAX_LINES, EstimateLineInput, sales_line_bodies
from qb_mcp.bookkeeping.terms import payment_method
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store.intents import Intent, IntentSections, Section, sections_for

CREDIT_MARKER = "[qb-mcp:credit:"
REFUND_MARKER = "[qb-mcp:refund:"


class _CustomerLines(InputModel):
    """Who, what and when: what a credit memo and a refund share."""

    customer_id: IdIn | None = Field(default=None, description=CUSTOMER_ID)
    customer_name: Line1 | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description=CUSTOMER_NAME,
    )
    lines: list[EstimateLineInput] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="what is given back",
    )
    txn_date: DateIn | None = Field(default=None, description=TODAY)
    memo: Text | None = Field(default=None, max_length=1000, description=CUSTOMER_MEMO)
    doc_number: DocNumberIn | None = Field(default=None, description=NEXT_NUMBER)
    idempotency_key: IdempotencyKeyIn | None = Field(default=None, description=IDEMPOTENCY_KEY)

    @model_validator(mode="after")
    def _check(self) -> _CustomerLines:
        exactly_one(self.customer_id, self.customer_name, "customer_id or customer_name")
        return self


class CreateCreditMemoInput(_CustomerLines):
    """A credit for a customer, to use against their invoices."""


class RefundInput(_CustomerLines):
    """Money paid back to a customer."""

    from_account: Line1 = Field(min_length=1, max_length=100, description=BANK_ACCOUNT)
    method: Line1 | None = Field(default=None, max_length=31, description=METHOD)
    reference: Line1 | None = Field(default=None, max_length=21, description="check number")


class CreditMemoView(BaseModel):
    """The credit given."""

    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    txn_date: str | None = None
    total: Decimal
    remaining_credit: Decimal = Field(description="credit still to use")
    memo: str | None = None
    lines: list[LineView]
    already_recorded: bool = Field(description="True when a retried call found it")


class RefundView(BaseModel):
    """The refund paid."""

    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    txn_date: str | None = None
    total: Decimal
    method: str | None = None
    reference: str | None = None
    from_account: str | None = None
    memo: str | None = None
    lines: list[LineView]
    already_recorded: bool = Field(description="True when a retried call found it")


async def create_credit_memo(
    client: QBOClient,
    params: CreateCreditMemoInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
) -> CreditMemoView:
    """Give a customer credit once; every reference is resolved before anything is written."""
    txn_date = params.txn_date or today or company_today()
    basis = {**params.model_dump(mode="json"), "txn_date": txn_date.isoformat()}
    intent = Intent.of(client.realm_id, "create_credit_memo", basis, group="credit_memos")
    async with (sections or sections_for(None)).hold(intent) as section:
        body, marker, customer_id = await _common_body(client, params, txn_date, CREDIT_MARKER, ())
        existing = await _marked(client, "CreditMemo", customer_id, txn_date, marker)
        if existing is not None:
            await section.found("CreditMemo", answer_text("CreditMemo", existing))
            return credit_memo_view(existing, already=True)
        created = await client.create("CreditMemo", body)
        await section.written("CreditMemo")
        return credit_memo_view(created, already=False)


async def refund(
    client: QBOClient,
    params: RefundInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
) -> RefundView:
    """Pay a customer back once; every reference is resolved before anything is written."""
    txn_date = params.txn_date or today or company_today()
    basis = {**params.model_dump(mode="json"), "txn_date": txn_date.isoformat()}
    intent = Intent.of(client.realm_id, "refund", basis, group="refunds")
    async with (sections or sections_for(None)).hold(intent) as section:
        return await _refund(client, params, txn_date, section)


async def _refund(
    client: QBOClient, params: RefundInput, txn_date: date, section: Section
) -> RefundView:
    # Resolved before the lines, in the order a refusal is most useful: where the money comes from.
    account = await deposit_account(client, params.from_account)
    method = await payment_method(client, params.method) if params.method else None
    extra = (
        str(account["Id"]),
        (params.method or "").casefold(),
        params.reference or "",
    )
    body, marker, customer_id = await _common_body(client, params, txn_date, REFUND_MARKER, extra)
    existing = await _marked(client, "RefundReceipt", customer_id, txn_date, marker)
    if existing is not None:
        await section.found("RefundReceipt", answer_text("RefundReceipt", existing))
        return refund_view(existing, already=True, method=method)
    body["DepositToAccountRef"] = {"value": str(account["Id"])}
    if method is not None:
        body["PaymentMethodRef"] = {"value": method["value"]}
    if params.reference:
        body["PaymentRefNum"] = params.reference
    created = await client.create("RefundReceipt", body)
    await section.written("RefundReceipt")
    return refund_view(created, already=False, method=method)


async def _common_body(
    client: QBOClient,
    params: _CustomerLines,
    txn_date: date,
    prefix: str,
    extra: tuple[str, ...],
) -> tuple[dict[str, Any], str, str]:
    """The body both write (customer, date, lines, memo, number), its marker, the customer id."""
    customer = await resolve_customer(
        client, customer_id=params.customer_id, customer_name=params.customer_name
    )
    customer_id = str(customer["Id"])
    lines = await sales_line_bodies(client, params.lines)
    marker = memo_marker(
        prefix,
        (
            customer_id,
            txn_date.isoformat(),
            *marker_lines(lines),
            *extra,
            params.idempotency_key or "",
        ),
    )
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "PrivateNote": marker,
    }
    if params.memo:
        body["CustomerMemo"] = {"value": params.memo}
    if params.doc_number:
        body["DocNumber"] = params.doc_number
    return body, marker, customer_id


async def _marked(
    client: QBOClient, entity: str, customer_id: str, txn_date: date, marker: str
) -> dict[str, Any] | None:
    # Neither entity is filterable on TotalAmt (their references): the marker alone decides.
    return await find_marked(
        client, entity, customer_id=customer_id, total=None, txn_date=txn_date, marker=marker
    )


def credit_memo_view(memo: Mapping[str, Any], *, already: bool) -> CreditMemoView:
    """The trimmed view of a credit memo."""
    total = amount_of(memo.get("TotalAmt"))
    remaining = memo.get("RemainingCredit")
    return CreditMemoView(
        id=str(memo.get("Id", "")),
        doc_number=text(memo.get("DocNumber")),
        customer_id=ref_value(memo, "CustomerRef"),
        customer_name=ref_name(memo, "CustomerRef"),
        txn_date=text(memo.get("TxnDate")),
        total=total,
        remaining_credit=total if remaining is None else amount_of(remaining),
        memo=memo_text(memo),
        lines=sales_lines(memo),
        already_recorded=already,
    )


def refund_view(
    receipt: Mapping[str, Any], *, already: bool, method: Mapping[str, str] | None = None
) -> RefundView:
    """The trimmed view of a refund receipt."""
    return RefundView(
        id=str(receipt.get("Id", "")),
        doc_number=text(receipt.get("DocNumber")),
        customer_id=ref_value(receipt, "CustomerRef"),
        customer_name=ref_name(receipt, "CustomerRef"),
        txn_date=text(receipt.get("TxnDate")),
        total=amount_of(receipt.get("TotalAmt")),
        method=(method or {}).get("name") or ref_name(receipt, "PaymentMethodRef"),
        reference=text(receipt.get("PaymentRefNum")),
        from_account=ref_name(receipt, "DepositToAccountRef")
        or ref_value(receipt, "DepositToAccountRef"),
        memo=memo_text(receipt),
        lines=sales_lines(receipt),
        already_recorded=already,
    )


__all__ = [
    "CreateCreditMemoInput",
    "CreditMemoView",
    "RefundInput",
    "RefundView",
    "create_credit_memo",
    "refund",
]
