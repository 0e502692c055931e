"""The reads an agent needs to finish a job without guessing ids.

find_items, list_open_invoices, get_transaction and run_query. Choices where the brief is silent:
- Days overdue count from the day after DueDate to `today` (the caller's, default the company's
  day, `days.company_today`); an invoice due today is not overdue.
- list_open_invoices orders by DueDate, then TxnDate, then Id (oldest debt first) and reads at
  most MAX_OPEN_SCAN open invoices before ordering.
- get_transaction without `kind` looks the id or number up as an estimate, an invoice and a
  payment; if more than one exists the refusal lists them and asks for `kind`.
- run_query sends only `SELECT * FROM <Entity> ...` or `SELECT COUNT(*) FROM <Entity> ...`
  (anything else is refused before sending), without its own STARTPOSITION/MAXRESULTS: paging is
  `start_position` (1-based; the result's `next_start_position` is the cursor) and `max_rows`
  (at most MAX_QUERY_ROWS). Rows of Customer, Item, Estimate, Invoice and Payment come back as the
  same trimmed views the other operations return; other entities as their top-level plain fields
  (nested objects dropped, Refs reduced to their value and name), each string cut to
  MAX_FIELD_CHARS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    CUSTOMER_NAME,
    ITS_ID,
    TXN_DOC_NUMBER,
    DocNumberIn,
    IdIn,
    InputModel,
    Line1,
    LinkView,
    amount_of,
    exactly_one,
    get_or_none,
    is_voided,
    links,
    parse_day,
    ref_name,
    ref_value,
    resolve_customer,
    take,
    text,
)
from qb_mcp.bookkeeping.customers import customer_view
from qb_mcp.bookkeeping.days import company_today
from qb_mcp.bookkeeping.directory import Directory, like
from qb_mcp.bookkeeping.sales import (
    EstimateView,
    InvoiceView,
    estimate_view,
    invoice_view,
)
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted

MAX_ITEMS = 100
MAX_OPEN_SCAN = 5000
MAX_OPEN_LISTED = 500
MAX_QUERY_ROWS = 100
MAX_FIELD_CHARS = 500
MAX_QUERY_CHARS = 4000


# ---- find_items --------------------------------------------------------------------------------


class FindItemsInput(InputModel):
    """Which products and services to list."""

    name: Line1 | None = Field(default=None, max_length=100, description="part of it; omit for all")
    type: Literal["Service", "Inventory", "NonInventory"] | None = Field(
        default=None, description="only this type"
    )
    include_inactive: bool = Field(default=False, description="inactive items too")
    limit: int = Field(default=25, ge=1, le=MAX_ITEMS, description="most returned")


class ItemView(BaseModel):
    """A product or service."""

    id: str
    name: str | None
    type: str | None
    unit_price: Decimal | None
    description: str | None
    active: bool


class FindItemsResult(BaseModel):
    """Items by name."""

    items: list[ItemView]
    truncated: bool = Field(description="more items match than `limit`")


def item_view(item: Mapping[str, Any]) -> ItemView:
    """The trimmed view of an item."""
    price = item.get("UnitPrice")
    return ItemView(
        id=str(item.get("Id", "")),
        name=text(item.get("Name")),
        type=text(item.get("Type")),
        unit_price=None if price is None else amount_of(price),
        description=text(item.get("Description")),
        active=item.get("Active") is not False,
    )


async def find_items(
    client: QBOClient, params: FindItemsInput, *, directory: Directory | None = None
) -> FindItemsResult:
    """Items whose name contains `name` (all items when omitted), by name.

    With the company's `directory` (the local index): at most one request (CDC), every item.
    """
    states = (True, False) if params.include_inactive else (True,)
    found: list[dict[str, Any]] = []
    if directory is not None:
        await directory.fresh()
        found = [
            item
            for item in directory.items()
            if (item.get("Active") is not False) in states
            and (not params.name or like(item.get("Name"), params.name))
            and (not params.type or str(item.get("Type", "")).casefold() == params.type.casefold())
        ]
    for active in states if directory is None else ():
        query = Query.select("Item").where("Active", "=", active)
        if params.name:
            query = query.where("Name", "LIKE", f"%{params.name}%")
        if params.type:
            query = query.where("Type", "=", params.type)
        response = await client.query(query.order_by("Name").limit(params.limit + 1))
        found.extend(r for r in response.get("Item", []) if isinstance(r, dict))
    found.sort(key=lambda i: (i.get("Active") is False, str(i.get("Name", "")).casefold()))
    return FindItemsResult(
        items=[item_view(i) for i in found[: params.limit]], truncated=len(found) > params.limit
    )


# ---- list_open_invoices ------------------------------------------------------------------------


class ListOpenInvoicesInput(InputModel):
    """Whose open invoices to list (everyone's when no customer is given)."""

    customer_id: IdIn | None = Field(default=None, description="omit for all")
    customer_name: Line1 | None = Field(
        default=None, min_length=1, max_length=500, description=CUSTOMER_NAME
    )
    overdue_only: bool = Field(default=False, description="past due only")
    limit: int = Field(default=100, ge=1, le=MAX_OPEN_LISTED, description="most returned")

    @model_validator(mode="after")
    def _one(self) -> ListOpenInvoicesInput:
        if self.customer_id is not None and self.customer_name is not None:
            raise ValueError("give customer_id or customer_name, not both")
        return self


class OpenInvoiceView(BaseModel):
    """An invoice with money still owed."""

    id: str
    doc_number: str | None
    customer_id: str | None
    customer_name: str | None
    txn_date: str | None
    due_date: str | None
    total: Decimal
    balance: Decimal
    overdue: bool
    days_overdue: int = Field(description="0 when not overdue")


class OpenInvoicesResult(BaseModel):
    """Open invoices, oldest debt first."""

    invoices: list[OpenInvoiceView]
    total_open: Decimal = Field(description="sum of the listed balances")
    truncated: bool
    as_of: str = Field(description="the date overdue days are counted to")


async def list_open_invoices(
    client: QBOClient, params: ListOpenInvoicesInput, *, today: date | None = None
) -> OpenInvoicesResult:
    """Invoices with a balance, with due dates and overdue flags, oldest debt first."""
    today = today or company_today()
    query = Query.select("Invoice").where("Balance", ">", Decimal(0))
    if params.customer_id is not None or params.customer_name is not None:
        if params.customer_name is not None:
            customer = await resolve_customer(
                client, customer_id=None, customer_name=params.customer_name
            )
        else:
            customer = await _any_customer(client, params.customer_id)
        query = query.where("CustomerRef", "=", str(customer["Id"]))
    # Only what decides the order and the filters is read from each row; the views are built
    # for the rows returned. `take` asks for no page beyond the cap.
    far = "9999-12-31"
    open_rows: list[tuple[str, str, int, int, Decimal, dict[str, Any]]] = []
    async for row in take(client.query_all(query.order_by("DueDate")), MAX_OPEN_SCAN):
        balance = amount_of(row.get("Balance"))
        if balance <= 0 or is_voided(row):
            continue
        due = parse_day(row.get("DueDate"))
        late = (today - due).days if due is not None and due < today else 0
        if params.overdue_only and late == 0:
            continue
        entity_id = str(row.get("Id", ""))
        open_rows.append(
            (
                text(row.get("DueDate")) or far,
                text(row.get("TxnDate")) or far,
                int(entity_id) if entity_id.isdigit() else 0,
                late,
                balance,
                row,
            )
        )
    open_rows.sort(key=lambda r: r[:3])
    listed = [
        OpenInvoiceView(
            id=str(row.get("Id", "")),
            doc_number=text(row.get("DocNumber")),
            customer_id=ref_value(row, "CustomerRef"),
            customer_name=ref_name(row, "CustomerRef"),
            txn_date=text(row.get("TxnDate")),
            due_date=text(row.get("DueDate")),
            total=amount_of(row.get("TotalAmt")),
            balance=balance,
            overdue=late > 0,
            days_overdue=late,
        )
        for _, _, _, late, balance, row in open_rows[: params.limit]
    ]
    return OpenInvoicesResult(
        invoices=listed,
        total_open=sum((r.balance for r in listed), Decimal("0.00")),
        truncated=len(open_rows) > params.limit,
        as_of=today.isoformat(),
    )


async def _any_customer(client: QBOClient, customer_id: str | None) -> dict[str, Any]:
    # An inactive customer's open invoices are still owed: no active check here.
    assert customer_id is not None
    customer = await get_or_none(client, "Customer", customer_id)
    if customer is None:
        raise InvalidArgumentError(
            f"there is no customer with id {customer_id}; call find_customer to look it up"
        )
    return customer


# ---- get_transaction ---------------------------------------------------------------------------

Kind = Literal["estimate", "invoice", "payment"]
_ENTITY: dict[str, str] = {"estimate": "Estimate", "invoice": "Invoice", "payment": "Payment"}


class GetTransactionInput(InputModel):
    """Which transaction to show."""

    kind: Kind | None = Field(default=None, description="omit for all three")
    id: IdIn | None = Field(default=None, description=ITS_ID)
    doc_number: DocNumberIn | None = Field(default=None, description=TXN_DOC_NUMBER)

    @model_validator(mode="after")
    def _one(self) -> GetTransactionInput:
        exactly_one(self.id, self.doc_number, "id or doc_number")
        return self


class PaymentLineView(BaseModel):
    """What a payment applied to one invoice."""

    invoice_id: str
    amount: Decimal


class PaymentView(BaseModel):
    """A payment, trimmed."""

    id: str
    customer_id: str | None
    customer_name: str | None
    txn_date: str | None
    total: Decimal
    unapplied: Decimal
    reference: str | None
    private_note: str | None
    applied: list[PaymentLineView]


def payment_view(payment: Mapping[str, Any]) -> PaymentView:
    """The trimmed view of a payment."""
    applied: list[PaymentLineView] = []
    lines = payment.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, Mapping):
            continue
        for link in links(line):
            if link.txn_type in (None, "Invoice"):
                applied.append(
                    PaymentLineView(invoice_id=link.txn_id, amount=amount_of(line.get("Amount")))
                )
    note = text(payment.get("PrivateNote"))
    return PaymentView(
        id=str(payment.get("Id", "")),
        customer_id=ref_value(payment, "CustomerRef"),
        customer_name=ref_name(payment, "CustomerRef"),
        txn_date=text(payment.get("TxnDate")),
        total=amount_of(payment.get("TotalAmt")),
        unapplied=amount_of(payment.get("UnappliedAmt")),
        reference=text(payment.get("PaymentRefNum")),
        private_note=note[:MAX_FIELD_CHARS] if note else None,
        applied=applied,
    )


