"""Sales receipts: a sale paid at once (create_sales_receipt).

A SalesReceipt is an invoice and its payment in one (Intuit's SalesReceipt reference): lines as
an estimate's, how it was paid (PaymentMethodRef, PaymentRefNum) and where the money went
(DepositToAccountRef; QuickBooks' default is Undeposited Funds). Nothing stays owed.

Choices where the brief is silent:
- Retries. Money was received, so a retry must never record the sale twice, even a day later:
  each receipt carries a marker in PrivateNote, `[qb-mcp:sale:<hash>]`, the hash of the call's
  resolved arguments (customer, date, lines, method, reference, deposit account, idempotency
  key). Before writing, the customer's receipts of that total on that date are read and one
  with the marker is returned (`already_recorded=True`), as record_payment does.
- The deposit account is named by id or name and must be a Bank or Other Current Asset account.
- Concurrent repeats: the marker check and the write run as one write section per company
  ("sales_receipts"; customers and items can be named by id or by name), keyed by the arguments.
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
    ZERO,
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
from qb_mcp.bookkeeping.directory import Directory
from qb_mcp.bookkeeping.sales import MAX_LINES, EstimateLineInput, sales_line_bodies
from qb_mcp.bookkeeping.terms import payment_method
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted
from qb_mcp.store.intents import Intent, IntentSections, Section, sections_for

MARKER_PREFIX = "[qb-mcp:sale:"
DEPOSIT_TYPES = ("Bank", "Other Current Asset")


class CreateSalesReceiptInput(InputModel):
    """A sale paid at once."""

    customer_id: IdIn | None = Field(default=None, description=CUSTOMER_ID)
    customer_name: Line1 | None = Field(
        default=None, min_length=1, max_length=500, description=CUSTOMER_NAME
    )
    lines: list[EstimateLineInput] = Field(
        min_length=1, max_length=MAX_LINES, description="what was sold"
    )
    txn_date: DateIn | None = Field(default=None, description=TODAY)
    method: Line1 | None = Field(default=None, max_length=31, description=METHOD)
    reference: Line1 | None = Field(
        default=None, max_length=21, description="check/transfer number"
    )
    deposit_account: Line1 | None = Field(default=None, max_length=100, description=BANK_ACCOUNT)
    memo: Text | None = Field(default=None, max_length=1000, description=CUSTOMER_MEMO)
    doc_number: DocNumberIn | None = Field(default=None, description=NEXT_NUMBER)
    idempotency_key: IdempotencyKeyIn | None = Field(default=None, description=IDEMPOTENCY_KEY)

    @model_validator(mode="after")
    def _check(self) -> CreateSalesReceiptInput:
        exactly_one(self.customer_id, self.customer_name, "customer_id or customer_name")
        return self


class SalesReceiptView(BaseModel):
    """The recorded sale."""

    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    txn_date: str | None = None
    total: Decimal
    method: str | None = None
    reference: str | None = None
    deposit_account: str | None = None
    memo: str | None = None
    lines: list[LineView]
    already_recorded: bool = Field(description="True when a retried call found the sale")


async def create_sales_receipt(
    client: QBOClient,
    params: CreateSalesReceiptInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
    directory: Directory | None = None,
) -> SalesReceiptView:
    """Record a paid sale once; every reference is resolved before anything is written (items
    from the company's `directory` when given)."""
    txn_date = params.txn_date or today or company_today()
    basis = {**params.model_dump(mode="json"), "txn_date": txn_date.isoformat()}
    intent = Intent.of(client.realm_id, "create_sales_receipt", basis, group="sales_receipts")
    async with (sections or sections_for(None)).hold(intent) as section:
        return await _create(client, params, txn_date, section, directory)


async def _create(
    client: QBOClient,
    params: CreateSalesReceiptInput,
    txn_date: date,
    section: Section,
    directory: Directory | None,
) -> SalesReceiptView:
    customer = await resolve_customer(
        client, customer_id=params.customer_id, customer_name=params.customer_name
    )
    customer_id = str(customer["Id"])
    lines = await sales_line_bodies(client, params.lines, directory=directory)
    method = await payment_method(client, params.method) if params.method else None
    account = (
        await deposit_account(client, params.deposit_account) if params.deposit_account else None
    )
    total = sum((amount_of(line["Amount"]) for line in lines), ZERO)
    marker = _marker(params, customer_id, txn_date, lines, account)
    existing = await find_marked(
        client,
        "SalesReceipt",
        customer_id=customer_id,
        total=total,
        txn_date=txn_date,
        marker=marker,
    )
    if existing is not None:
        await section.found("SalesReceipt", answer_text("SalesReceipt", existing))
        return receipt_view(existing, already=True, method=method)
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "PrivateNote": marker,
    }
    if method is not None:
        body["PaymentMethodRef"] = {"value": method["value"]}
    if account is not None:
        body["DepositToAccountRef"] = {"value": str(account["Id"])}
    if params.reference:
        body["PaymentRefNum"] = params.reference
    if params.memo:
        body["CustomerMemo"] = {"value": params.memo}
    if params.doc_number:
        body["DocNumber"] = params.doc_number
    created = await client.create("SalesReceipt", body)
    await section.written("SalesReceipt")
    return receipt_view(created, already=False, method=method)


