"""Correction tools: void_transaction and delete_transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.corrections import (
        DeleteResult,
        DeleteTransactionInput,
        VoidResult,
        VoidTransactionInput,
    )

MODELS = "qb_mcp.bookkeeping.corrections"
_ENTITY = {"estimate": "Estimate", "invoice": "Invoice", "payment": "Payment"}


async def void_transaction(
    state: AppState, args: VoidTransactionInput, _ctx: Context[Any, Any]
) -> VoidResult:
    """The transaction, voided (once)."""
    from qb_mcp.bookkeeping import corrections
    from qb_mcp.store.intents import sections_for

    return await corrections.void_transaction(
        await state.qbo(), args, sections=sections_for(state.database)
    )


async def delete_transaction(
    state: AppState, args: DeleteTransactionInput, _ctx: Context[Any, Any]
) -> DeleteResult:
    """The transaction, deleted (once)."""
    from qb_mcp.bookkeeping import corrections
    from qb_mcp.store.intents import sections_for

    return await corrections.delete_transaction(
        await state.qbo(), args, sections=sections_for(state.database)
    )


def _voided_id(result: VoidResult) -> Mapping[str, str | None]:
    return {_ENTITY.get(result.kind, "SalesReceipt"): result.id}


def _deleted_id(result: DeleteResult) -> Mapping[str, str | None]:
    return {_ENTITY[result.kind]: result.id}


SPECS = (
    ToolSpec(
        name="void_transaction",
        title="Void a transaction",
        description=tool_description("void_transaction"),
        input_model=f"{MODELS}:VoidTransactionInput",
        output_model=f"{MODELS}:VoidResult",
        body=void_transaction,
        read_only=False,
        destructive=True,  # zeroes a recorded transaction
        idempotent=True,  # a repeat finds the void it made
        open_world=True,
        audit_ids=_voided_id,
    ),
    ToolSpec(
        name="delete_transaction",
        title="Delete a transaction",
        description=tool_description("delete_transaction"),
        input_model=f"{MODELS}:DeleteTransactionInput",
        output_model=f"{MODELS}:DeleteResult",
        body=delete_transaction,
        read_only=False,
        destructive=True,
        idempotent=True,  # a repeat by id finds the deletion
        open_world=True,
        audit_ids=_deleted_id,
    ),
)
