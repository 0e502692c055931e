"""Values to offer while a user fills in a prompt or a resource template (MCP completions).

Each function asks for a bounded handful (one small query), and lists what starts with the typed
prefix before what merely contains it. The values are QuickBooks text offered back as choices:
data, like any other name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from qb_mcp.bookkeeping import fault_catalog
from qb_mcp.qbo.query import Query

if TYPE_CHECKING:
    from qb_mcp.qbo.client import QBOClient
    from qb_mcp.store.db import Database

# Rows read for one completion: enough to fill a menu, cheap enough to ask for on each keystroke.
ROWS = 50


def ranked(values: Iterable[str], prefix: str) -> list[str]:
    """Distinct values containing `prefix` (any case), those starting with it first."""
    wanted = prefix.strip().casefold()
    seen: dict[str, None] = {}
    for value in values:
        if value and wanted in value.casefold():
            seen.setdefault(value, None)
    return sorted(seen, key=lambda v: (not v.casefold().startswith(wanted), v.casefold()))


async def _rows(client: QBOClient, query: Query) -> list[dict[str, Any]]:
    answer = await client.query(query.limit(ROWS))
    rows: Any = answer.get(query.entity, [])
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


async def customer_names(client: QBOClient, prefix: str) -> list[str]:
    """Active customers' display names containing `prefix`."""
    query = Query.select("Customer").where("Active", "=", True)
    if prefix.strip():
        query = query.where("DisplayName", "LIKE", f"%{prefix.strip()}%")
    rows = await _rows(client, query.order_by("DisplayName"))
    return ranked((str(row.get("DisplayName") or "") for row in rows), prefix)


async def _customer_id(client: QBOClient, name: str | None) -> str | None:
    if not name or not name.strip():
        return None
    query = Query.select("Customer").where("DisplayName", "=", name.strip())
    rows = await _rows(client, query)
    return str(rows[0]["Id"]) if len(rows) == 1 and "Id" in rows[0] else None


async def open_invoice_numbers(
    client: QBOClient, prefix: str, *, customer: str | None = None
) -> list[str]:
    """Numbers of unpaid invoices (of `customer`, when it names exactly one) containing `prefix`."""
    query = Query.select("Invoice").where("Balance", ">", 0)
    customer_id = await _customer_id(client, customer)
    if customer_id is not None:
        query = query.where("CustomerRef", "=", customer_id)
    rows = await _rows(client, query.order_by("DueDate"))
    return ranked((str(row.get("DocNumber") or "") for row in rows), prefix)


async def estimate_numbers(
    client: QBOClient, prefix: str, *, customer: str | None = None
) -> list[str]:
    """Numbers of estimates (of `customer`, when it names exactly one) containing `prefix`."""
    query = Query.select("Estimate")
    customer_id = await _customer_id(client, customer)
    if customer_id is not None:
        query = query.where("CustomerRef", "=", customer_id)
    rows = await _rows(client, query.order_by("TxnDate", desc=True))
    return ranked((str(row.get("DocNumber") or "") for row in rows), prefix)


def fault_codes(prefix: str, *, recent: Iterable[str] = ()) -> list[str]:
    """Fault codes: those this server met (newest first), then the catalog's, containing `prefix`."""
    met = [code for code in recent if prefix.strip().casefold() in code.casefold()]
    known = ranked((entry.key for entry in fault_catalog.QBO_ENTRIES), prefix)
    return list(dict.fromkeys([*met, *known]))


async def event_ids(database: Database, prefix: str, *, realm_id: str | None) -> list[str]:
    """Ids of the stored events (of the served company, when known) starting with `prefix`."""
    from qb_mcp.webhooks.feed import recent_events

    found = await recent_events(database, realm_id=realm_id, limit=ROWS)
    return [e.event_id for e in found if e.event_id.startswith(prefix.strip())]
