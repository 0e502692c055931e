"""`qb-mcp demo`: the quote-to-cash walkthrough, through a real MCP client session.

It starts the emulator in process (a fresh demo company in a temporary QBO_HOME, so nothing of
the user's is read or changed), connects `mcp.Client` to the server object, and calls the tools
an assistant would: find -> upsert -> estimate -> convert -> pay the wrong amount -> void it ->
pay the right one -> aged receivables -> a deliberate fault -> explain it. Every call and its result are printed to stdout; logs stay on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import anyio

from qb_mcp.config import Settings
from qb_mcp.errors import QbMcpError
from qb_mcp.money import CENT

# Results print as JSON; lists longer than this are cut (the rest is counted).
MAX_LIST_ITEMS = 3


class DemoError(QbMcpError):
    """A step of the walkthrough did not give what it should (a bug in qb-mcp)."""


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the walkthrough; 0 when every step did what it should."""
    with tempfile.TemporaryDirectory(prefix="qb-mcp-demo-") as home:
        demo_settings = dataclasses.replace(
            settings,
            home=Path(home),
            environment="emulator",
            realm_id=None,
            read_only=False,
            api_base_url=None,
            oauth_base_url=None,
        )
        anyio.run(walkthrough, demo_settings, sys.stdout)
    return 0


