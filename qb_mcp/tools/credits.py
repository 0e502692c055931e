"""Money back to a customer: create_credit_memo and refund."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.credits import (
        CreateCreditMemoInput,
        CreditMemoView,
        RefundInput,
        RefundView,
    )

MODELS = "qb_mcp.bookkeeping.credits"


async def create_credit_memo(
    state: AppState, args: CreateCreditMemoInput, _ctx: Context[Any, Any]
) -> CreditMemoView:
    """The credit given (once)."""
    from qb_mcp.bookkeeping import credits
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await credits.create_credit_memo(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
    )


async def refund(state: AppState, args: RefundInput, _ctx: Context[Any, Any]) -> RefundView:
    """The refund paid (once)."""
    from qb_mcp.bookkeeping import credits
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await credits.refund(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
    )


def _credit_memo_id(result: CreditMemoView) -> Mapping[str, str | None]:
    return {"CreditMemo": result.id}


def _refund_id(result: RefundView) -> Mapping[str, str | None]:
    return {"RefundReceipt": result.id}


SPECS = (
    ToolSpec(
        name="create_credit_memo",
        title="Give credit",
        description=tool_description("create_credit_memo"),
        input_model=f"{MODELS}:CreateCreditMemoInput",
        output_model=f"{MODELS}:CreditMemoView",
        body=create_credit_memo,
        read_only=False,
        destructive=False,  # only adds a credit memo
        idempotent=True,  # the same call again finds the credit memo it made
        open_world=True,
        audit_ids=_credit_memo_id,
    ),
    ToolSpec(
        name="refund",
        title="Refund a customer",
        description=tool_description("refund"),
        input_model=f"{MODELS}:RefundInput",
        output_model=f"{MODELS}:RefundView",
        body=refund,
        read_only=False,
        destructive=False,  # only adds a refund receipt
        idempotent=True,  # the same call again finds the refund it recorded
        open_world=True,
        audit_ids=_refund_id,
    ),
)
