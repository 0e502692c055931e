"""Report tools: report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.reports import ReportInput, ReportResult

MODELS = "qb_mcp.bookkeeping.reports"


async def report(state: AppState, args: ReportInput, _ctx: Context[Any, Any]) -> ReportResult:
    """The report, as a table."""
    from qb_mcp.bookkeeping import reports

    return await reports.run_report(await state.qbo(), args)


SPECS = (
    ToolSpec(
        name="report",
        title="Run a report",
        description=tool_description("report"),
        input_model=f"{MODELS}:ReportInput",
        output_model=f"{MODELS}:ReportResult",
        body=report,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    ),
)