class TransactionResult(BaseModel):
    """One transaction; the field named by `kind` holds it."""

    kind: Kind
    estimate: EstimateView | None = None
    invoice: InvoiceView | None = None
    payment: PaymentView | None = None
    links: list[LinkView] = Field(default_factory=list)


async def get_transaction(client: QBOClient, params: GetTransactionInput) -> TransactionResult:
    """An estimate, invoice or payment by id or number, with its lines and links."""
    kinds: list[Kind] = [params.kind] if params.kind else ["estimate", "invoice", "payment"]
    found: list[tuple[Kind, dict[str, Any]]] = []
    for kind in kinds:
        entity = _ENTITY[kind]
        if params.id is not None:
            row = await get_or_none(client, entity, params.id)
            rows = [row] if row is not None else []
        else:
            prop = "PaymentRefNum" if entity == "Payment" else "DocNumber"
            query = Query.select(entity).where(prop, "=", params.doc_number).limit(10)
            rows = [r for r in (await client.query(query)).get(entity, []) if isinstance(r, dict)]
        found.extend((kind, row) for row in rows)
    which = f"id {params.id}" if params.id is not None else f"number {quoted(params.doc_number)}"
    if not found:
        where = params.kind or "estimate, invoice or payment"
        raise InvalidArgumentError(
            f"no {where} has {which}; check it, or find it with list_open_invoices or run_query"
        )
    if len(found) > 1:
        shown = ", ".join(f"{kind} {row.get('Id')}" for kind, row in found)
        raise InvalidArgumentError(
            f"{which} matches several transactions ({shown}); pass kind (and the id) to choose"
        )
    kind, row = found[0]
    if kind == "estimate":
        return TransactionResult(kind=kind, estimate=estimate_view(row), links=links(row))
    if kind == "invoice":
        return TransactionResult(kind=kind, invoice=invoice_view(row), links=links(row))
    return TransactionResult(kind=kind, payment=payment_view(row), links=links(row))


