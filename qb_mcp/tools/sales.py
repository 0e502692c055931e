"""Sales tools: create_estimate and convert_estimate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.sales import (
        ConvertEstimateInput,
        ConvertEstimateResult,
        CreateEstimateInput,
        EstimateView,
    )

MODELS = "qb_mcp.bookkeeping.sales"


async def create_estimate(
    state: AppState, args: CreateEstimateInput, _ctx: Context[Any, Any]
) -> EstimateView:
    """A new estimate."""
    from qb_mcp.bookkeeping import sales
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await sales.create_estimate(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
        directory=await state.directory(),
    )


async def convert_estimate(
    state: AppState, args: ConvertEstimateInput, _ctx: Context[Any, Any]
) -> ConvertEstimateResult:
    """The estimate's invoice (created once)."""
    from qb_mcp.bookkeeping import sales
    from qb_mcp.bookkeeping.days import company_today
    from qb_mcp.store.intents import sections_for

    return await sales.convert_estimate(
        await state.qbo(),
        args,
        today=company_today(state.clock()),
        sections=sections_for(state.database),
    )


def _estimate_id(result: EstimateView) -> Mapping[str, str | None]:
    return {"Estimate": result.id}


def _conversion_ids(result: ConvertEstimateResult) -> Mapping[str, str | None]:
    return {"Invoice": result.invoice.id, "Estimate": result.estimate_id}


SPECS = (
    ToolSpec(
        name="create_estimate",
        title="Create an estimate",
        description=tool_description("create_estimate"),
        input_model=f"{MODELS}:CreateEstimateInput",
        output_model=f"{MODELS}:EstimateView",
        body=create_estimate,
        read_only=False,
        destructive=False,  # only adds an estimate
        idempotent=True,  # the same call again returns the same estimate (idempotency key)
        open_world=True,
        audit_ids=_estimate_id,
    ),
    ToolSpec(
        name="convert_estimate",
        title="Invoice an estimate",
        description=tool_description("convert_estimate"),
        input_model=f"{MODELS}:ConvertEstimateInput",
        output_model=f"{MODELS}:ConvertEstimateResult",
        body=convert_estimate,
        read_only=False,
        # It also closes the estimate: a change to an existing record.
        destructive=True,
        idempotent=True,
        open_world=True,
        audit_ids=_conversion_ids,
    ),
)
