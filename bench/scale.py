"""Scale and cost: what lookups, a CRM sync and the open-invoice list cost as a company grows.

Runs in process (the emulator through httpx2's ASGI transport, a fresh SQLite store), with the
emulator's own limits lifted so only our code and the emulator's work are measured. Companies are
seeded straight into the emulator's backend (its write rules, no HTTP), then:

- find: `find_customer` by name, email, phone, CRM-less misses, at each size: QuickBooks requests
  per lookup (`find_requests_max`, counted at the transport) and p50 ms, once warm;
- upsert: `upsert_customers` of 1,000 contacts against 1,000 customers (`upsert_1k_s`) and of
  5,000 against 20,000 (`upsert_5k_20k_s`); half the contacts match by email, half are new;
- open invoices: `list_open_invoices` p50 ms at each size (that many open invoices);
- tools: the compact JSON size of tools/list (`tools_list_bytes`), from a real MCP session;
- webhooks: bench/webhooks.py against the listener and against the signature-only floor, in the
  same run, alternating, best of `--webhook-rounds` each (`webhook_floor_ratio`,
  `webhook_p99_ratio`); `--webhooks N` deliveries a run, 0 to skip.

    .venv/bin/python bench/scale.py                          # 1,000 / 10,000 / 100,000
    .venv/bin/python bench/scale.py --sizes 1000,10000       # a loaded machine
    .venv/bin/python bench/scale.py --only upsert            # one part (find, upsert, open,
                                                             # tools, webhooks)

Growth per 10x (`*_growth`) is the ratio between consecutive sizes: ~1 is flat, ~10 is linear.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2

from qb_mcp.emulator import Emulator, EmulatorConfig
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import Database, open_database

REALM = "9130000000000011"
ROOMY = Limits(requests_per_window=10**9, max_in_flight=10, batch_per_window=10**9)


class CountingTransport(httpx2.AsyncBaseTransport):
    """The emulator in process; counts the requests our code sends it."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx2.ASGITransport(app=app)
        self.requests = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        return await self._inner.handle_async_request(request)


def company(customers: int, invoices: int = 0) -> Emulator:
    """An emulator with one company of `customers` customers and `invoices` open invoices."""
    config = EmulatorConfig(requests_per_window=10**9, max_in_flight=10**6, batch_per_window=10**9)
    # Seeded ten minutes in the past: a company's customers were not all created just now (CDC
    # would answer its 1,000 maximum and the index re-read everything).
    shift = [-600.0]
    emulator = Emulator(config, clock=lambda: time.time() + shift[0])
    backend = emulator.backend
    backend.add_company(REALM, seed="empty")
    backend.write(REALM, "Item", {"Name": "Consulting", "UnitPrice": "100"})
    for n in range(customers):
        backend.write(REALM, "Customer", customer_body(n))
    for n in range(invoices):
        line = {
            "Amount": "100.00",
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": "100"},
        }
        body = {"CustomerRef": {"value": str(1 + n % max(customers, 1))}, "Line": [line]}
        body["DueDate"] = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}"
        backend.write(REALM, "Invoice", body)
    shift[0] = 0.0
    return emulator


def customer_body(n: int) -> dict[str, Any]:
    return {
        "DisplayName": f"Customer {n:06d} O'Brien",
        "GivenName": f"Given{n}",
        "FamilyName": f"Family{n}",
        "CompanyName": f"Company {n} Ltd",
        "PrimaryEmailAddr": {"Address": f"person{n}@example{n % 97}.com"},
        "PrimaryPhone": {"FreeFormNumber": f"(650) {n // 10000 % 1000:03d}-{n % 10000:04d}"},
    }


async def client_for(emulator: Emulator, database: Database) -> tuple[QBOClient, CountingTransport]:
    transport = CountingTransport(emulator.app)

    async def no_sleep(_seconds: float) -> None:
        return None

    client = QBOClient(
        realm_id=REALM,
        token_source=StaticTokenSource({REALM: emulator.issue_tokens(REALM).access_token}),
        base_url="http://emulator",
        transport=transport,
        database=database,
        limiter=RealmLimiter(ROOMY),
        retry=RetryPolicy(jitter=lambda: 1.0, sleep=no_sleep),
    )
    return client, transport


