"""Documents for the customer: get_invoice_pdf (also the resource `qbo://invoices/{id}/pdf`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.types import BlobResourceContents, ContentBlock, EmbeddedResource

from qb_mcp.companies import COMPANY_URI_PREFIX
from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.documents import GetInvoicePdfInput, InvoicePdf

MODELS = "qb_mcp.bookkeeping.documents"


async def get_invoice_pdf(
    state: AppState, args: GetInvoicePdfInput, _ctx: Context[Any, Any]
) -> InvoicePdf:
    """The invoice's PDF."""
    from qb_mcp.bookkeeping.documents import invoice_pdf

    found = await invoice_pdf(await state.qbo(), args)
    if state.companies is not None and len(state.companies.listed()) > 1 and state.realm_id:
        # With several companies the short URI means the default one: name this one's.
        uri = f"{COMPANY_URI_PREFIX}{state.realm_id}/invoices/{found.invoice_id}/pdf"
        found = found.model_copy(update={"uri": uri})
    return found


def pdf_resource(result: InvoicePdf) -> list[ContentBlock]:
    """The PDF as an embedded resource (base64 blob), at the uri the resource template reads."""
    contents = BlobResourceContents(uri=result.uri, mime_type=result.mime_type, blob=result.blob())
    return [EmbeddedResource(type="resource", resource=contents)]


SPECS = (
    ToolSpec(
        name="get_invoice_pdf",
        title="Invoice as PDF",
        description=tool_description("get_invoice_pdf"),
        input_model=f"{MODELS}:GetInvoicePdfInput",
        output_model=f"{MODELS}:InvoicePdf",
        body=get_invoice_pdf,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
        content=pdf_resource,
    ),
)


async def read_invoice_pdf(state: AppState, invoice_id: str) -> bytes:
    """`qbo://invoices/{id}/pdf`: the bytes get_invoice_pdf embeds; a wrong id is not found."""
    from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

    from qb_mcp.bookkeeping.documents import GetInvoicePdfInput, invoice_pdf
    from qb_mcp.errors import InvalidArgumentError, QbMcpError

    try:
        found = await invoice_pdf(await state.qbo(), GetInvoicePdfInput(id=invoice_id))
    except (InvalidArgumentError, ValueError) as exc:
        # ValueError: pydantic's, for an id that is not a QuickBooks id.
        raise ResourceNotFoundError(f"no invoice PDF at {invoice_id[:60]!r}: {exc}") from None
    except QbMcpError as exc:
        raise ResourceError(f"{type(exc).__name__}: {exc}") from None
    return found.pdf
