"""Customer tools: find_customer, upsert_customer, upsert_customers (the bulk form).

Bodies import the bookkeeping layer when first called (start-up cost: see tools/base.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.customers import (
        CustomerContact,
        FindCustomerInput,
        FindCustomerResult,
        UpsertCustomerResult,
        UpsertCustomersInput,
        UpsertCustomersResult,
    )

MODELS = "qb_mcp.bookkeeping.customers"


async def find_customer(
    state: AppState, args: FindCustomerInput, _ctx: Context[Any, Any]
) -> FindCustomerResult:
    """Ranked customers."""
    from qb_mcp.bookkeeping import customers

    return await customers.find_customer(await state.qbo(), args, directory=await state.directory())


async def upsert_customer(
    state: AppState, args: CustomerContact, _ctx: Context[Any, Any]
) -> UpsertCustomerResult:
    """Create or update one customer."""
    from qb_mcp.bookkeeping import customers
    from qb_mcp.store.intents import sections_for

    try:
        return await customers.upsert_customer(
            await state.qbo(), args, sections=sections_for(state.database)
        )
    finally:
        state.directory_changed("Customer")


async def upsert_customers(
    state: AppState, args: UpsertCustomersInput, ctx: Context[Any, Any]
) -> UpsertCustomersResult:
    """Create or update many customers, reporting MCP progress (a no-op unless asked for)."""
    from qb_mcp.bookkeeping import customers
    from qb_mcp.store.intents import sections_for

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    try:
        return await customers.upsert_customers(
            await state.qbo(),
            args,
            progress=progress,
            sections=sections_for(state.database),
            directory=await state.directory(),
        )
    finally:
        state.directory_changed("Customer")


def _customer_id(result: UpsertCustomerResult) -> Mapping[str, str | None]:
    return {"Customer": result.customer.id if result.customer else None}


SPECS = (
    ToolSpec(
        name="find_customer",
        title="Find customers",
        description=tool_description("find_customer"),
        input_model=f"{MODELS}:FindCustomerInput",
        output_model=f"{MODELS}:FindCustomerResult",
        body=find_customer,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    ),
    ToolSpec(
        name="upsert_customer",
        title="Save a customer",
        description=tool_description("upsert_customer"),
        input_model=f"{MODELS}:CustomerContact",
        output_model=f"{MODELS}:UpsertCustomerResult",
        body=upsert_customer,
        read_only=False,
        # An update overwrites the fields the contact gives.
        destructive=True,
        idempotent=True,
        open_world=True,
        audit_ids=_customer_id,
    ),
    ToolSpec(
        name="upsert_customers",
        title="Save many customers",
        description=tool_description("upsert_customers"),
        input_model=f"{MODELS}:UpsertCustomersInput",
        output_model=f"{MODELS}:UpsertCustomersResult",
        body=upsert_customers,
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=True,
    ),
)
