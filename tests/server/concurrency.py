"""Concurrent identical write calls (issue 10, item 1): the company they run against, the pairs of
identical calls per write tool, and the check that each pair wrote once and named one object.

Shared by the in-process tests (one session, two sessions) and the two-process test. A pair is
two calls with the same arguments started at once; the emulator's injected latency keeps both
calls' reads in flight together, which is what let both see "not written yet" before the fix.
The second call of pair n starts `stagger(n)` later (from 0 to a few round trips): a retry sent
while the first is still at work, reading some state before the first call's write and some
after it (the issue's 0.15-0.25 s), which is when the arguments of two writes differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig

PAIRS = 50
INVOICE_TOTAL = Decimal("1000.00")
# Real HTTP semantics with room for 200 concurrent calls: the limits are not under test here.
ROOMY = EmulatorConfig(requests_per_window=10**9, max_in_flight=10**6, batch_per_window=10**9)

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class World:
    """What the pairs need, made straight in the emulator's company (no tool involved)."""

    customers: list[str]  # one per pair, each with two open invoices:
    invoices: list[str]  # the older one, of old_total(n), then a newer one of INVOICE_TOTAL
    estimates: list[str]  # one open estimate per pair
    item_id: str


def old_total(n: int) -> Decimal:
    return Decimal(100 + n).quantize(Decimal("0.01"))


def seed(emulator: Emulator, pairs: int = PAIRS) -> World:
    backend = emulator.backend
    items = backend.query(DEMO_REALM_ID, "select * from Item where Name = 'Design'")
    item_id = str(items["QueryResponse"]["Item"][0]["Id"])

    def line(amount: Decimal) -> dict[str, Any]:
        return {
            "DetailType": "SalesItemLineDetail",
            "Amount": str(amount),
            "SalesItemLineDetail": {
                "ItemRef": {"value": item_id},
                "Qty": 1,
                "UnitPrice": str(amount),
            },
        }

    world = World(customers=[], invoices=[], estimates=[], item_id=item_id)
    for n in range(pairs):
        customer = backend.write(
            DEMO_REALM_ID, "Customer", {"DisplayName": f"Concurrent Customer {n:03d}"}
        )["Customer"]
        ref = {"value": customer["Id"]}
        invoice = backend.write(
            DEMO_REALM_ID,
            "Invoice",
            {
                "CustomerRef": ref,
                "TxnDate": "2025-12-01",
                "DueDate": "2025-12-31",
                "Line": [line(old_total(n))],
            },
        )["Invoice"]
        backend.write(
            DEMO_REALM_ID,
            "Invoice",
            {
                "CustomerRef": ref,
                "TxnDate": "2026-01-01",
                "DueDate": "2026-01-31",
                "Line": [line(INVOICE_TOTAL)],
            },
        )
        estimate = backend.write(
            DEMO_REALM_ID,
            "Estimate",
            {"CustomerRef": ref, "TxnDate": "2026-01-01", "Line": [line(Decimal("120.00"))]},
        )["Estimate"]
        world.customers.append(str(customer["Id"]))
        world.invoices.append(str(invoice["Id"]))
        world.estimates.append(str(estimate["Id"]))
    return world