async def walkthrough(settings: Settings, out: TextIO) -> None:
    """The steps, printed to `out`."""
    from mcp import Client

    from qb_mcp.emulator import Emulator
    from qb_mcp.server import build_server

    server = build_server(settings, emulator=Emulator())
    show = _Printer(out)
    async with Client(server) as client:
        show.title("qb-mcp demo: quote to cash against the built-in QuickBooks emulator")

        async def call(step: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            show.call(step, tool, arguments)
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                text = " ".join(getattr(block, "text", "") for block in result.content)
                raise DemoError(f"{tool} failed: {text}")
            structured = result.structured_content or {}
            show.result(structured)
            return structured

        status = await call("Which company is this?", "connection_status", {})
        found = await call("Look for the customer first", "find_customer", {"name": "Rosa Diaz"})
        if found["matches"]:
            show.note("(already there from an earlier run; upsert will find it)")
        contact = {
            "crm_id": "crm-1001",
            "display_name": "Rosa Diaz",
            "given_name": "Rosa",
            "family_name": "Diaz",
            "email": "rosa.diaz@example.com",
            "phone": "+1 (650) 555-0199",
        }
        upserted = await call(
            "Not found: create her from the CRM contact", "upsert_customer", contact
        )
        customer_id = upserted["customer"]["id"]
        again = await call("The same contact again changes nothing", "upsert_customer", contact)
        if again["outcome"] != "unchanged":
            raise DemoError(f"a repeated upsert gave {again['outcome']!r}, not 'unchanged'")
        items = await call("Pick the items to quote", "find_items", {"name": "Design"})
        design = items["items"][0]["id"]
        estimate = await call(
            "Quote the work",
            "create_estimate",
            {
                "customer_id": customer_id,
                "lines": [
                    {"item_id": design, "quantity": "3", "unit_price": "75.00"},
                    {"item_name": "Installation", "quantity": "2.5", "description": "Planting"},
                ],
                "memo": "Thank you for your business",
            },
        )
        invoice = await call(
            "The customer accepts: turn the estimate into an invoice",
            "convert_estimate",
            {"estimate_id": estimate["id"]},
        )
        twice = await call(
            "Converting again returns the same invoice, never a second one",
            "convert_estimate",
            {"estimate_id": estimate["id"]},
        )
        if twice["invoice"]["id"] != invoice["invoice"]["id"]:
            raise DemoError("converting twice made a second invoice")
        sent = await call(
            "E-mail the invoice to the customer",
            "send_invoice",
            {"id": invoice["invoice"]["id"]},
        )
        if sent["email_status"] != "EmailSent":
            raise DemoError("the invoice was not sent")
        printed = await call(
            "The same invoice as a PDF (an embedded resource)",
            "get_invoice_pdf",
            {"id": invoice["invoice"]["id"]},
        )
        if printed["size_bytes"] <= 0:
            raise DemoError("the invoice PDF is empty")
        total = invoice["invoice"]["balance"]
        wrong = await call(
            "A slip: the customer's check is recorded as 45.00, not the full amount",
            "record_payment",
            {
                "customer_id": customer_id,
                "amount": "45.00",
                "invoice_ids": [invoice["invoice"]["id"]],
                "reference": "CHK-2041",
                "method": "Check",
            },
        )
        voided = await call(
            "Correct it: void the wrong payment (the invoice is open again)",
            "void_transaction",
            {"kind": "payment", "id": wrong["payment_id"], "reason": "wrong amount"},
        )
        if [b["balance"] for b in voided["invoices"]] != [total]:
            raise DemoError("voiding the payment did not reopen the invoice in full")
        await call(
            "Record the right payment",
            "record_payment",
            {
                "customer_id": customer_id,
                "amount": total,
                "invoice_ids": [invoice["invoice"]["id"]],
                "reference": "CHK-2041",
                "method": "Check",
            },
        )
        aged = await call(
            "Who still owes money? Aged receivables", "report", {"name": "aged_receivables"}
        )
        if not any(t["group"] == "GrandTotal" for t in aged["totals"]):
            raise DemoError("the aged receivables report has no total")
        show.step(
            "A deliberate mistake: query a field QuickBooks does not have",
            "query",
            {"query": "SELECT * FROM Invoice WHERE Colour = 'red'"},
        )
        failed = await client.call_tool(
            "query", {"query": "SELECT * FROM Invoice WHERE Colour = 'red'"}
        )
        if not failed.is_error:
            raise DemoError("the deliberate fault did not fail")
        show.error(" ".join(getattr(block, "text", "") for block in failed.content))
        explained = await call("Ask what went wrong", "explain_fault", {})
        if not explained["recent_faults"]:
            raise DemoError("explain_fault did not list the fault just met")
        audit = await client.read_resource("qbo://audit/recent")
        writes = json.loads(getattr(audit.contents[0], "text", "{}"))["writes"]
        show.title(
            f"Done: {len(writes)} writes recorded in the audit log (qbo://audit/recent), "
            f"company {status.get('company_name')!r} (emulator)."
        )


class _Printer:
    """Readable output: one block per call."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def title(self, text: str) -> None:
        print(f"\n== {text}", file=self.out)

    def step(self, step: str, tool: str, arguments: dict[str, Any]) -> None:
        self.count += 1
        print(f"\n{self.count}. {step}", file=self.out)
        shown = json.dumps(_trimmed(arguments), ensure_ascii=False)
        print(f"   -> {tool} {shown}", file=self.out)

    def call(self, step: str, tool: str, arguments: dict[str, Any]) -> None:
        self.step(step, tool, arguments)

    def result(self, structured: dict[str, Any]) -> None:
        text = json.dumps(_trimmed(structured), indent=2, ensure_ascii=False)
        print("   <- " + text.replace("\n", "\n      "), file=self.out)

    def error(self, text: str) -> None:
        print(f"   <- tool error: {text}", file=self.out)

    def note(self, text: str) -> None:
        print(f"   {text}", file=self.out)


# Fields that hold an amount of money: printed with two decimals at least ("75.00", never "75"
# beside it); a unit price keeps any further decimals QuickBooks has ("0.125").
MONEY_FIELDS = frozenset(
    {"amount", "applied", "balance", "open_balance", "remaining_balance", "total", "unapplied"}
    | {"unit_price", "total_amount", "credit"}
)


def _money(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return value
    if not amount.is_finite():
        return value
    exponent = amount.as_tuple().exponent
    return format(
        amount.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else amount, "f"
    )


def _trimmed(value: Any, *, top: bool = True) -> Any:
    """Drop empty fields and cut long lists, so each result fits on a screen. A result's own
    lists stay even when empty: `"matches": []` is the answer to a search that found nothing."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if item in (None, {}, "") or (item == [] and not top):
                continue
            money = key in MONEY_FIELDS and not isinstance(item, dict | list)
            kept[key] = _money(item) if money else _trimmed(item, top=False)
        return kept
    if isinstance(value, list):
        shown = [_trimmed(v, top=False) for v in value[:MAX_LIST_ITEMS]]
        if len(value) > MAX_LIST_ITEMS:
            shown.append(f"... and {len(value) - MAX_LIST_ITEMS} more")
        return shown
    return value
