"""MCP tool adapters, one module per group of tools; each module lists its tools as `SPECS`."""

from __future__ import annotations

from qb_mcp.tools.base import ToolSpec

# The order tools are listed in: the quote-to-cash path first, then reads, then support.
TOOL_MODULES = (
    "qb_mcp.tools.customers",
    "qb_mcp.tools.sales",
    "qb_mcp.tools.payments",
    "qb_mcp.tools.receipts",
    "qb_mcp.tools.credits",
    "qb_mcp.tools.sending",
    "qb_mcp.tools.documents",
    "qb_mcp.tools.corrections",
    "qb_mcp.tools.items",
    "qb_mcp.tools.reads",
    "qb_mcp.tools.reports",
    "qb_mcp.tools.events",
    "qb_mcp.tools.support",
)


def all_specs(*, read_only: bool = False) -> list[ToolSpec]:
    """Every tool; with `read_only`, only those that never write (whatever else is set)."""
    import importlib

    specs: list[ToolSpec] = []
    for name in TOOL_MODULES:
        specs.extend(importlib.import_module(name).SPECS)
    if read_only:
        specs = [spec for spec in specs if spec.read_only]
    return specs
