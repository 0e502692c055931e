"""Tools that explain and inspect: `explain_fault` and `connection_status`.

Their models live in `support_models` and the explain engine is imported on first use, so the
server starts without loading the fault catalog (see tools/base.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.errors import QbMcpError
from qb_mcp.store import connections
from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.tools.support_models import (
        CompanyList,
        CompanyStatus,
        ConnectionStatusInput,
        ExplainFaultInput,
        ExplainFaultOutput,
        ListCompaniesInput,
    )

MODELS = "qb_mcp.tools.support_models"


async def explain_fault_tool(
    state: AppState, args: ExplainFaultInput, _ctx: Context[Any, Any]
) -> ExplainFaultOutput:
    """Explain the given fault, or list the recent ones."""
    from qb_mcp.bookkeeping.explain import explain_fault, explanation_text
    from qb_mcp.tools.support_models import ExplainFaultOutput, RecentFault

    if args.fault is None or (isinstance(args.fault, str) and not args.fault.strip()):
        recent = [
            RecentFault(
                at=utc(record.at),
                tool=record.tool,
                text=explanation_text(record.explanation),
                explanation=record.explanation,
            )
            for record in reversed(state.faults)
        ]
        note = None if recent else "No tool call of this server has failed since it started."
        return ExplainFaultOutput(recent_faults=recent, note=note)
    explanation = explain_fault(
        args.fault, status_code=args.status_code, intuit_tid=args.intuit_tid
    )
    return ExplainFaultOutput(explanation=explanation, text=explanation_text(explanation))


async def company_status(state: AppState) -> CompanyStatus:
    """The company and connection as they are now (one companyinfo read)."""
    from qb_mcp.bookkeeping.explain import explain_error, explanation_text
    from qb_mcp.tools.support_models import CompanyStatus

    status: dict[str, Any] = {"reachable": False}
    try:
        info = await (await state.qbo()).company_info()
    except QbMcpError as exc:
        status["problem"] = explanation_text(explain_error(exc))
    else:
        status["reachable"] = True
        for key, field in (
            ("CompanyName", "company_name"),
            ("LegalName", "legal_name"),
            ("Country", "country"),
        ):
            value = info.get(key)
            status[field] = value if isinstance(value, str) else None
    status.update(
        realm_id=state.realm_id or "",
        source=state.source,
        environment=state.environment,
        read_only=state.settings.read_only,
    )
    if not status.get("company_name"):
        status["company_name"] = state.company_name
    if status["reachable"]:
        known = (await state.directory()).freshness()
        if known.synced_at is not None:
            status["index_synced_at"] = utc(known.synced_at)
            status["index_age_seconds"] = round(known.age_seconds or 0.0, 1)
            status["index_customers"] = known.customers
    if state.source == "connection" and state.realm_id is not None:
        row = await connections.get(state.database, state.realm_id)
        if row is not None:
            status["access_token_expires_at"] = utc(row.access_expires_at)
            status["refresh_token_expires_at"] = utc(row.refresh_expires_at)
            status["needs_reauth"] = row.needs_reauth
    return CompanyStatus(**status)


async def connection_status_tool(
    state: AppState, _args: ConnectionStatusInput, _ctx: Context[Any, Any]
) -> CompanyStatus:
    """The connection's status."""
    return await company_status(state)


async def list_companies_tool(
    state: AppState, _args: ListCompaniesInput, ctx: Context[Any, Any]
) -> CompanyList:
    """The companies the caller may use (read afresh: a company connected since is listed)."""
    from qb_mcp.auth.crypto import load_keyring
    from qb_mcp.auth.manager import connection_health
    from qb_mcp.callers import current_caller
    from qb_mcp.companies import realm_of
    from qb_mcp.errors import TokenStoreError
    from qb_mcp.tools.support_models import CompanyEntry, CompanyList

    companies = state.companies
    assert companies is not None
    if companies.serves_connections:
        await companies.reload()
    try:
        request = ctx.request_context.request
    except ValueError:  # called from Python (qb_mcp.Books): no MCP request, no caller
        request = None
    caller = current_caller(request)
    usable = await companies.usable(caller)
    default = await companies.default(caller)
    try:
        keyring = load_keyring(state.settings, create=False)
    except TokenStoreError:
        keyring = None
    now = state.clock()
    listed = []
    for company in usable:
        row = companies.row(company.realm_id)
        listed.append(
            CompanyEntry(
                realm_id=await realm_of(company) or "",
                company_name=company.company_name,
                environment=company.environment,
                source="emulator" if company.source == "emulator" else "connection",
                health="OK" if row is None else connection_health(row, keyring=keyring, now=now),
                default=company is default,
            )
        )
    note = None
    if not listed:
        note = "No company is connected: run `qb-mcp auth login`."
    elif default is None:
        note = "Several companies: name one with the tools' company argument."
    return CompanyList(companies=listed, note=note)


def utc(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC ("2026-01-15T12:00:00Z"); "" when out of range."""
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


SPECS = (
    ToolSpec(
        name="explain_fault",
        title="Explain a fault",
        description=tool_description("explain_fault"),
        input_model=f"{MODELS}:ExplainFaultInput",
        output_model=f"{MODELS}:ExplainFaultOutput",
        body=explain_fault_tool,
        read_only=True,
        destructive=False,
        idempotent=True,
        # Offline: a built-in catalog and this server's memory, never QuickBooks.
        open_world=False,
    ),
    ToolSpec(
        name="list_companies",
        title="List companies",
        description=tool_description("list_companies"),
        input_model=f"{MODELS}:ListCompaniesInput",
        output_model=f"{MODELS}:CompanyList",
        body=list_companies_tool,
        read_only=True,
        destructive=False,
        idempotent=True,
        # The connections this server holds, from its own store: QuickBooks is not asked.
        open_world=False,
    ),
    ToolSpec(
        name="connection_status",
        title="Connection status",
        description=tool_description("connection_status"),
        input_model=f"{MODELS}:ConnectionStatusInput",
        output_model=f"{MODELS}:CompanyStatus",
        body=connection_status_tool,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    ),
)
