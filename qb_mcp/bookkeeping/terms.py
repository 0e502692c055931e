"""Payment terms and payment methods: what a customer's SalesTermRef means for a due date, and
which PaymentMethod a name like "check" is.

Sources: Intuit's Term reference (a term is STANDARD, due DueDays after the transaction date, or
DATE_DRIVEN, due on DayOfMonthDue, next month when issued fewer than DueNextMonthDays days
before it) and PaymentMethod reference (Name, at most 31 characters; a company's list starts
with Cash, Check and the card brands). Without terms of the customer's, an invoice is sent
without a DueDate and QuickBooks applies the company's default terms (invoice-create-response.json
shows a request with no DueDate answered with TxnDate + 30 days).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from qb_mcp.bookkeeping.common import get_or_none, ref_value, text
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted

MAX_METHODS = 200


@dataclass(frozen=True, slots=True)
class Terms:
    """A customer's terms, read from QuickBooks."""

    term_id: str
    name: str
    term: Mapping[str, Any]

    def due(self, txn_date: date) -> date:
        """When an invoice dated `txn_date` is due under these terms."""
        days = self.term.get("DueDays")
        if days is not None:
            return txn_date + timedelta(days=int(days))
        day_due = int(self.term.get("DayOfMonthDue") or 1)
        cutoff = int(self.term.get("DueNextMonthDays") or 0)
        month = txn_date.replace(day=1)
        due = _day_in(month.year, month.month, day_due)
        # The first such day on or after the date, and at least `cutoff` days after it.
        while due < txn_date or (due - txn_date).days < cutoff:
            month = (month + timedelta(days=32)).replace(day=1)
            due = _day_in(month.year, month.month, day_due)
        return due


def _day_in(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


async def customer_terms(client: QBOClient, customer: Mapping[str, Any]) -> Terms | None:
    """The customer's SalesTermRef as Terms; None when it has none (or they are inactive)."""
    term_id = ref_value(customer, "SalesTermRef")
    if term_id is None:
        return None
    term = await get_or_none(client, "Term", term_id)
    if term is None or term.get("Active") is False:
        return None
    return Terms(term_id=term_id, name=text(term.get("Name")) or term_id, term=term)


async def payment_method(client: QBOClient, name: str) -> dict[str, str]:
    """The PaymentMethodRef for `name` (case and spacing ignored); an unknown name is refused
    with the company's methods listed."""
    methods: list[Mapping[str, Any]] = []
    query = Query.select("PaymentMethod").where("Active", "=", True)
    async for row in client.query_all(query):
        methods.append(row)
        if len(methods) >= MAX_METHODS:
            break
    wanted = _folded(name)
    for method in methods:
        if _folded(str(method.get("Name", ""))) == wanted:
            return {"value": str(method["Id"]), "name": str(method.get("Name", ""))}
    listed = ", ".join(quoted(str(m.get("Name", "")), limit=31) for m in methods) or "none"
    raise InvalidArgumentError(
        f"the company has no payment method {quoted(name)}; nothing was written. Its methods: "
        f"{listed}. Pass one of them as method (or leave method out)"
    )


def _folded(name: str) -> str:
    return "".join(name.split()).casefold().replace("-", "")