# ---- run_query ---------------------------------------------------------------------------------

_SELECT = re.compile(
    r"^\s*select\s+(?P<what>\*|count\s*\(\s*\*\s*\))\s+from\s+(?P<entity>[A-Za-z]+)\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_PAGING = re.compile(r"(?i)\b(startposition|maxresults)\b")


class RunQueryInput(InputModel):
    """A read-only QuickBooks query."""

    query: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="SELECT * or COUNT(*) FROM Entity [WHERE] [ORDERBY]; no OR; values quoted: "
        "Balance > '0', \\' inside",
    )
    start_position: int = Field(default=1, ge=1, le=10_000_000, description="first row, from 1")
    max_rows: int = Field(default=25, ge=1, le=MAX_QUERY_ROWS, description="rows per page")


class QueryResult(BaseModel):
    """Rows of one page (or a count)."""

    entity: str
    total_count: int | None = Field(default=None, description="COUNT(*) queries only")
    rows: list[dict[str, Any]] = Field(default_factory=list, description="trimmed rows")
    start_position: int
    next_start_position: int | None = Field(
        default=None, description="pass as start_position for the next page; null at the end"
    )


async def run_query(client: QBOClient, params: RunQueryInput) -> QueryResult:
    """Run a SELECT or COUNT query (nothing else is sent) and return one bounded page."""
    found = _SELECT.match(params.query)
    if found is None:
        raise InvalidArgumentError(
            "only read queries are allowed: SELECT * FROM Entity ... or SELECT COUNT(*) FROM "
            "Entity ...; nothing was sent. To change data use the write tools"
        )
    if ";" in params.query or _PAGING.search(found.group("rest")):
        raise InvalidArgumentError(
            "leave out ';', STARTPOSITION and MAXRESULTS: paging is start_position and "
            "max_rows; nothing was sent"
        )
    entity = found.group("entity")
    is_count = not found.group("what").startswith("*")
    text_sent = " ".join(params.query.split()) if "'" not in params.query else params.query.strip()
    if is_count:
        response = await client.query(text_sent)
        total = response.get("totalCount")
        return QueryResult(
            entity=entity,
            total_count=int(total) if isinstance(total, int | Decimal) else 0,
            start_position=1,
        )
    page = f"{text_sent} STARTPOSITION {params.start_position} MAXRESULTS {params.max_rows}"
    response = await client.query(page)
    rows: list[Any] = next(
        (v for k, v in response.items() if k.lower() == entity.lower() and isinstance(v, list)),
        [],
    )
    trimmed = [_trim(entity, r) for r in rows if isinstance(r, Mapping)]
    return QueryResult(
        entity=entity,
        rows=trimmed,
        start_position=params.start_position,
        next_start_position=params.start_position + len(rows)
        if len(rows) >= params.max_rows
        else None,
    )


def _trim(entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
    name = entity.lower()
    if name == "customer":
        return customer_view(row).model_dump(mode="json")
    if name == "item":
        return item_view(row).model_dump(mode="json")
    if name == "estimate":
        return estimate_view(row).model_dump(mode="json")
    if name == "invoice":
        return invoice_view(row).model_dump(mode="json")
    if name == "payment":
        return payment_view(row).model_dump(mode="json")
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, str):
            out[key] = value[:MAX_FIELD_CHARS]
        elif isinstance(value, bool | int):
            out[key] = value
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, Mapping) and "value" in value:
            out[key] = {"value": value.get("value"), "name": value.get("name")}
    return out
