"""Read tools an agent needs to finish a job without guessing ids: find_items,
list_open_invoices, get_transaction and a read-only query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolBody, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.reads import (
        FindItemsInput,
        FindItemsResult,
        GetTransactionInput,
        ListOpenInvoicesInput,
        OpenInvoicesResult,
        QueryResult,
        RunQueryInput,
        TransactionResult,
    )

MODELS = "qb_mcp.bookkeeping.reads"


async def find_items(
    state: AppState, args: FindItemsInput, _ctx: Context[Any, Any]
) -> FindItemsResult:
    """Items by name part or type."""
    from qb_mcp.bookkeeping import reads

    return await reads.find_items(await state.qbo(), args, directory=await state.directory())


async def list_open_invoices(
    state: AppState, args: ListOpenInvoicesInput, _ctx: Context[Any, Any]
) -> OpenInvoicesResult:
    """Unpaid invoices, oldest due first."""
    from qb_mcp.bookkeeping import reads
    from qb_mcp.bookkeeping.days import company_today

    today = company_today(state.clock())
    return await reads.list_open_invoices(await state.qbo(), args, today=today)


async def get_transaction(
    state: AppState, args: GetTransactionInput, _ctx: Context[Any, Any]
) -> TransactionResult:
    """One estimate, invoice or payment."""
    from qb_mcp.bookkeeping import reads

    return await reads.get_transaction(await state.qbo(), args)


async def query(state: AppState, args: RunQueryInput, _ctx: Context[Any, Any]) -> QueryResult:
    """A read-only query, one bounded page."""
    from qb_mcp.bookkeeping import reads

    return await reads.run_query(await state.qbo(), args)


def _read(name: str, title: str, input_model: str, output_model: str, body: ToolBody) -> ToolSpec:
    return ToolSpec(
        name=name,
        title=title,
        description=tool_description(name),
        input_model=f"{MODELS}:{input_model}",
        output_model=f"{MODELS}:{output_model}",
        body=body,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )


SPECS = (
    _read("find_items", "Find items", "FindItemsInput", "FindItemsResult", find_items),
    _read(
        "list_open_invoices",
        "List open invoices",
        "ListOpenInvoicesInput",
        "OpenInvoicesResult",
        list_open_invoices,
    ),
    _read(
        "get_transaction",
        "Read a transaction",
        "GetTransactionInput",
        "TransactionResult",
        get_transaction,
    ),
    _read("query", "Read-only query", "RunQueryInput", "QueryResult", query),
)
