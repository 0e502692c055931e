"""Corrections: void an invoice, payment or sales receipt; delete an estimate or an unpaid invoice.

How QuickBooks does it (QBO_API.md section 5; Intuit's Payment reference, "Void a payment", as
quoted in Wish-Org/QuickBooksSharp#8): a void keeps the record with every amount zeroed and
"Voided" prepended to PrivateNote. An Invoice is voided with `operation=void`; a Payment or
SalesReceipt with a sparse update `operation=update&include=void`. A voided payment no longer
applies to its invoices, so their balances come back. "If funds for the payment have been
deposited, you must delete the associated deposit object before voiding the payment": a payment
or receipt whose LinkedTxn names a Deposit is refused here with that reason (QuickBooks says 6540).

Choices where the brief is silent:
- Repeats. A void writes a marker (`[qb-mcp:void]`) into PrivateNote with the reason, in the void
  itself for a payment or receipt, and for an invoice in a sparse update just before its void
  (`operation=void` takes no note). A voided transaction carrying the marker answers a repeated
  call as a replay (`already_voided=True`); one voided some other way is refused, naming that.
  A deleted transaction is gone, so a repeated delete by id finds its `Deleted` stub in change
  data capture (30 days back) and answers `already_deleted=True`; by number it cannot be found.
- The memo a void replaces keeps its text, but not record_payment's marker: a retried
  record_payment must not find the voided payment and call it recorded.
- Deletes: an invoice with a payment applied is refused (void it, or void the payment first), and
  so is an estimate already converted to an invoice (its invoice is the record of the sale).
- Concurrent repeats. The check ("already voided or deleted?") and the write run as one write
  section (`qb_mcp.store.intents`); one id can be named by Id or by number, so every correction
  of a company shares one lock ("corrections"), keyed apart by its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    ITS_ID,
    TXN_DOC_NUMBER,
    DocNumberIn,
    IdIn,
    InputModel,
    Line1,
    amount_of,
    exactly_one,
    get_or_none,
    is_voided,
    links,
    ref_name,
    ref_value,
    resolve_transaction,
    text,
    transaction_label,
)
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store.intents import Intent, IntentSections, sections_for

VOID_MARKER = "[qb-mcp:void]"
_PAY_MARKER = re.compile(r"\s*(\|\s*)?\[qb-mcp:(pay|sale):[0-9a-f]+\]")
MAX_NOTE = 4000  # QuickBooks' PrivateNote limit
CDC_LOOKBACK = timedelta(days=29, hours=23)  # inside QuickBooks' 30 days

VoidKind = Literal["invoice", "payment", "sales_receipt"]
DeleteKind = Literal["estimate", "invoice"]
ENTITY: dict[str, str] = {
    "estimate": "Estimate",
    "invoice": "Invoice",
    "payment": "Payment",
    "sales_receipt": "SalesReceipt",
}


class _Target(InputModel):
    id: IdIn | None = Field(default=None, description=ITS_ID)
    doc_number: DocNumberIn | None = Field(default=None, description=TXN_DOC_NUMBER)

    @model_validator(mode="after")
    def _one(self) -> _Target:
        exactly_one(self.id, self.doc_number, "id or doc_number")
        return self


class VoidTransactionInput(_Target):
    """Which transaction to void, and why."""

    kind: VoidKind = Field(description="its kind")
    reason: Line1 | None = Field(default=None, max_length=200, description="added to the memo")


class DeleteTransactionInput(_Target):
    """Which transaction to delete."""

    kind: DeleteKind = Field(description="its kind")


class BalanceView(BaseModel):
    """An invoice the correction touched, and what it owes now."""

    invoice_id: str
    doc_number: str | None = None
    balance: Decimal


class VoidResult(BaseModel):
    """The voided transaction."""

    kind: VoidKind
    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    voided_amount: Decimal | None = Field(description="its total before the void; null on a replay")
    invoices: list[BalanceView] = Field(description="a payment's invoices, open again")
    already_voided: bool


class DeleteResult(BaseModel):
    """The deleted transaction."""

    kind: DeleteKind
    id: str
    doc_number: str | None = None
    customer_id: str | None = None
    total: Decimal | None = None
    already_deleted: bool


async def void_transaction(
    client: QBOClient, params: VoidTransactionInput, *, sections: IntentSections | None = None
) -> VoidResult:
    """Void once; refuses a deposited transaction or one voided outside qb-mcp."""
    intent = Intent.of(
        client.realm_id, "void_transaction", params.model_dump(mode="json"), group="corrections"
    )
    async with (sections or sections_for(None)).hold(intent):
        return await _void(client, params)


async def _void(client: QBOClient, params: VoidTransactionInput) -> VoidResult:
    entity = ENTITY[params.kind]
    target = await resolve_transaction(
        client, entity, txn_id=params.id, doc_number=params.doc_number
    )
    label = transaction_label(params.kind.replace("_", " "), target)
    note = text(target.get("PrivateNote")) or ""
    if is_voided(target):
        if VOID_MARKER in note:
            return _void_result(params.kind, target, None, [], already=True)
        raise InvalidArgumentError(
            f"{label} is already voided (in QuickBooks, not by this tool); nothing was written. "
            "get_transaction shows it"
        )
    deposit = _deposit_of(target)
    if deposit is not None:
        raise InvalidArgumentError(
            f"{label} is part of deposit {deposit}, and QuickBooks cannot void a deposited "
            "transaction (6540); nothing was written. Remove it from the deposit in QuickBooks "
            "first, then void it"
        )
    invoice_ids = _applied_invoices(target) if entity == "Payment" else []
    new_note = _void_note(params.reason, note)
    entity_id = str(target["Id"])
    if entity == "Invoice":
        # operation=void takes no memo: the marker goes in first, so a repeat finds it.
        marked = await client.update(
            "Invoice", entity_id, {"PrivateNote": new_note}, expected=target
        )
        voided = await client.void("Invoice", entity_id, sync_token=str(marked["SyncToken"]))
    else:
        voided = await client.void(
            entity, entity_id, sync_token=str(target["SyncToken"]), private_note=new_note
        )
    balances = [await _balance(client, invoice_id) for invoice_id in invoice_ids]
    return _void_result(
        params.kind,
        voided,
        amount_of(target.get("TotalAmt")),
        [b for b in balances if b is not None],
        already=False,
    )


async def delete_transaction(
    client: QBOClient, params: DeleteTransactionInput, *, sections: IntentSections | None = None
) -> DeleteResult:
    """Delete once an estimate, or an invoice no payment applies to."""
    intent = Intent.of(
        client.realm_id, "delete_transaction", params.model_dump(mode="json"), group="corrections"
    )
    async with (sections or sections_for(None)).hold(intent):
        return await _delete(client, params)


async def _delete(client: QBOClient, params: DeleteTransactionInput) -> DeleteResult:
    entity = ENTITY[params.kind]
    if params.id is not None:
        found = await get_or_none(client, entity, params.id)
        if found is None:
            if await _was_deleted(client, entity, params.id):
                return DeleteResult(kind=params.kind, id=params.id, already_deleted=True)
            raise InvalidArgumentError(
                f"there is no {params.kind} with id {params.id}, and none was deleted in the "
                "last 30 days; check the id (get_transaction)"
            )
        target = found
    else:
        target = await resolve_transaction(
            client, entity, txn_id=None, doc_number=params.doc_number
        )
    label = transaction_label(params.kind, target)
    linked = links(target)
    if entity == "Invoice":
        payments = [link.txn_id for link in linked if link.txn_type == "Payment"]
        if payments:
            raise InvalidArgumentError(
                f"{label} has payments applied ({', '.join(payments)}); nothing was written. "
                "Void the invoice instead (void_transaction kind=invoice), or void those "
                "payments first"
            )
    else:
        invoices = [link.txn_id for link in linked if link.txn_type == "Invoice"]
        if invoices:
            raise InvalidArgumentError(
                f"{label} was converted to invoice {', '.join(invoices)}; nothing was written. "
                "Delete or void that invoice first"
            )
    await client.delete(entity, str(target["Id"]), sync_token=str(target["SyncToken"]))
    return DeleteResult(
        kind=params.kind,
        id=str(target["Id"]),
        doc_number=text(target.get("DocNumber")),
        customer_id=ref_value(target, "CustomerRef"),
        total=amount_of(target.get("TotalAmt")),
        already_deleted=False,
    )


def _void_note(reason: str | None, old_note: str) -> str:
    kept = _PAY_MARKER.sub("", old_note).strip(" |")
    parts = [p for p in (reason, VOID_MARKER, kept) if p]
    return " | ".join(parts)[:MAX_NOTE]


def _deposit_of(txn: Mapping[str, Any]) -> str | None:
    for link in links(txn):
        if link.txn_type == "Deposit":
            return link.txn_id
    return None


def _applied_invoices(payment: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    lines = payment.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, Mapping):
            continue
        for link in links(line):
            if link.txn_type in (None, "Invoice") and link.txn_id not in found:
                found.append(link.txn_id)
    return found


async def _balance(client: QBOClient, invoice_id: str) -> BalanceView | None:
    invoice = await get_or_none(client, "Invoice", invoice_id)
    if invoice is None:
        return None
    return BalanceView(
        invoice_id=invoice_id,
        doc_number=text(invoice.get("DocNumber")),
        balance=amount_of(invoice.get("Balance")),
    )


async def _was_deleted(client: QBOClient, entity: str, entity_id: str) -> bool:
    since = datetime.fromtimestamp(client.now(), UTC) - CDC_LOOKBACK
    changed = await client.cdc([entity], since)
    return any(
        str(row.get("Id")) == entity_id and row.get("status") == "Deleted"
        for row in changed.get(entity, [])
    )


def _void_result(
    kind: VoidKind,
    txn: Mapping[str, Any],
    amount: Decimal | None,
    invoices: list[BalanceView],
    *,
    already: bool,
) -> VoidResult:
    return VoidResult(
        kind=kind,
        id=str(txn.get("Id", "")),
        doc_number=text(txn.get("PaymentRefNum" if kind == "payment" else "DocNumber")),
        customer_id=ref_value(txn, "CustomerRef"),
        customer_name=ref_name(txn, "CustomerRef"),
        voided_amount=amount,
        invoices=invoices,
        already_voided=already,
    )
