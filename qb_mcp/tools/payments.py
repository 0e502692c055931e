"""Payment tools: record_payment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.payments import PaymentResult, RecordPaymentInput

MODELS = "qb_mcp.bookkeeping.payments"


async def record_payment(
    state: AppState, args: RecordPaymentInput, _ctx: Context[Any, Any]
) -> PaymentResult:
    """A payment applied to invoices (recorded once)."""
    from qb_mcp.bookkeeping import payments
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await payments.record_payment(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
    )


def _payment_id(result: PaymentResult) -> Mapping[str, str | None]:
    return {"Payment": result.payment_id}


SPECS = (
    ToolSpec(
        name="record_payment",
        title="Record a payment",
        description=tool_description("record_payment"),
        input_model=f"{MODELS}:RecordPaymentInput",
        output_model=f"{MODELS}:PaymentResult",
        body=record_payment,
        read_only=False,
        destructive=False,  # adds a payment; the invoices' balances follow from it
        idempotent=True,  # the same call again finds the payment it recorded
        open_world=True,
        audit_ids=_payment_id,
    ),
)
