"""Sending an invoice by e-mail (send_invoice): QuickBooks' `POST invoice/{id}/send`.

QuickBooks e-mails the invoice to BillEmail (or to `sendTo`, which then becomes BillEmail) and
answers the invoice with EmailStatus EmailSent and DeliveryInfo (DeliveryType, DeliveryTime).
It does not deduplicate: every send is another e-mail. So this operation is idempotent itself:
an invoice already sent to the same address is answered `already_sent=True` without sending
again, unless `resend` is asked for; and the send carries a requestid derived from the invoice,
its SyncToken and the address, so a retry after a lost answer is replayed, not re-sent. The
check and the send run as one write section per company ("sends"), so two identical calls at
once send one e-mail.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    DOC_NUMBER,
    ITS_ID,
    DocNumberIn,
    IdIn,
    InputModel,
    Line1,
    exactly_one,
    ref_name,
    resolve_transaction,
    text,
)
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store.intents import Intent, IntentSections, sections_for


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c in value for c in " ,;<>"):
        raise ValueError("not an email address")
    return value


EmailIn = Annotated[Line1, Field(max_length=100), AfterValidator(_email)]


class SendInvoiceInput(InputModel):
    """Which invoice to e-mail, and to whom."""

    id: IdIn | None = Field(default=None, description=ITS_ID)
    doc_number: DocNumberIn | None = Field(default=None, description=DOC_NUMBER)
    email: EmailIn | None = Field(default=None, description="default: bill-to address")
    resend: bool = Field(default=False, description="even if sent there")

    @model_validator(mode="after")
    def _one(self) -> SendInvoiceInput:
        exactly_one(self.id, self.doc_number, "id or doc_number")
        return self


class SendInvoiceResult(BaseModel):
    """Where and when the invoice was e-mailed."""

    invoice_id: str
    doc_number: str | None = None
    customer_name: str | None = None
    sent_to: str | None
    email_status: str | None
    delivery_time: str | None = None
    already_sent: bool


async def send_invoice(
    client: QBOClient, params: SendInvoiceInput, *, sections: IntentSections | None = None
) -> SendInvoiceResult:
    """E-mail the invoice once (again only with `resend`)."""
    intent = Intent.of(
        client.realm_id, "send_invoice", params.model_dump(mode="json"), group="sends"
    )
    async with (sections or sections_for(None)).hold(intent):
        return await _send(client, params)


async def _send(client: QBOClient, params: SendInvoiceInput) -> SendInvoiceResult:
    invoice = await resolve_transaction(
        client, "Invoice", txn_id=params.id, doc_number=params.doc_number
    )
    address = _bill_email(invoice)
    already = invoice.get("EmailStatus") == "EmailSent" and (
        params.email is None or (address or "").casefold() == params.email.casefold()
    )
    if already and not params.resend:
        return _result(invoice, already=True)
    sent = await client.send(
        "Invoice",
        str(invoice["Id"]),
        send_to=params.email,
        sync_token=str(invoice.get("SyncToken", "")),
    )
    return _result(sent, already=False)


def _bill_email(invoice: dict[str, Any]) -> str | None:
    bill = invoice.get("BillEmail")
    return text(bill.get("Address")) if isinstance(bill, dict) else None


def _result(invoice: dict[str, Any], *, already: bool) -> SendInvoiceResult:
    delivery = invoice.get("DeliveryInfo")
    return SendInvoiceResult(
        invoice_id=str(invoice.get("Id", "")),
        doc_number=text(invoice.get("DocNumber")),
        customer_name=ref_name(invoice, "CustomerRef"),
        sent_to=_bill_email(invoice),
        email_status=text(invoice.get("EmailStatus")),
        delivery_time=text(delivery.get("DeliveryTime")) if isinstance(delivery, dict) else None,
        already_sent=already,
    )