def receipt_view(
    receipt: Mapping[str, Any], *, already: bool, method: Mapping[str, str] | None = None
) -> SalesReceiptView:
    """The trimmed view of a sales receipt."""
    return SalesReceiptView(
        id=str(receipt.get("Id", "")),
        doc_number=text(receipt.get("DocNumber")),
        customer_id=ref_value(receipt, "CustomerRef"),
        customer_name=ref_name(receipt, "CustomerRef"),
        txn_date=text(receipt.get("TxnDate")),
        total=amount_of(receipt.get("TotalAmt")),
        method=(method or {}).get("name") or ref_name(receipt, "PaymentMethodRef"),
        reference=text(receipt.get("PaymentRefNum")),
        deposit_account=ref_name(receipt, "DepositToAccountRef")
        or ref_value(receipt, "DepositToAccountRef"),
        memo=memo_text(receipt),
        lines=sales_lines(receipt),
        already_recorded=already,
    )


async def deposit_account(client: QBOClient, name_or_id: str) -> dict[str, Any]:
    """The Bank or Other Current Asset account named (or with that id); a refusal lists them.
    Money in (a sale) and money out (a refund) both name one of these."""
    rows: list[dict[str, Any]] = []
    for prop in ("Id", "Name") if name_or_id.isdigit() else ("Name",):
        found = await client.query(Query.select("Account").where(prop, "=", name_or_id))
        rows = [r for r in found.get("Account", []) if isinstance(r, dict)]
        if rows:
            break
    if rows and rows[0].get("AccountType") in DEPOSIT_TYPES:
        return rows[0]
    banks: list[str] = []
    for kind in DEPOSIT_TYPES:
        found = await client.query(Query.select("Account").where("AccountType", "=", kind))
        banks += [quoted(str(a.get("Name", "")), limit=60) for a in found.get("Account", [])]
    what = "is not a bank or Undeposited Funds account" if rows else "is not an account"
    raise InvalidArgumentError(
        f"{quoted(name_or_id)} {what}; nothing was written. Deposit accounts: "
        f"{', '.join(banks) or 'none'}"
    )


def _marker(
    params: CreateSalesReceiptInput,
    customer_id: str,
    txn_date: date,
    lines: list[dict[str, Any]],
    account: Mapping[str, Any] | None,
) -> str:
    return memo_marker(
        MARKER_PREFIX,
        (
            customer_id,
            txn_date.isoformat(),
            *marker_lines(lines),
            (params.method or "").casefold(),
            params.reference or "",
            str(account["Id"]) if account else "",
            params.idempotency_key or "",
        ),
    )


def marker_lines(lines: list[dict[str, Any]]) -> list[str]:
    """The sales line bodies as marker parts: item, quantity, price and text of each."""
    return [
        "|".join(
            (
                str(line["SalesItemLineDetail"]["ItemRef"]["value"]),
                format(line["SalesItemLineDetail"]["Qty"], "f"),
                format(line["SalesItemLineDetail"]["UnitPrice"], "f"),
                line.get("Description", ""),
            )
        )
        for line in lines
    ]