def objects(emulator: Emulator, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    where = {"Customer": ["Active = true", "Active = false"]}.get(entity, [""])
    for clause in where:
        text = f"select * from {entity}" + (f" where {clause}" if clause else "")
        start = 1
        while True:
            page = emulator.backend.query(
                DEMO_REALM_ID, f"{text} startposition {start} maxresults 1000"
            )
            found = page.get("QueryResponse", {}).get(entity, [])
            rows.extend(found)
            if len(found) < 1000:
                break
            start += 1000
    return rows


# ---- the pairs, per tool: (arguments of pair n), and the id each answer names -----------------


def pay_oldest(world: World, n: int) -> dict[str, Any]:
    # The older invoice in full: a call that reads the balances after the first call's payment
    # would pick the newer invoice (other lines, another requestid). Distinct amounts: pairs
    # that differ run side by side, only a pair's twins wait for each other.
    return {"customer_id": world.customers[n], "amount": str(old_total(n))}


def pay_named(world: World, n: int) -> dict[str, Any]:
    # In full: a call that reads the invoice after the first call's payment finds it paid.
    return {"invoice_ids": [world.invoices[n]], "amount": str(old_total(n))}


def convert(world: World, n: int) -> dict[str, Any]:
    return {"estimate_id": world.estimates[n]}


def upsert_one(world: World, n: int) -> dict[str, Any]:
    return {"display_name": f"Twin Contact {n:03d}", "email": f"twin{n}@example.com"}


def upsert_many(world: World, n: int) -> dict[str, Any]:
    return {
        "contacts": [
            {"crm_id": f"bulk-{n}", "display_name": f"Bulk Contact {n:03d}"},
            {"display_name": f"Bulk Partner {n:03d}", "email": f"partner{n}@example.com"},
        ]
    }


def estimate(world: World, n: int) -> dict[str, Any]:
    return {
        "customer_id": world.customers[n],
        "lines": [{"item_id": world.item_id, "quantity": str(n + 1), "unit_price": "12.50"}],
    }


def answer_id(tool: str, answer: dict[str, Any]) -> str:
    """The object a tool's answer names."""
    if tool == "record_payment":
        return str(answer["payment_id"])
    if tool == "convert_estimate":
        return str(answer["invoice"]["id"])
    if tool == "upsert_customer":
        return str(answer["customer"]["id"])
    if tool == "upsert_customers":
        return ",".join(str(o["customer_id"]) for o in answer["outcomes"])
    return str(answer["id"])


SCENARIOS: dict[str, tuple[str, Callable[[World, int], dict[str, Any]]]] = {
    "record_payment oldest open": ("record_payment", pay_oldest),
    "record_payment named invoices": ("record_payment", pay_named),
    "convert_estimate": ("convert_estimate", convert),
    "upsert_customer": ("upsert_customer", upsert_one),
    "upsert_customers": ("upsert_customers", upsert_many),
    "create_estimate": ("create_estimate", estimate),
}


def stagger(n: int, latency: float) -> float:
    """When pair n's second call starts: 0 to 20 round trips after the first (under load a
    call waits its turn, so the window where the two calls overlap wanders)."""
    return (n % 25) * 0.8 * latency


async def run_pairs(
    first: Call,
    second: Call,
    tool: str,
    args_of: Callable[[World, int], dict[str, Any]],
    world: World,
    *,
    latency: float,
    pairs: int = PAIRS,
    swap_odd: bool = False,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every pair at once, each pair's second call `stagger(n)` after its first; the answers.
    `swap_odd`: odd pairs send their first call through `second` and their second through
    `first`."""
    answers: list[tuple[dict[str, Any], dict[str, Any]] | None] = [None] * pairs

    async def pair(n: int) -> None:
        args = args_of(world, n)
        got: dict[int, dict[str, Any]] = {}

        async def one(index: int, call: Call) -> None:
            if index:
                # The client's own timing (a retry without cancelling), not a wait for us.
                await anyio.sleep(stagger(n, latency))
            got[index] = await call(tool, args)

        lead, follow = (second, first) if swap_odd and n % 2 else (first, second)
        async with anyio.create_task_group() as group:
            group.start_soon(one, 0, lead)
            group.start_soon(one, 1, follow)
        answers[n] = (got[0], got[1])

    async with anyio.create_task_group() as group:
        for n in range(pairs):
            group.start_soon(pair, n)
    return [a for a in answers if a is not None]


def duplicates(emulator: Emulator, tool: str, world: World, pairs: int = PAIRS) -> dict[str, int]:
    """Per pair, how many objects its intent made beyond one (empty when none doubled)."""
    made: Counter[str] = Counter()
    if tool == "record_payment":
        for payment in objects(emulator, "Payment"):
            made[f"{payment['CustomerRef']['value']} {payment['TotalAmt']}"] += 1
    elif tool == "convert_estimate":
        for invoice in objects(emulator, "Invoice"):
            for link in invoice.get("LinkedTxn", []):
                if link.get("TxnType") == "Estimate":
                    made[f"estimate {link['TxnId']}"] += 1
    elif tool in ("upsert_customer", "upsert_customers"):
        for customer in objects(emulator, "Customer"):
            made[customer["DisplayName"].casefold()] += 1
        emails = Counter(  # the pairs' addresses (the demo company shares one of its own)
            c["PrimaryEmailAddr"]["Address"]
            for c in objects(emulator, "Customer")
            if isinstance(c.get("PrimaryEmailAddr"), dict)
            and c["PrimaryEmailAddr"]["Address"].endswith("@example.com")
        )
        made.update({f"email {k}": v for k, v in emails.items()})
    else:
        seeded = set(world.estimates)
        for row in objects(emulator, "Estimate"):
            if row["Id"] not in seeded:
                made[f"{row['CustomerRef']['value']} {row['TotalAmt']}"] += 1
    return {key: count - 1 for key, count in made.items() if count > 1}


def disagreements(tool: str, answers: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """Pairs whose two answers name different objects."""
    return [
        f"{answer_id(tool, a)} != {answer_id(tool, b)}"
        for a, b in answers
        if answer_id(tool, a) != answer_id(tool, b)
    ]


def replays(tool: str, answers: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    """How many pairs have exactly one answer saying it found the other's write."""
    field = {"record_payment": "already_recorded", "convert_estimate": "already_converted"}
    if tool in field:
        return sum(
            1 for a, b in answers if sorted((a[field[tool]], b[field[tool]])) == [False, True]
        )
    if tool == "upsert_customer":
        return sum(
            1
            for a, b in answers
            if sorted((a["outcome"], b["outcome"])) == ["created", "unchanged"]
        )
    if tool == "upsert_customers":
        return sum(
            1
            for a, b in answers
            if sorted((a["counts"]["created"], b["counts"]["created"])) == [0, 2]
            and a["counts"]["unchanged"] + b["counts"]["unchanged"] == 2
        )
    return len(answers)  # create_estimate has no such field: the ledger replays the answer
