"""Sales receipt tools: create_sales_receipt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.receipts import CreateSalesReceiptInput, SalesReceiptView

MODELS = "qb_mcp.bookkeeping.receipts"


async def create_sales_receipt(
    state: AppState, args: CreateSalesReceiptInput, _ctx: Context[Any, Any]
) -> SalesReceiptView:
    """The paid sale (recorded once)."""
    from qb_mcp.bookkeeping import receipts
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await receipts.create_sales_receipt(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
        directory=await state.directory(),
    )


def _receipt_id(result: SalesReceiptView) -> Mapping[str, str | None]:
    return {"SalesReceipt": result.id}


SPECS = (
    ToolSpec(
        name="create_sales_receipt",
        title="Record a paid sale",
        description=tool_description("create_sales_receipt"),
        input_model=f"{MODELS}:CreateSalesReceiptInput",
        output_model=f"{MODELS}:SalesReceiptView",
        body=create_sales_receipt,
        read_only=False,
        destructive=False,  # only adds a receipt
        idempotent=True,  # the same call again finds the receipt it recorded
        open_world=True,
        audit_ids=_receipt_id,
    ),
)
