"""An invoice as the customer sees it: the PDF QuickBooks prints (get_invoice_pdf, and the
resource `qbo://invoices/{id}/pdf`).

QuickBooks draws the PDF (`GET invoice/{id}/pdf`, formatted by the company's form styles); the
invoice is read first, by id or number, so that a wrong id is the usual explained refusal and
the answer names the invoice (number, customer, total, balance) beside the bytes.
"""

from __future__ import annotations

import base64
from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    DOC_NUMBER,
    ITS_ID,
    DocNumberIn,
    IdIn,
    InputModel,
    amount_of,
    exactly_one,
    ref_name,
    resolve_transaction,
    text,
)
from qb_mcp.errors import ServerError
from qb_mcp.qbo.client import PDF_TYPE, QBOClient

# A PDF an assistant is handed inline; QuickBooks' own for an invoice is tens of kilobytes.
MAX_PDF_BYTES = 5 * 1024 * 1024


def invoice_pdf_uri(invoice_id: str) -> str:
    """Where the invoice's PDF is readable as an MCP resource."""
    return f"qbo://invoices/{invoice_id}/pdf"


class GetInvoicePdfInput(InputModel):
    """Which invoice to print."""

    id: IdIn | None = Field(default=None, description=ITS_ID)
    doc_number: DocNumberIn | None = Field(default=None, description=DOC_NUMBER)

    @model_validator(mode="after")
    def _one(self) -> GetInvoicePdfInput:
        exactly_one(self.id, self.doc_number, "id or doc_number")
        return self


class InvoicePdf(BaseModel):
    """The invoice's PDF: what it is, and (for Python callers) the bytes themselves."""

    invoice_id: str
    doc_number: str | None = None
    customer_name: str | None = None
    total: Decimal
    balance: Decimal
    uri: str
    mime_type: str = PDF_TYPE
    size_bytes: int
    # Sent to an MCP client as an embedded resource, not inside the JSON.
    pdf: bytes = Field(exclude=True, repr=False)

    def blob(self) -> str:
        """The bytes as base64, as MCP's blob resources carry them."""
        return base64.b64encode(self.pdf).decode("ascii")


async def invoice_pdf(client: QBOClient, params: GetInvoicePdfInput) -> InvoicePdf:
    """Read the invoice, then its PDF."""
    invoice = await resolve_transaction(
        client, "Invoice", txn_id=params.id, doc_number=params.doc_number
    )
    invoice_id = str(invoice["Id"])
    data = await client.pdf("Invoice", invoice_id)
    if len(data) > MAX_PDF_BYTES:
        raise ServerError(
            f"the PDF of invoice {invoice_id} is {len(data)} bytes, over the "
            f"{MAX_PDF_BYTES}-byte limit for one answer"
        )
    return InvoicePdf(
        invoice_id=invoice_id,
        doc_number=text(invoice.get("DocNumber")),
        customer_name=ref_name(invoice, "CustomerRef"),
        total=amount_of(invoice.get("TotalAmt")),
        balance=amount_of(invoice.get("Balance")),
        uri=invoice_pdf_uri(invoice_id),
        size_bytes=len(data),
        pdf=data,
    )
