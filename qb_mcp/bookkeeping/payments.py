"""Payments: apply money received to invoices, oldest first or as told.

Choices where the brief is silent:
- Invoices are named by `invoice_ids` and/or `invoice_doc_numbers`; the amount is applied to them
  in the order given, each paid up to its open balance before the next. Without invoices, the
  customer's open invoices are paid oldest first (DueDate, then TxnDate, then Id).
- The payment method is found by name in the company's PaymentMethod list (`terms.py`; case and
  spacing ignored) and sent as PaymentMethodRef; an unknown name is refused, listing the methods.
- Retries. Each payment carries a marker in PrivateNote, `[qb-mcp:pay:<hash>]`, the hash of the
  call's resolved arguments (customer, amount, date, invoices asked for or "oldest", method,
  reference, leave_credit, idempotency_key). Before writing, the customer's payments of that
  amount on that date are read and a payment with the marker is returned instead of a new one
  (`already_recorded=True`). So a retried call never records twice even after the invoices'
  balances changed (which changes the request body, and with it the client's derived requestid).
  Two genuinely separate payments with identical arguments need distinct idempotency keys.
- Concurrent retries. The marker check, the balances it depends on and the write run as one
  write section (`qb_mcp.store.intents`), so a second identical call waits for the first and then
  finds its marker. The section's key holds only the marker's fields that name one thing one way
  (amount, date, method, reference, leave_credit, idempotency_key): the customer and the
  invoices can be named by id or by name/number, and two spellings of one payment must meet in
  one section. Unrelated payments of one amount on one day only wait for each other.
- Refusals (nothing written): an invoice of another customer, a paid or voided invoice, an amount
  above the invoices' open balances without leave_credit, a customer with nothing open and no
  leave_credit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    CUSTOMER_ID,
    CUSTOMER_NAME,
    IDEMPOTENCY_KEY,
    METHOD,
    TODAY,
    ZERO,
    DateIn,
    DocNumberIn,
    IdempotencyKeyIn,
    IdIn,
    InputModel,
    Line1,
    PositiveAmountIn,
    Text,
    amount_of,
    answer_text,
    find_marked,
    is_voided,
    memo_marker,
    parse_day,
    record_label,
    ref_name,
    ref_value,
    resolve_customer,
    resolve_transaction,
    text,
    transaction_label,
)
from qb_mcp.bookkeeping.days import company_today
from qb_mcp.bookkeeping.terms import payment_method
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted
from qb_mcp.store.intents import Intent, IntentSections, Section, sections_for

MAX_INVOICES = 100
# Open invoices considered when none are named (oldest first): enough for any real backlog.
MAX_OPEN = 1000
MARKER_PREFIX = "[qb-mcp:pay:"


class RecordPaymentInput(InputModel):
    """Money received from a customer, and which invoices it pays."""

    customer_id: IdIn | None = Field(default=None, description=CUSTOMER_ID)
    customer_name: Line1 | None = Field(
        default=None, min_length=1, max_length=500, description=CUSTOMER_NAME
    )
    amount: PositiveAmountIn = Field(description="received")
    invoice_ids: list[IdIn] = Field(
        default_factory=list, max_length=MAX_INVOICES, description="to pay, in order"
    )
    invoice_doc_numbers: list[DocNumberIn] = Field(
        default_factory=list, max_length=MAX_INVOICES, description="by number, after ids"
    )
    txn_date: DateIn | None = Field(default=None, description=TODAY)
    method: Line1 | None = Field(default=None, max_length=31, description=METHOD)
    reference: Line1 | None = Field(
        default=None, max_length=21, description="check/transfer number"
    )
    memo: Text | None = Field(default=None, max_length=1000, description="private note")
    leave_credit: bool = Field(default=False, description="keep overpayment as credit")
    idempotency_key: IdempotencyKeyIn | None = Field(default=None, description=IDEMPOTENCY_KEY)

    @model_validator(mode="after")
    def _check(self) -> RecordPaymentInput:
        named = self.invoice_ids or self.invoice_doc_numbers
        if self.customer_id is not None and self.customer_name is not None:
            raise ValueError("give customer_id or customer_name, not both")
        if not named and self.customer_id is None and self.customer_name is None:
            raise ValueError("give the customer (customer_id or customer_name) or the invoices")
        if len(set(self.invoice_ids)) != len(self.invoice_ids) or len(
            {d.casefold() for d in self.invoice_doc_numbers}
        ) != len(self.invoice_doc_numbers):
            raise ValueError("an invoice is named twice")
        return self


class AppliedView(BaseModel):
    """What the payment applied to one invoice, and what that invoice still owes."""

    invoice_id: str
    doc_number: str | None = None
    applied: Decimal
    remaining_balance: Decimal


class PaymentResult(BaseModel):
    """The recorded payment."""

    payment_id: str
    customer_id: str | None
    customer_name: str | None
    txn_date: str | None
    total: Decimal
    applied: list[AppliedView]
    unapplied: Decimal = Field(description="left on the customer as credit")
    reference: str | None = None
    method: str | None = Field(default=None, description="payment method, as QuickBooks names it")
    already_recorded: bool = Field(description="True when a retried call found the payment")


async def record_payment(
    client: QBOClient,
    params: RecordPaymentInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
) -> PaymentResult:
    """Record a payment and apply it; refuses over-application unless leave_credit."""
    today = today or company_today()
    txn_date = params.txn_date or today
    intent = Intent.of(client.realm_id, "record_payment", _intent_basis(params, txn_date))
    async with (sections or sections_for(None)).hold(intent) as section:
        return await _record(client, params, txn_date, section)


def _intent_basis(params: RecordPaymentInput, txn_date: date) -> dict[str, str]:
    # Computed before anything is read (module docstring, "Concurrent retries").
    return {
        "amount": format(params.amount, "f"),
        "txn_date": txn_date.isoformat(),
        "method": params.method or "",
        "reference": params.reference or "",
        "credit": "yes" if params.leave_credit else "",
        "key": params.idempotency_key or "",
    }


async def _record(
    client: QBOClient, params: RecordPaymentInput, txn_date: date, section: Section
) -> PaymentResult:
    named: list[dict[str, Any]] = []
    for invoice_id in params.invoice_ids:
        named.append(
            await resolve_transaction(client, "Invoice", txn_id=invoice_id, doc_number=None)
        )
    for number in params.invoice_doc_numbers:
        named.append(await resolve_transaction(client, "Invoice", txn_id=None, doc_number=number))
    if len({str(i["Id"]) for i in named}) != len(named):
        raise InvalidArgumentError("the same invoice is named twice (by id and by number)")
    if params.customer_id is not None or params.customer_name is not None:
        customer = await resolve_customer(
            client, customer_id=params.customer_id, customer_name=params.customer_name
        )
        customer_id = str(customer["Id"])
    else:
        customer_id = str(ref_value(named[0], "CustomerRef"))
        customer = await resolve_customer(client, customer_id=customer_id, customer_name=None)
    # A retried call is answered before the checks: its invoices may be paid by now.
    marker = _marker(params, customer_id, txn_date, [str(i["Id"]) for i in named])
    existing = await find_marked(
        client,
        "Payment",
        customer_id=customer_id,
        total=params.amount,
        txn_date=txn_date,
        marker=marker,
    )
    if existing is not None:
        await section.found("Payment", answer_text("Payment", existing))
        return await _result(client, existing, already=True)
    method = await payment_method(client, params.method) if params.method else None
    for invoice in named:
        _check_payable(invoice, customer_id, customer)
    invoices = named or await _oldest_open(client, customer_id)
    open_total = sum((amount_of(i.get("Balance")) for i in invoices), ZERO)
    if params.amount > open_total and not params.leave_credit:
        what = "the named invoices" if named else "the customer's open invoices"
        raise InvalidArgumentError(
            f"the payment of {params.amount} is more than {what} owe ({open_total}); nothing "
            "was written. Check the amount, name more invoices, or pass leave_credit=true to "
            f"keep the extra {params.amount - open_total} as customer credit"
        )
    lines: list[dict[str, Any]] = []
    left = params.amount
    for invoice in invoices:
        if left <= 0:
            break
        applied = min(left, amount_of(invoice.get("Balance")))
        if applied > 0:
            lines.append(
                {
                    "Amount": applied,
                    "LinkedTxn": [{"TxnId": str(invoice["Id"]), "TxnType": "Invoice"}],
                }
            )
            left -= applied
    note = " | ".join(p for p in (params.memo, marker) if p)
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": params.amount,
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "PrivateNote": note,
    }
    if params.reference:
        body["PaymentRefNum"] = params.reference
    if method is not None:
        body["PaymentMethodRef"] = {"value": method["value"]}
    created = await client.create("Payment", body)
    await section.written("Payment")
    return await _result(client, created, already=False, method=method["name"] if method else None)


def _check_payable(
    invoice: Mapping[str, Any], customer_id: str, customer: Mapping[str, Any]
) -> None:
    label = transaction_label("invoice", invoice)
    owner = ref_value(invoice, "CustomerRef")
    if owner != customer_id:
        owner_name = quoted(ref_name(invoice, "CustomerRef"), label="name from QuickBooks")
        raise InvalidArgumentError(
            f"{label} belongs to customer {owner} {owner_name}, not to "
            f"{record_label('customer', customer)}; nothing was written. "
            "Record separate payments per customer (list_open_invoices shows whose is whose)"
        )
    if is_voided(invoice):
        raise InvalidArgumentError(
            f"{label} is voided and cannot be paid; nothing was written. Pay another invoice "
            "(list_open_invoices), or leave the money as credit with leave_credit=true and no "
            "invoices"
        )
    if amount_of(invoice.get("Balance")) <= 0:
        raise InvalidArgumentError(
            f"{label} is already paid in full; nothing was written. list_open_invoices shows "
            "what is still open"
        )


async def _oldest_open(client: QBOClient, customer_id: str) -> list[dict[str, Any]]:
    query = (
        Query.select("Invoice")
        .where("CustomerRef", "=", customer_id)
        .where("Balance", ">", Decimal(0))
        .order_by("DueDate")
    )
    rows: list[dict[str, Any]] = []
    async for row in client.query_all(query):
        if not is_voided(row) and amount_of(row.get("Balance")) > 0:
            rows.append(row)
        if len(rows) >= MAX_OPEN:
            break
    far = date.max
    rows.sort(
        key=lambda r: (
            parse_day(r.get("DueDate")) or far,
            parse_day(r.get("TxnDate")) or far,
            int(r["Id"]) if str(r.get("Id", "")).isdigit() else 0,
        )
    )
    return rows


def _marker(
    params: RecordPaymentInput, customer_id: str, txn_date: date, invoice_ids: list[str]
) -> str:
    return memo_marker(
        MARKER_PREFIX,
        (
            customer_id,
            format(params.amount, "f"),
            txn_date.isoformat(),
            ",".join(invoice_ids) or "oldest",
            params.method or "",
            params.reference or "",
            "credit" if params.leave_credit else "",
            params.idempotency_key or "",
        ),
    )


async def _result(
    client: QBOClient, payment: Mapping[str, Any], *, already: bool, method: str | None = None
) -> PaymentResult:
    applied: list[AppliedView] = []
    lines = payment.get("Line")
    for line in lines if isinstance(lines, list) else []:
        linked = line.get("LinkedTxn") if isinstance(line, Mapping) else None
        if not isinstance(linked, list) or not linked or not isinstance(linked[0], Mapping):
            continue
        invoice_id = str(linked[0].get("TxnId"))
        invoice = await client.get("Invoice", invoice_id)
        applied.append(
            AppliedView(
                invoice_id=invoice_id,
                doc_number=text(invoice.get("DocNumber")),
                applied=amount_of(line.get("Amount")),
                remaining_balance=amount_of(invoice.get("Balance")),
            )
        )
    return PaymentResult(
        payment_id=str(payment.get("Id", "")),
        customer_id=ref_value(payment, "CustomerRef"),
        customer_name=ref_name(payment, "CustomerRef"),
        txn_date=text(payment.get("TxnDate")),
        total=amount_of(payment.get("TotalAmt")),
        applied=applied,
        unapplied=amount_of(payment.get("UnappliedAmt")),
        reference=text(payment.get("PaymentRefNum")),
        method=method or ref_name(payment, "PaymentMethodRef"),
        already_recorded=already,
    )
