"""Item tools: upsert_item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.items import UpsertItemInput, UpsertItemResult

MODELS = "qb_mcp.bookkeeping.items"


async def upsert_item(
    state: AppState, args: UpsertItemInput, _ctx: Context[Any, Any]
) -> UpsertItemResult:
    """The item, found by name or created."""
    from qb_mcp.bookkeeping import items
    from qb_mcp.store.intents import sections_for

    try:
        return await items.upsert_item(
            await state.qbo(),
            args,
            sections=sections_for(state.database),
            directory=await state.directory(),
        )
    finally:
        state.directory_changed("Item")


def _item_id(result: UpsertItemResult) -> Mapping[str, str | None]:
    return {"Item": result.item.id}


SPECS = (
    ToolSpec(
        name="upsert_item",
        title="Save an item",
        description=tool_description("upsert_item"),
        input_model=f"{MODELS}:UpsertItemInput",
        output_model=f"{MODELS}:UpsertItemResult",
        body=upsert_item,
        read_only=False,
        destructive=True,  # may change an existing item's price or description
        idempotent=True,  # found by name: a repeat is `unchanged`
        open_world=True,
        audit_ids=_item_id,
    ),
)
