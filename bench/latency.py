"""Latency of the MCP layer, cold start of `qb-mcp serve`, and its resident memory.

1. Per-tool latency: each read tool called through an in-memory MCP client session (`mcp.Client`
   on the server object, modern era, and legacy for comparison) against the in-process emulator,
   next to the same operation made directly with the bookkeeping layer on a `QBOClient` over the
   same emulator. Calls alternate MCP / direct so both see the same emulator state and machine
   load. The MCP overhead of a call is the difference of the two; reported at p50 and p95 (the
   difference of the percentiles), and as a ratio (p50 through MCP / p50 direct).
2. Cold start: spawning `python -m qb_mcp serve` (a fresh QBO_HOME: the built-in emulator company)
   until `tools/list` is answered over stdio, next to a bare `MCPServer` with one tool spawned and
   listed the same way (the SDK's own floor). Medians of several runs, and their ratio.
3. Memory: the resident set (VmRSS) of the `qb-mcp serve` process after tools/list and a
   quote-to-cash walkthrough (customer, estimate, invoice, payment).

The last line printed is one JSON object: `overhead_p50_ms`, `overhead_p95_ms`, `cold_start_s`,
`cold_start_floor_s`, `cold_start_ratio`, `rss_mb` (plus `detail` on the line before it).

    .venv/bin/python bench/latency.py            # 300 calls per tool, 7 cold starts each
    .venv/bin/python bench/latency.py --quick    # 60 calls per tool, 3 cold starts each
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from qb_mcp.bookkeeping import customers, reads
from qb_mcp.bookkeeping.customers import FindCustomerInput
from qb_mcp.bookkeeping.reads import (
    FindItemsInput,
    GetTransactionInput,
    ListOpenInvoicesInput,
    RunQueryInput,
)
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.server import EmulatorTokens, build_server
from qb_mcp.store import open_database

# The emulator's per-minute limit would throttle a benchmark; its behaviour is not measured here.
# Nor would the client's own limiter (QuickBooks' 500 a minute) let the calls through at speed.
# Short windows as well as large budgets: both limiters remember each request for one window.
UNLIMITED = EmulatorConfig(
    requests_per_window=10**9, window_seconds=0.01, max_in_flight=10**6, batch_per_window=10**9
)
NO_BUDGET = Limits(
    requests_per_window=10**9,
    window_seconds=0.01,
    max_in_flight=10**6,
    batch_per_window=10**9,
    batch_window_seconds=0.01,
)

FLOOR_SERVER = textwrap.dedent(
    """
    from mcp.server import MCPServer

    server = MCPServer("floor", version="0")

    @server.tool()
    def ping() -> str:
        return "pong"

    server.run()
    """
)

# (tool, arguments, the same operation made directly)
Direct = Callable[[QBOClient], Awaitable[Any]]
CASES: list[tuple[str, dict[str, Any], Direct]] = [
    (
        "find_customer",
        {"name": "Amy"},
        lambda c: customers.find_customer(c, FindCustomerInput(name="Amy")),
    ),
    (
        "find_items",
        {"name": "Design"},
        lambda c: reads.find_items(c, FindItemsInput(name="Design")),
    ),
    (
        "list_open_invoices",
        {},
        lambda c: reads.list_open_invoices(c, ListOpenInvoicesInput()),
    ),
    (
        "get_transaction",
        {"kind": "invoice", "id": "1"},
        lambda c: reads.get_transaction(c, GetTransactionInput(kind="invoice", id="1")),
    ),
    (
        "query",
        {"query": "SELECT * FROM Customer", "max_rows": 10},
        lambda c: reads.run_query(c, RunQueryInput(query="SELECT * FROM Customer", max_rows=10)),
    ),
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def per_tool(calls: int, mode: str, home: Path) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) through MCP and direct, per tool."""
    emulator = Emulator(UNLIMITED)
    settings = Settings(home=home / f"latency-{mode}", environment="emulator")
    limiter = RealmLimiter(NO_BUDGET)
    server = build_server(settings, emulator=emulator, limiter=limiter)
    database = await open_database(home / f"direct-{mode}.sqlite3")
    direct = QBOClient(
        realm_id=str(DEMO_REALM_ID),
        token_source=EmulatorTokens(emulator),
        base_url="http://emulator",
        database=database,
        transport=httpx2.ASGITransport(app=emulator.app),
        limiter=limiter,
    )
    results: dict[str, dict[str, float]] = {}
    try:
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            for tool, arguments, operation in CASES:
                mcp_ms: list[float] = []
                direct_ms: list[float] = []
                for _ in range(max(5, calls // 10)):  # warm both paths
                    await client.call_tool(tool, arguments)
                    await operation(direct)
                for _ in range(calls):
                    start = time.perf_counter()
                    answer = await client.call_tool(tool, arguments)
                    mcp_ms.append((time.perf_counter() - start) * 1000)
                    if answer.is_error:
                        raise RuntimeError(f"{tool} failed: {answer.content}")
                    start = time.perf_counter()
                    await operation(direct)
                    direct_ms.append((time.perf_counter() - start) * 1000)
                results[tool] = {
                    "mcp_p50_ms": percentile(mcp_ms, 50),
                    "mcp_p95_ms": percentile(mcp_ms, 95),
                    "direct_p50_ms": percentile(direct_ms, 50),
                    "direct_p95_ms": percentile(direct_ms, 95),
                }
    finally:
        await direct.aclose()
        await database.close()
    return results


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    env["QBO_LOG_LEVEL"] = "ERROR"  # the "serving the demo company" line on every spawn
    return env


async def cold_start(params: StdioServerParameters) -> float:
    """Seconds from spawning the process to its answer to tools/list."""
    start = time.perf_counter()
    async with Client(params) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - start
    if not tools.tools:
        raise RuntimeError("the server listed no tools")
    return elapsed


async def cold_starts(runs: int, home: Path) -> tuple[float, float]:
    """Median cold start of `qb-mcp serve` and of the bare floor server, alternated."""
    floor_script = home / "floor_server.py"
    floor_script.write_text(FLOOR_SERVER, encoding="utf-8")
    ours: list[float] = []
    floor: list[float] = []
    for run in range(runs + 1):
        serve = StdioServerParameters(
            command=sys.executable,
            args=["-m", "qb_mcp", "serve"],
            env=_env(home / f"cold-{run}"),
        )
        bare = StdioServerParameters(
            command=sys.executable, args=[str(floor_script)], env=_env(home / "floor")
        )
        ours_s = await cold_start(serve)
        floor_s = await cold_start(bare)
        if run:  # the first pair warms the OS file cache for both
            ours.append(ours_s)
            floor.append(floor_s)
    return statistics.median(ours), statistics.median(floor)


def _children_rss_mb(command_part: str) -> float:
    """VmRSS of this process's child whose command line contains `command_part` (Linux)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if ppid != me or command_part not in cmdline:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    raise RuntimeError("the qb-mcp serve process was not found in /proc")


async def serve_rss(home: Path) -> float:
    """Resident memory (MB) of `qb-mcp serve` after a quote-to-cash walkthrough."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "qb_mcp", "serve"], env=_env(home / "rss")
    )
    async with Client(params) as client:
        await client.list_tools()
        made = await client.call_tool(
            "upsert_customer", {"display_name": "Bench Customer", "email": "bench@example.com"}
        )
        customer_id = made.structured_content["customer"]["id"]  # type: ignore[index]
        estimate = await client.call_tool(
            "create_estimate",
            {"customer_id": customer_id, "lines": [{"item_name": "Design", "quantity": 2}]},
        )
        estimate_id = estimate.structured_content["id"]  # type: ignore[index]
        invoice = await client.call_tool("convert_estimate", {"estimate_id": estimate_id})
        invoice_view = invoice.structured_content["invoice"]  # type: ignore[index]
        await client.call_tool(
            "record_payment",
            {
                "customer_id": customer_id,
                "amount": invoice_view["balance"],
                "invoice_ids": [invoice_view["id"]],
            },
        )
        for _ in range(50):
            await client.call_tool("find_customer", {"name": "Amy"})
        return _children_rss_mb("qb_mcp serve")


async def main(calls: int, runs: int) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO if os.environ.get("BENCH_DEBUG") else logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="qb-mcp-latency-") as tmp:
        home = Path(tmp)
        detail: dict[str, Any] = {"calls_per_tool": calls, "cold_start_runs": runs}
        for mode in ("auto", "legacy"):
            print(f"per-tool latency, {mode} era, {calls} calls per tool ...", flush=True)
            figures = await per_tool(calls, mode, home)
            detail[mode] = figures
            print(
                f"  {'tool':<20} {'MCP p50':>9} {'direct p50':>11} {'MCP p95':>9} {'direct p95':>11}"
            )
            for tool, f in figures.items():
                print(
                    f"  {tool:<20} {f['mcp_p50_ms']:>7.2f}ms {f['direct_p50_ms']:>9.2f}ms "
                    f"{f['mcp_p95_ms']:>7.2f}ms {f['direct_p95_ms']:>9.2f}ms"
                )
        modern = detail["auto"]
        overhead_p50 = statistics.median(
            f["mcp_p50_ms"] - f["direct_p50_ms"] for f in modern.values()
        )
        overhead_p95 = statistics.median(
            f["mcp_p95_ms"] - f["direct_p95_ms"] for f in modern.values()
        )
        ratio = statistics.median(f["mcp_p50_ms"] / f["direct_p50_ms"] for f in modern.values())
        print(
            f"MCP overhead per call (median over tools, modern era): p50 {overhead_p50:.3f} ms, "
            f"p95 {overhead_p95:.3f} ms; p50 through MCP / direct = {ratio:.2f}x"
        )
        print(f"cold start: {runs} runs each (after one warm-up pair) ...", flush=True)
        ours, floor = await cold_starts(runs, home)
        print(
            f"  qb-mcp serve {ours:.3f} s, bare MCPServer {floor:.3f} s, ratio {ours / floor:.2f}"
        )
        rss = await serve_rss(home)
        print(f"resident memory of qb-mcp serve after quote-to-cash: {rss:.1f} MB")
        detail["overhead_ratio_p50"] = round(ratio, 3)
        print(json.dumps({"detail": detail}))
        return {
            "overhead_p50_ms": round(overhead_p50, 3),
            "overhead_p95_ms": round(overhead_p95, 3),
            "cold_start_s": round(ours, 3),
            "cold_start_floor_s": round(floor, 3),
            "cold_start_ratio": round(ours / floor, 3),
            "rss_mb": round(rss, 1),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 calls per tool, 3 cold starts")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    options = parser.parse_args()
    calls = options.calls or (60 if options.quick else 300)
    runs = options.runs or (3 if options.quick else 7)
    print(json.dumps(anyio.run(main, calls, runs)))