async def timed(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    await call(*args, **kwargs)
    return time.perf_counter() - started


def growth(values: list[float], sizes: list[int]) -> list[float]:
    """The ratio between consecutive figures, per 10x of size (~1 flat, ~10 linear)."""
    out = []
    for (a, b), (m, n) in zip(itertools.pairwise(values), itertools.pairwise(sizes), strict=True):
        tenfolds = math.log10(n / m) if n > m else 0.0
        out.append(round((b / a) ** (1 / tenfolds), 2) if a > 0 and b > 0 and tenfolds else 0.0)
    return out


def show_growth(name: str, figures: list[float]) -> None:
    print(f"{name} growth per 10x: {', '.join(f'{g:.2f}' for g in figures) or '-'}", flush=True)


async def bench_find(sizes: list[int], folder: Path, out: dict[str, Any]) -> None:
    from qb_mcp.bookkeeping.customers import FindCustomerInput, find_customer

    requests_max: list[int] = []
    p50s: list[float] = []
    for size in sizes:
        started = time.perf_counter()
        emulator = company(size)
        print(f"find: seeded {size} customers in {time.perf_counter() - started:.1f} s", flush=True)
        # Each company gets a database of its own (the index of the last one would be loaded).
        database = await open_database(folder / f"find-{size}.sqlite3")
        client, transport = await client_for(emulator, database)
        probe = size // 2
        lookups = [
            {"name": f"customer {probe:06d} obrien"},
            {"name": f"Given{probe} Family{probe}"},
            {"email": f"person{probe}@example{probe % 97}.com"},
            {"phone": f"+1 650 {probe // 10000 % 1000:03d} {probe % 10000:04d}"},
            {"company": f"company {probe} ltd"},
            {"name": "nobody by this name"},
        ]
        extra: dict[str, Any] = {}
        if "directory" in inspect.signature(find_customer).parameters:  # main before issue 11
            from qb_mcp.bookkeeping.directory import Directory

            extra["directory"] = Directory(client, database, max_age=0.0)  # CDC every lookup
        find = find_customer
        await find(client, FindCustomerInput(**lookups[0]), **extra)  # warm: the index fills
        worst = 0
        times: list[float] = []
        for _round in range(3):
            for lookup in lookups:
                before = transport.requests
                seconds = await timed(find, client, FindCustomerInput(**lookup), **extra)
                worst = max(worst, transport.requests - before)
                times.append(seconds * 1000)
        found = await find(client, FindCustomerInput(**lookups[0]), **extra)
        assert found.matches and found.matches[0].display_name == f"Customer {probe:06d} O'Brien"
        requests_max.append(worst)
        p50s.append(statistics.median(times))
        print(
            f"find at {size}: at most {worst} requests a lookup, p50 {p50s[-1]:.1f} ms", flush=True
        )
        await client.aclose()
        await database.close()
    out["find_requests_max"] = dict(zip(map(str, sizes), requests_max, strict=True))
    out["find_requests_growth"] = growth([float(r) for r in requests_max], sizes)
    out["find_p50_ms"] = dict(zip(map(str, sizes), [round(p, 1) for p in p50s], strict=True))
    out["find_p50_growth"] = growth(p50s, sizes)
    show_growth("find requests", out["find_requests_growth"])
    show_growth("find p50", out["find_p50_growth"])


def contacts(count: int, existing: int) -> list[dict[str, Any]]:
    """Half the contacts are existing customers (by email, with a changed phone), half new."""
    out = []
    for k in range(count):
        if k % 2 == 0 and existing:
            n = (k * 7919) % existing
            out.append(
                {
                    "crm_id": f"crm-{n}",
                    "given_name": f"Given{n}",
                    "family_name": f"Family{n}",
                    "email": f"person{n}@example{n % 97}.com",
                    "phone": f"650-{n % 1000:03d}-{k % 10000:04d}",
                }
            )
        else:
            out.append(
                {
                    "crm_id": f"crm-new-{k}",
                    "display_name": f"New Contact {k}",
                    "email": f"new{k}@crm.example",
                    "phone": f"+44 20 7946 {k % 10000:04d}",
                }
            )
    return out


async def bench_upsert(folder: Path, out: dict[str, Any], pairs: list[tuple[int, int]]) -> None:
    from qb_mcp.bookkeeping.customers import UpsertCustomersInput, upsert_customers

    seconds_each: list[float] = []
    for count, existing in pairs:
        emulator = company(existing)
        database = await open_database(folder / f"upsert-{count}-{existing}.sqlite3")
        client, transport = await client_for(emulator, database)
        params = UpsertCustomersInput.model_validate({"contacts": contacts(count, existing)})
        extra: dict[str, Any] = {}
        if "directory" in inspect.signature(upsert_customers).parameters:  # main before issue 11
            from qb_mcp.bookkeeping.directory import Directory

            # Warm, as in a running server: the sync's own cost is one CDC request.
            extra["directory"] = Directory(client, database, max_age=0.0)
            await extra["directory"].fresh()
        started = time.perf_counter()
        result = await upsert_customers(client, params, **extra)
        seconds = time.perf_counter() - started
        print(
            f"upsert {count} contacts against {existing} customers: {seconds:.2f} s, "
            f"{transport.requests} requests, {result.counts}",
            flush=True,
        )
        key = "upsert_1k_s" if (count, existing) == (1000, 1000) else f"upsert_{count}_{existing}_s"
        if (count, existing) == (5000, 20000):
            key = "upsert_5k_20k_s"
        out[key] = round(seconds, 2)
        seconds_each.append(seconds)
        await client.aclose()
        await database.close()
    # Linear means time grows with contacts + customers (what the sync must at least touch).
    out["upsert_growth"] = growth(seconds_each, [c + e for c, e in pairs])
    show_growth("upsert (per 10x contacts + customers)", out["upsert_growth"])


async def bench_open(sizes: list[int], database: Database, out: dict[str, Any]) -> None:
    from qb_mcp.bookkeeping.reads import ListOpenInvoicesInput, list_open_invoices

    p50s: list[float] = []
    for size in sizes:
        started = time.perf_counter()
        emulator = company(min(size, 1000), size)
        print(f"open: seeded {size} invoices in {time.perf_counter() - started:.1f} s", flush=True)
        client, transport = await client_for(emulator, database)
        params = ListOpenInvoicesInput()
        await list_open_invoices(client, params)
        before = transport.requests
        times = [await timed(list_open_invoices, client, params) * 1000 for _ in range(5)]
        p50s.append(statistics.median(times))
        print(
            f"list_open_invoices at {size}: p50 {p50s[-1]:.1f} ms, "
            f"{(transport.requests - before) / 5:.0f} requests",
            flush=True,
        )
        await client.aclose()
    out["open_p50_ms"] = dict(zip(map(str, sizes), [round(p, 1) for p in p50s], strict=True))
    out["open_p50_growth"] = growth(p50s, sizes)
    show_growth("list_open_invoices p50", out["open_p50_growth"])


async def bench_tools(out: dict[str, Any]) -> None:
    """tools/list as a client receives it, serialised compactly."""
    from mcp import Client

    from qb_mcp.config import Settings
    from qb_mcp.server import build_server

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), environment="emulator")
        server = build_server(settings, emulator=Emulator())
        async with Client(server) as session:
            listed = await session.list_tools()
    tools = [
        tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools
    ]
    size = len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False).encode())
    out["tools"] = len(tools)
    out["tools_list_bytes"] = size
    print(f"tools/list: {len(tools)} tools, {size} bytes compact", flush=True)


