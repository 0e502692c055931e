"""Quotes and invoices: create an estimate, convert an estimate into an invoice.

Choices where the brief is silent:
- Customer and items are given by id or by name (exactly one of each pair). A name must name one
  active record; otherwise the refusal lists the candidates (ids and names) to choose from.
- Line amounts are `money.line_amount(quantity, unit_price)`, QuickBooks' own check (6070); the
  unit price defaults to the item's UnitPrice, and an item without one needs `unit_price`.
- Due date of a converted invoice: the `due_date` given; else the customer's terms (SalesTermRef,
  read from QuickBooks: `terms.py`), also set on the invoice; else none is sent and QuickBooks
  applies the company's default terms. The result says which rule was used.
- Expired: an estimate whose ExpirationDate is before today is refused, unless it was accepted
  (AcceptedDate) on or before its ExpirationDate: the customer said yes in time.
- "Today" is the company's (`days.company_today`, never the UTC date): operations take `today`
  (the tools pass the server clock's company day), so tests inject it. A date the user did not
  give is sent explicitly, so an estimate, its invoice and the payment made in one go carry the
  same date whatever QuickBooks' own clock says.
- Conversion is idempotent three ways: the estimate's LinkedTxn is read first (an invoice already
  linked is returned, the estimate closed if it is not yet); the invoice create's idempotency key
  is derived from the estimate id and its SyncToken before conversion (a retry after a lost answer
  re-sends the same requestid; after the invoice is deleted the estimate's SyncToken has moved on,
  so a new conversion is possible); and QuickBooks itself links one invoice per estimate.
- Concurrent calls. Each write runs its check and its write as one write section
  (`qb_mcp.store.intents`): create_estimate keyed by its arguments (or its idempotency key), so
  a second identical call waits and then replays the first one's answer from the ledger;
  convert_estimate keyed by the estimate as named, so a second call waits and then finds the
  linked invoice and the closed estimate. (An estimate named once by id and once by number meets
  the requestid derived from the estimate and its SyncToken, and QuickBooks' one invoice per
  estimate.)
- Closing the estimate is a separate write after the invoice exists. If it fails, the invoice is
  still returned, with `estimate_status` as it is and a `warning` saying to convert again (which
  finds the invoice and retries the close).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from qb_mcp import money
from qb_mcp.bookkeeping.common import (
    CUSTOMER_ID,
    CUSTOMER_MEMO,
    CUSTOMER_NAME,
    DOC_NUMBER,
    IDEMPOTENCY_KEY,
    ITEM_ID,
    ITS_ID,
    LATEST_DATE,
    NEXT_NUMBER,
    TODAY,
    DateIn,
    DocNumberIn,
    IdempotencyKeyIn,
    IdIn,
    InputModel,
    Line1,
    LineView,
    LinkView,
    PriceIn,
    QuantityIn,
    Text,
    amount_of,
    answer_text,
    exactly_one,
    get_or_none,
    links,
    memo_text,
    parse_day,
    record_label,
    ref_name,
    ref_value,
    resolve_customer,
    resolve_item,
    resolve_transaction,
    sales_lines,
    text,
    transaction_label,
)
from qb_mcp.bookkeeping.days import company_today
from qb_mcp.bookkeeping.directory import Directory
from qb_mcp.bookkeeping.terms import customer_terms
from qb_mcp.errors import InvalidArgumentError, QbMcpError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.idempotency import derive_key
from qb_mcp.quoting import quoted
from qb_mcp.store.intents import Intent, IntentSections, Section, sections_for

DEFAULT_TERMS_DAYS = 30
MAX_LINES = 100


# ---- create_estimate ---------------------------------------------------------------------------


class EstimateLineInput(InputModel):
    """One line of the estimate: an item, how many, at what price."""

    item_id: IdIn | None = Field(default=None, description=ITEM_ID)
    item_name: Line1 | None = Field(
        default=None, min_length=1, max_length=100, description="exact name"
    )
    description: Text | None = Field(default=None, max_length=4000, description="line text")
    quantity: QuantityIn = Field(default=Decimal(1), description="up to 7 decimals")
    unit_price: PriceIn | None = Field(default=None, description="default: item price")

    @model_validator(mode="after")
    def _item(self) -> EstimateLineInput:
        exactly_one(self.item_id, self.item_name, "item_id or item_name")
        return self


class CreateEstimateInput(InputModel):
    """A quote for a customer. Nothing is written if anything is wrong."""

    customer_id: IdIn | None = Field(default=None, description=CUSTOMER_ID)
    customer_name: Line1 | None = Field(
        default=None, min_length=1, max_length=500, description=CUSTOMER_NAME
    )
    lines: list[EstimateLineInput] = Field(
        min_length=1, max_length=MAX_LINES, description="in order"
    )
    txn_date: DateIn | None = Field(default=None, description=TODAY)
    expiration_date: DateIn | None = Field(default=None, description="valid until")
    memo: Text | None = Field(default=None, max_length=1000, description=CUSTOMER_MEMO)
    doc_number: DocNumberIn | None = Field(default=None, description=NEXT_NUMBER)
    idempotency_key: IdempotencyKeyIn | None = Field(default=None, description=IDEMPOTENCY_KEY)

    @model_validator(mode="after")
    def _check(self) -> CreateEstimateInput:
        exactly_one(self.customer_id, self.customer_name, "customer_id or customer_name")
        if self.txn_date and self.expiration_date and self.expiration_date < self.txn_date:
            raise ValueError("expiration_date is before txn_date")
        return self


class EstimateView(BaseModel):
    """An estimate, trimmed."""

    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    txn_date: str | None = None
    expiration_date: str | None = None
    status: str | None = Field(default=None, description="Pending, Accepted, Closed, Rejected…")
    total: Decimal
    memo: str | None = None
    lines: list[LineView]
    links: list[LinkView] = Field(description="the invoice it was converted to, if any")


def estimate_view(estimate: Mapping[str, Any]) -> EstimateView:
    """The trimmed view of a QuickBooks estimate."""
    return EstimateView(
        id=str(estimate.get("Id", "")),
        doc_number=text(estimate.get("DocNumber")),
        customer_id=ref_value(estimate, "CustomerRef"),
        customer_name=ref_name(estimate, "CustomerRef"),
        txn_date=text(estimate.get("TxnDate")),
        expiration_date=text(estimate.get("ExpirationDate")),
        status=text(estimate.get("TxnStatus")),
        total=amount_of(estimate.get("TotalAmt")),
        memo=memo_text(estimate),
        lines=sales_lines(estimate),
        links=links(estimate),
    )


async def sales_line_bodies(
    client: QBOClient, lines: list[EstimateLineInput], *, directory: Directory | None = None
) -> list[dict[str, Any]]:
    """QuickBooks' SalesItemLineDetail lines for `lines` (an estimate's or a sales receipt's):
    items resolved, prices defaulted from the item, Amount = Qty x UnitPrice as QuickBooks
    checks it (6070). With the company's `directory`, items are resolved from it after at most
    one CDC request for all the lines."""
    if directory is not None:
        await directory.fresh()
    bodies: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            item = await resolve_item(
                client, item_id=line.item_id, item_name=line.item_name, directory=directory
            )
        except InvalidArgumentError as error:
            raise InvalidArgumentError(f"line {number}: {error}") from None
        price = line.unit_price
        if price is None:
            price = item.get("UnitPrice")
            if isinstance(price, bool) or not isinstance(price, Decimal | int):
                raise InvalidArgumentError(
                    f"line {number}: {record_label('item', item, name_key='Name')} has no "
                    "unit price; give unit_price"
                )
            price = Decimal(price)
        amount = money.line_amount(line.quantity, price)
        body: dict[str, Any] = {
            "DetailType": "SalesItemLineDetail",
            "Amount": amount,
            "SalesItemLineDetail": {
                "ItemRef": {"value": str(item["Id"])},
                "Qty": line.quantity,
                "UnitPrice": price,
            },
        }
        if line.description:
            body["Description"] = line.description
        bodies.append(body)
    return bodies


async def create_estimate(
    client: QBOClient,
    params: CreateEstimateInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
    directory: Directory | None = None,
) -> EstimateView:
    """Create an estimate; every reference is resolved before anything is written (items from
    the company's `directory` when given)."""
    txn_date = params.txn_date or today or company_today()
    if params.expiration_date and params.expiration_date < txn_date:
        raise InvalidArgumentError(
            f"expiration_date {params.expiration_date.isoformat()} is before the estimate's date "
            f"{txn_date.isoformat()}; nothing was written"
        )
    # The company's day is part of the intent: the same estimate asked for on another day is
    # another estimate (as its requestid, derived from the body with its TxnDate, says too).
    basis = (
        {"key": params.idempotency_key}
        if params.idempotency_key is not None
        else {**params.model_dump(mode="json"), "txn_date": txn_date.isoformat()}
    )
    intent = Intent.of(client.realm_id, "create_estimate", basis)
    async with (sections or sections_for(None)).hold(intent):
        return await _create_estimate(client, params, txn_date, directory)


async def _create_estimate(
    client: QBOClient, params: CreateEstimateInput, txn_date: date, directory: Directory | None
) -> EstimateView:
    customer = await resolve_customer(
        client, customer_id=params.customer_id, customer_name=params.customer_name
    )
    lines = await sales_line_bodies(client, params.lines, directory=directory)
    estimate: dict[str, Any] = {
        "CustomerRef": {"value": str(customer["Id"])},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
    }
    if params.expiration_date:
        estimate["ExpirationDate"] = params.expiration_date.isoformat()
    if params.memo:
        estimate["CustomerMemo"] = {"value": params.memo}
    if params.doc_number:
        estimate["DocNumber"] = params.doc_number
    created = await client.create("Estimate", estimate, idempotency_key=params.idempotency_key)
    return estimate_view(created)


# ---- convert_estimate --------------------------------------------------------------------------


class ConvertEstimateInput(InputModel):
    """Which estimate to invoice, and the invoice's dates."""

    estimate_id: IdIn | None = Field(default=None, description=ITS_ID)
    estimate_doc_number: DocNumberIn | None = Field(default=None, description=DOC_NUMBER)
    txn_date: DateIn | None = Field(default=None, description=TODAY)
    due_date: DateIn | None = Field(default=None, description="default: by terms")

    @model_validator(mode="after")
    def _check(self) -> ConvertEstimateInput:
        exactly_one(
            self.estimate_id, self.estimate_doc_number, "estimate_id or estimate_doc_number"
        )
        if self.txn_date and self.due_date and self.due_date < self.txn_date:
            raise ValueError("due_date is before txn_date")
        if self.txn_date and self.due_date is None:
            due = self.txn_date + timedelta(days=DEFAULT_TERMS_DAYS)
            if due > LATEST_DATE:
                raise ValueError(
                    f"the default due date ({DEFAULT_TERMS_DAYS} days after txn_date) is after "
                    f"{LATEST_DATE.isoformat()}, the last date QuickBooks takes here; give due_date"
                )
        return self


class InvoiceView(BaseModel):
    """An invoice, trimmed."""

    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    txn_date: str | None = None
    due_date: str | None = None
    total: Decimal
    balance: Decimal = Field(description="still owed; 0 means paid")
    status: Literal["open", "paid", "voided"]
    memo: str | None = None
    lines: list[LineView]
    links: list[LinkView] = Field(description="its estimate and the payments applied to it")


def invoice_view(invoice: Mapping[str, Any]) -> InvoiceView:
    """The trimmed view of a QuickBooks invoice."""
    from qb_mcp.bookkeeping.common import is_voided

    balance = amount_of(invoice.get("Balance"))
    status: Literal["open", "paid", "voided"] = (
        "voided" if is_voided(invoice) else "open" if balance > 0 else "paid"
    )
    return InvoiceView(
        id=str(invoice.get("Id", "")),
        doc_number=text(invoice.get("DocNumber")),
        customer_id=ref_value(invoice, "CustomerRef"),
        customer_name=ref_name(invoice, "CustomerRef"),
        txn_date=text(invoice.get("TxnDate")),
        due_date=text(invoice.get("DueDate")),
        total=amount_of(invoice.get("TotalAmt")),
        balance=balance,
        status=status,
        memo=memo_text(invoice),
        lines=sales_lines(invoice),
        links=links(invoice),
    )


class ConvertEstimateResult(BaseModel):
    """The invoice and what became of the estimate."""

    invoice: InvoiceView
    estimate_id: str
    estimate_status: str | None
    already_converted: bool = Field(description="True when the invoice existed before this call")
    due_date_rule: str = Field(description="how the due date was chosen")
    warning: str | None = None


async def convert_estimate(
    client: QBOClient,
    params: ConvertEstimateInput,
    *,
    today: date | None = None,
    sections: IntentSections | None = None,
) -> ConvertEstimateResult:
    """Invoice an estimate (linked through LinkedTxn), then close the estimate; never twice."""
    today = today or company_today()
    named = (
        {"id": params.estimate_id}
        if params.estimate_id is not None
        else {"number": (params.estimate_doc_number or "").casefold()}
    )
    intent = Intent.of(client.realm_id, "convert_estimate", named)
    async with (sections or sections_for(None)).hold(intent) as section:
        return await _convert(client, params, today, section)


async def _convert(
    client: QBOClient, params: ConvertEstimateInput, today: date, section: Section
) -> ConvertEstimateResult:
    estimate = await resolve_transaction(
        client, "Estimate", txn_id=params.estimate_id, doc_number=params.estimate_doc_number
    )
    estimate_id = str(estimate["Id"])
    existing = await _linked_invoice(client, estimate)
    if existing is not None:
        await section.found("Invoice", answer_text("Invoice", existing))
        status, warning = await _close(client, estimate)
        if status == "Closed":
            await section.found("Estimate", None)
        return ConvertEstimateResult(
            invoice=invoice_view(existing),
            estimate_id=estimate_id,
            estimate_status=status,
            already_converted=True,
            due_date_rule="unchanged: the invoice already existed",
            warning=warning,
        )
    _check_convertible(estimate, today)
    txn_date = params.txn_date or today
    customer_id = ref_value(estimate, "CustomerRef")
    invoice: dict[str, Any] = {"CustomerRef": {"value": customer_id}}
    if params.due_date is not None:
        invoice["DueDate"], rule = params.due_date.isoformat(), "given"
    else:
        customer = await get_or_none(client, "Customer", customer_id) if customer_id else None
        found = await customer_terms(client, customer) if customer else None
        if found is not None:
            due = found.due(txn_date)
            if due > LATEST_DATE:
                raise InvalidArgumentError(
                    f"the customer's terms make the invoice due {due.isoformat()}, after the "
                    "last date QuickBooks takes; give due_date"
                )
            invoice["DueDate"] = due.isoformat()
            invoice["SalesTermRef"] = {"value": found.term_id}
            rule = f"the customer's terms ({quoted(found.name, limit=31)})"
        else:
            rule = "the company's default terms (the customer has none)"
    invoice.update(
        {
            "TxnDate": txn_date.isoformat(),
            "Line": [_copy_line(line) for line in _raw_sales_lines(estimate)],
            "LinkedTxn": [{"TxnId": estimate_id, "TxnType": "Estimate"}],
        }
    )
    memo = memo_text(estimate)
    if memo:
        invoice["CustomerMemo"] = {"value": memo}
    key = derive_key(
        client.realm_id,
        "convert_estimate",
        "Invoice",
        {"estimate": estimate_id, "sync_token": str(estimate.get("SyncToken", ""))},
    )
    created = await client.create("Invoice", invoice, idempotency_key=key)
    await section.written("Invoice")
    status, warning = await _close(client, estimate)
    return ConvertEstimateResult(
        invoice=invoice_view(created),
        estimate_id=estimate_id,
        estimate_status=status,
        already_converted=False,
        due_date_rule=rule,
        warning=warning,
    )


def _check_convertible(estimate: Mapping[str, Any], today: date) -> None:
    label = transaction_label("estimate", estimate)
    status = estimate.get("TxnStatus")
    if status == "Rejected":
        raise InvalidArgumentError(
            f"{label} was Rejected by the customer, so it is not invoiced. If the customer "
            "changed their mind, set its status back to Pending or Accepted in QuickBooks, or "
            "quote again with create_estimate; nothing was written"
        )
    expires = parse_day(estimate.get("ExpirationDate"))
    accepted = parse_day(estimate.get("AcceptedDate"))
    if expires is not None and expires < today and not (accepted and accepted <= expires):
        raise InvalidArgumentError(
            f"{label} expired on {expires.isoformat()} and was not accepted before then. "
            "Confirm the price with the customer and quote again with create_estimate (or "
            "extend its ExpirationDate in QuickBooks); nothing was written"
        )
    if not _raw_sales_lines(estimate):
        raise InvalidArgumentError(f"{label} has no item lines to invoice; nothing was written")


def _raw_sales_lines(estimate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    lines = estimate.get("Line")
    return [
        line
        for line in (lines if isinstance(lines, list) else [])
        if isinstance(line, Mapping) and line.get("DetailType") == "SalesItemLineDetail"
    ]


def _copy_line(line: Mapping[str, Any]) -> dict[str, Any]:
    detail = line.get("SalesItemLineDetail")
    detail = detail if isinstance(detail, Mapping) else {}
    copied: dict[str, Any] = {}
    for key in ("ItemRef", "Qty", "UnitPrice", "TaxCodeRef", "ServiceDate", "ClassRef"):
        if detail.get(key) is not None:
            copied[key] = detail[key]
    out: dict[str, Any] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": line.get("Amount"),
        "SalesItemLineDetail": copied,
    }
    if isinstance(line.get("Description"), str):
        out["Description"] = line["Description"]
    return out


async def _linked_invoice(client: QBOClient, estimate: Mapping[str, Any]) -> dict[str, Any] | None:
    for link in links(estimate):
        if link.txn_type == "Invoice":
            found = await get_or_none(client, "Invoice", link.txn_id)
            if found is not None:
                return found
    return None


async def _close(client: QBOClient, estimate: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Set the estimate to Closed (QuickBooks may not do it); (status now, warning)."""
    if estimate.get("TxnStatus") == "Closed":
        return "Closed", None
    try:
        # No SyncToken: linking the invoice gave the estimate a new one, so the client reads it.
        closed = await client.update(
            "Estimate",
            str(estimate["Id"]),
            {"TxnStatus": "Closed"},
            expected={"TxnStatus": estimate.get("TxnStatus")},
        )
    except QbMcpError as error:
        current = await get_or_none(client, "Estimate", str(estimate["Id"]))
        status = text(current.get("TxnStatus")) if current else None
        return status, (
            f"the invoice exists, but closing the estimate failed "
            f"{quoted(str(error), label='error', limit=300)}; call "
            "convert_estimate again to retry the close"
        )
    status = text(closed.get("TxnStatus"))
    if status != "Closed":
        return status, f"QuickBooks kept the estimate's status as {quoted(status)}"
    return status, None
