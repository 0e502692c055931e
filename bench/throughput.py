"""Throughput of the QBO client under QuickBooks' limits (scaled down in time) and injected faults.

Creates N customers against the emulator served by uvicorn over real loopback HTTP, once one by
one (many tasks at once) and once through the batch API, with the emulator dropping 10% of write
answers after committing and failing 5% of requests with 503. Both the emulator and the client
run with the same limits: 100 requests per 6 s window, 10 in flight, 8 batch calls per 6 s (QBO's
500/min, 10, 40/min with the window cut from 60 s to 6 s and the counts kept in proportion).

Figures printed (definitions in bench/README.md): entities per window achieved vs the ceiling
the limits allow (a ratio), 429s received, duplicates and missing customers found by querying the
emulator afterwards. The last line is one JSON object:
`{"ratio_single", "ratio_batch", "throttled", "duplicates", "missing", "n"}`.

    .venv/bin/python bench/throughput.py            # N = 2000 (about 4 minutes)
    .venv/bin/python bench/throughput.py --quick    # N = 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

from qb_mcp.emulator import Emulator, EmulatorConfig
from qb_mcp.qbo.batch import BATCH_LIMIT, BatchOp
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.qbo.query import Query
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import open_database

LIMITS = Limits(
    requests_per_window=100,
    window_seconds=6.0,
    max_in_flight=10,
    batch_per_window=8,
    batch_window_seconds=6.0,
)
DROP_RATE = 0.10
FAIL_503_RATE = 0.05
SINGLE_REALM = "4620816365200000001"
BATCH_REALM = "4620816365200000002"


class CountingTransport(httpx2.AsyncBaseTransport):
    """Real HTTP; counts requests sent and 429 answers received."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.requests = 0
        self.throttled = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            self.throttled += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Phase:
    name: str
    n: int
    items_per_request: int
    budget_per_window: int  # requests of this kind the limits admit per window
    requests: int = 0
    injected: int = 0
    throttled: int = 0
    elapsed: float = 0.0

    @property
    def windows_used(self) -> float:
        """Windows of budget the run occupied: from the first request's start until one window
        after the last answer (the limiter counts every request until then)."""
        return (self.elapsed + LIMITS.window_seconds) / LIMITS.window_seconds

    def ideal_windows(self, requests: int) -> int:
        """The fewest windows in which the limits admit `requests` requests."""
        return math.ceil(requests / self.budget_per_window)

    @property
    def needed_requests(self) -> int:
        return math.ceil(self.n / self.items_per_request)

    @property
    def ratio(self) -> float:
        """Achieved vs the ceiling, with each injected fault costing one request of budget."""
        return self.ideal_windows(self.requests) / self.windows_used

    @property
    def raw_ratio(self) -> float:
        """Achieved vs the ceiling of a fault-free run (faults not forgiven)."""
        return self.ideal_windows(self.needed_requests) / self.windows_used

    def report(self) -> str:
        achieved = self.n / self.windows_used
        ceiling = self.n / self.ideal_windows(self.requests)
        ceiling_raw = self.n / self.ideal_windows(self.needed_requests)
        return (
            f"{self.name}: {self.n} customers in {self.elapsed:.1f} s "
            f"({self.windows_used:.2f} windows of budget used); {self.requests} requests sent, "
            f"{self.injected} hit by injected faults, {self.throttled} throttled\n"
            f"  entities per window: achieved {achieved:.1f}, ceiling {ceiling:.1f} "
            f"(faults cost budget) / {ceiling_raw:.1f} (fault-free)\n"
            f"  ratio {self.ratio:.3f} (faults cost budget), {self.raw_ratio:.3f} (fault-free)"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(emulator: Emulator) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    # log_level critical: every injected drop is an exception inside the app, which uvicorn
    # would otherwise print with a traceback.
    config = uvicorn.Config(
        emulator.app, host="127.0.0.1", port=port, log_level="critical", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


def client_for(
    emulator: Emulator, realm: str, base_url: str, transport: CountingTransport, database: Any
) -> QBOClient:
    return QBOClient(
        realm_id=realm,
        token_source=StaticTokenSource({realm: emulator.issue_tokens(realm).access_token}),
        base_url=base_url,
        database=database,
        transport=transport,
        limiter=RealmLimiter(LIMITS),
        retry=RetryPolicy(max_attempts=8),
    )


async def run_single(client: QBOClient, names: list[str], concurrency: int) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def worker() -> None:
        while not queue.empty():
            name = queue.get_nowait()
            await client.create("Customer", {"DisplayName": name})

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run_batch(client: QBOClient, names: list[str]) -> None:
    results = await client.batch([BatchOp.create("Customer", {"DisplayName": n}) for n in names])
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} batch items failed, first: {failed[0].error}")


async def phase(
    name: str,
    emulator: Emulator,
    client: QBOClient,
    transport: CountingTransport,
    names: list[str],
    run: Any,
) -> Phase:
    result = Phase(
        name,
        len(names),
        items_per_request=1 if name == "single" else BATCH_LIMIT,
        budget_per_window=(
            LIMITS.requests_per_window
            if name == "single"
            else min(LIMITS.batch_per_window, LIMITS.requests_per_window)
        ),
    )
    requests0, throttled0, injected0 = (
        transport.requests,
        transport.throttled,
        emulator.chaos.injected,
    )
    started = time.monotonic()
    await run()
    result.elapsed = time.monotonic() - started
    result.requests = transport.requests - requests0
    result.throttled = transport.throttled - throttled0
    result.injected = emulator.chaos.injected - injected0
    return result


async def audit(client: QBOClient, expected: list[str]) -> tuple[int, int]:
    """(duplicates, missing): extra copies and absent names among the realm's customers."""
    seen = Counter([row["DisplayName"] async for row in client.query_all(Query.select("Customer"))])
    wanted = set(expected)
    duplicates = sum(count - 1 for count in seen.values() if count > 1)
    duplicates += sum(count for name, count in seen.items() if name not in wanted)
    missing = sum(1 for name in wanted if name not in seen)
    return duplicates, missing


async def main(n: int, concurrency: int, seed: int) -> dict[str, Any]:
    emulator = Emulator(
        EmulatorConfig(
            requests_per_window=LIMITS.requests_per_window,
            window_seconds=LIMITS.window_seconds,
            max_in_flight=LIMITS.max_in_flight,
            batch_per_window=LIMITS.batch_per_window,
        )
    )
    for realm in (SINGLE_REALM, BATCH_REALM):
        emulator.backend.add_company(realm, seed="empty")
    emulator.chaos.seed(seed)
    emulator.chaos.drop_responses(rate=DROP_RATE)
    emulator.chaos.fail_requests(503, rate=FAIL_503_RATE)
    server, thread, base_url = serve(emulator)
    transport = CountingTransport()
    phases: list[Phase] = []
    try:
        with tempfile.TemporaryDirectory() as home:
            database = await open_database(Path(home) / "bench.sqlite3")
            try:
                single_names = [f"Single {i:05}" for i in range(n)]
                batch_names = [f"Batch {i:05}" for i in range(n)]
                single = client_for(emulator, SINGLE_REALM, base_url, transport, database)
                batch = client_for(emulator, BATCH_REALM, base_url, transport, database)
                print(f"creating {n} customers one by one ({concurrency} tasks) ...", flush=True)
                phases.append(
                    await phase(
                        "single",
                        emulator,
                        single,
                        transport,
                        single_names,
                        lambda: run_single(single, single_names, concurrency),
                    )
                )
                print(phases[-1].report(), flush=True)
                print(f"creating {n} customers through batch ...", flush=True)
                phases.append(
                    await phase(
                        "batch",
                        emulator,
                        batch,
                        transport,
                        batch_names,
                        lambda: run_batch(batch, batch_names),
                    )
                )
                print(phases[-1].report(), flush=True)
                emulator.chaos.clear()
                dup_single, missing_single = await audit(single, single_names)
                dup_batch, missing_batch = await audit(batch, batch_names)
                print(
                    f"audit: single {dup_single} duplicates, {missing_single} missing; "
                    f"batch {dup_batch} duplicates, {missing_batch} missing"
                )
                await single.aclose()
                await batch.aclose()
            finally:
                await database.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"429s received over the whole run: {transport.throttled}")
    print(
        json.dumps(
            {
                "detail": {
                    p.name: {
                        "elapsed_s": round(p.elapsed, 2),
                        "requests": p.requests,
                        "injected_faults": p.injected,
                        "ratio_fault_free_ceiling": round(p.raw_ratio, 3),
                    }
                    for p in phases
                }
            }
        )
    )
    return {
        "ratio_single": round(phases[0].ratio, 3),
        "ratio_batch": round(phases[1].ratio, 3),
        "throttled": transport.throttled,
        "duplicates": dup_single + dup_batch,
        "missing": missing_single + missing_batch,
        "n": n,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="customers per path (default 2000)")
    parser.add_argument("--quick", action="store_true", help="N = 300, for a fast look")
    parser.add_argument("--concurrency", type=int, default=20, help="tasks on the single path")
    parser.add_argument("--seed", type=int, default=2026, help="fault injection seed")
    args = parser.parse_args()
    count = 300 if args.quick else args.n
    if count < 1:
        sys.exit("--n must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main(count, args.concurrency, args.seed))
    print(json.dumps(figures))