def bench_webhooks(out: dict[str, Any], n: int, rounds: int) -> None:
    """bench/webhooks.py against the signature-only floor, then against the listener, `rounds`
    times alternating; each side's best run counts (other work on a shared machine only ever
    slows a run down, so the best is the least disturbed)."""
    here = Path(__file__).with_name("webhooks.py")
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "listener": []}
    for _round in range(rounds):
        for mode in ("floor", "listener"):
            args = [sys.executable, str(here), "--n", str(n)]
            if mode == "floor":
                args.append("--floor")
            done = subprocess.run(args, capture_output=True, text=True, check=True)
            runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"webhooks ({mode}): {runs[mode][-1]}", flush=True)
    best = {mode: max(found, key=lambda r: r["deliveries_per_s"]) for mode, found in runs.items()}
    p99 = {mode: min(r["p99_ms"] for r in found) for mode, found in runs.items()}
    out["webhook"] = best
    out["webhook_floor_ratio"] = round(
        best["listener"]["deliveries_per_s"] / best["floor"]["deliveries_per_s"], 2
    )
    out["webhook_p99_ratio"] = round(p99["listener"] / p99["floor"], 2)
    print(
        f"webhooks: listener {out['webhook_floor_ratio']}x the floor's deliveries/s, "
        f"p99 {out['webhook_p99_ratio']}x (best of {rounds} each)",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--only", default="find,upsert,open,tools,webhooks")
    parser.add_argument(
        "--webhooks", type=int, default=3000, help="deliveries per webhook run (0: skip)"
    )
    parser.add_argument("--webhook-rounds", type=int, default=2, help="runs of each side")
    parser.add_argument("--upsert", default="1000x1000,5000x20000", help="contacts x customers")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    parts = set(args.only.split(","))
    out: dict[str, Any] = {"sizes": sizes}
    with tempfile.TemporaryDirectory() as folder:
        database = await open_database(Path(folder) / "bench.sqlite3")
        try:
            if "find" in parts:
                await bench_find(sizes, Path(folder), out)
            if "upsert" in parts:
                pairs = [tuple(int(x) for x in p.split("x")) for p in args.upsert.split(",") if p]
                await bench_upsert(Path(folder), out, pairs)  # type: ignore[arg-type]
            if "open" in parts:
                await bench_open(sizes, database, out)
            if "tools" in parts:
                await bench_tools(out)
        finally:
            await database.close()
    if args.webhooks and "webhooks" in parts:
        bench_webhooks(out, args.webhooks, max(1, args.webhook_rounds))
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
