"""Sending tools: send_invoice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.sending import SendInvoiceInput, SendInvoiceResult

MODELS = "qb_mcp.bookkeeping.sending"


async def send_invoice(
    state: AppState, args: SendInvoiceInput, _ctx: Context[Any, Any]
) -> SendInvoiceResult:
    """The invoice, e-mailed (once)."""
    from qb_mcp.bookkeeping import sending
    from qb_mcp.store.intents import sections_for

    return await sending.send_invoice(
        await state.qbo(), args, sections=sections_for(state.database)
    )


def _invoice_id(result: SendInvoiceResult) -> Mapping[str, str | None]:
    return {"Invoice": result.invoice_id}


SPECS = (
    ToolSpec(
        name="send_invoice",
        title="E-mail an invoice",
        description=tool_description("send_invoice"),
        input_model=f"{MODELS}:SendInvoiceInput",
        output_model=f"{MODELS}:SendInvoiceResult",
        body=send_invoice,
        read_only=False,
        destructive=False,  # sends an e-mail and marks the invoice sent
        idempotent=True,  # already sent there: not sent again unless resend
        open_world=True,
        audit_ids=_invoice_id,
    ),
)
