"""Bulk writes through 1 and through 2 replicas on one PostgreSQL database, under bench/throughput.py's
scaled limits and faults (issue 13's benchmark).

A replica here is what a `serve` process holds for a company: its own pool of connections to
the database, its own limiter (sharing the company's budget through the database's limiter
slots), its own QBO client and HTTP connections; replicas share nothing in the process. The
emulator runs under uvicorn over real loopback HTTP with bench/throughput.py's limits (100
requests per 6 s window, 10 in flight: QuickBooks' 500/min and 10 with the window cut to 6 s) and
faults (10% of write answers dropped after committing, 5% of requests answered 503, seeded).

Phases, each on an empty company: N customers created one by one by 20 tasks through one
replica; then N through two replicas (20 tasks each, the names split between them). The budget
is per company, not per replica, so the ceiling is the same for both and each ratio should be
near 1; two replicas keeping a budget each would be throttled instead. The ratio is
bench/throughput.py's (faults cost budget): the fewest windows the limits admit the requests
sent in, over the windows of budget the run occupied. Afterwards (faults off) every company's
customers are read back: duplicates and missing names. `auth_overhead_p50_ms` is
bench/auth.py's figure (a JWT checked with a cached JWKS), measured in the same run.

    .venv/bin/python bench/replicas.py                 # N = 600, about 1.5 minutes
    .venv/bin/python bench/replicas.py --n 2000
    .venv/bin/python bench/replicas.py --database-url postgresql://...   # an existing server

Without --database-url it starts a throwaway PostgreSQL cluster (initdb from Debian's
postgresql package, as the tests do). The last line is one JSON object:
`{"ratio_1", "ratio_2", "throttled", "duplicates", "auth_overhead_p50_ms", ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # tests.pg_cluster, for a throwaway server

import auth as auth_bench  # noqa: E402 (bench/auth.py)
from throughput import (  # noqa: E402 (bench/throughput.py: the same limits, faults and ratio)
    DROP_RATE,
    FAIL_503_RATE,
    LIMITS,
    CountingTransport,
    Phase,
    audit,
    run_single,
    serve,
)

from qb_mcp.emulator import Emulator, EmulatorConfig  # noqa: E402
from qb_mcp.qbo.client import QBOClient  # noqa: E402
from qb_mcp.qbo.limiter import RealmLimiter  # noqa: E402
from qb_mcp.qbo.retry import RetryPolicy  # noqa: E402
from qb_mcp.qbo.token_source import StaticTokenSource  # noqa: E402
from qb_mcp.store.limits import SharedSlots  # noqa: E402
from qb_mcp.store.postgres import PostgresDatabase, open_postgres  # noqa: E402

REALMS = {1: "4620816365300000001", 2: "4620816365300000002"}


def replica_client(
    emulator: Emulator, realm: str, base_url: str, transport: CountingTransport, db: Any
) -> QBOClient:
    return QBOClient(
        realm_id=realm,
        token_source=StaticTokenSource({realm: emulator.issue_tokens(realm).access_token}),
        base_url=base_url,
        database=db,
        transport=transport,
        limiter=RealmLimiter(LIMITS, book=SharedSlots(db), realm_id=realm),
        retry=RetryPolicy(max_attempts=8),
    )


async def through(
    replicas: int,
    n: int,
    emulator: Emulator,
    base_url: str,
    databases: list[PostgresDatabase],
    concurrency: int,
) -> tuple[Phase, list[QBOClient], list[str]]:
    """Create `n` customers through `replicas` replicas; the phase, its clients and names."""
    realm = REALMS[replicas]
    names = [f"Replica{replicas} {i:05}" for i in range(n)]
    transports = [CountingTransport() for _ in range(replicas)]
    clients = [
        replica_client(emulator, realm, base_url, transports[i], databases[i])
        for i in range(replicas)
    ]
    result = Phase(f"{replicas} replica(s)", n, 1, LIMITS.requests_per_window)
    injected0 = emulator.chaos.injected
    started = time.monotonic()
    await asyncio.gather(
        *(run_single(client, names[i::replicas], concurrency) for i, client in enumerate(clients))
    )
    result.elapsed = time.monotonic() - started
    result.requests = sum(t.requests for t in transports)
    result.throttled = sum(t.throttled for t in transports)
    result.injected = emulator.chaos.injected - injected0
    return result, clients, names


async def main(n: int, concurrency: int, seed: int, database_url: str | None) -> dict[str, Any]:
    cluster = None
    if database_url is None:
        from tests.pg_cluster import Cluster

        cluster = Cluster()
        cluster.start()
        cluster.admin("CREATE DATABASE bench")
        database_url = cluster.url("bench")
    emulator = Emulator(
        EmulatorConfig(
            requests_per_window=LIMITS.requests_per_window,
            window_seconds=LIMITS.window_seconds,
            max_in_flight=LIMITS.max_in_flight,
            batch_per_window=LIMITS.batch_per_window,
        )
    )
    for realm in REALMS.values():
        emulator.backend.add_company(realm, seed="empty")
    emulator.chaos.seed(seed)
    emulator.chaos.drop_responses(rate=DROP_RATE)
    emulator.chaos.fail_requests(503, rate=FAIL_503_RATE)
    server, thread, base_url = serve(emulator)
    databases = [await open_postgres(database_url) for _ in range(2)]
    try:
        phases: dict[int, Phase] = {}
        found: dict[int, tuple[int, int]] = {}
        opened: list[QBOClient] = []
        for replicas in (1, 2):
            print(f"creating {n} customers through {replicas} replica(s) ...", flush=True)
            phase, clients, names = await through(
                replicas, n, emulator, base_url, databases, concurrency
            )
            opened.extend(clients)
            phases[replicas] = phase
            print(phase.report(), flush=True)
            emulator.chaos.clear()  # faults off for the read-back (and the next phase's start)
            found[replicas] = await audit(clients[0], names)
            print(f"  audit: {found[replicas][0]} duplicates, {found[replicas][1]} missing")
            emulator.chaos.drop_responses(rate=DROP_RATE)
            emulator.chaos.fail_requests(503, rate=FAIL_503_RATE)
        for client in opened:
            await client.aclose()
    finally:
        for database in databases:
            await database.close()
        server.should_exit = True
        thread.join(timeout=10)
        if cluster is not None:
            cluster.stop()
    print("authentication per request (bench/auth.py) ...", flush=True)
    auth = await auth_bench.run(1000)
    return {
        "ratio_1": round(phases[1].ratio, 3),
        "ratio_2": round(phases[2].ratio, 3),
        "throttled": sum(p.throttled for p in phases.values()),
        "duplicates": sum(d for d, _ in found.values()),
        "missing": sum(m for _, m in found.values()),
        "auth_overhead_p50_ms": auth["auth_overhead_p50_ms"],
        "n": n,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="customers per phase (default 600)")
    parser.add_argument("--concurrency", type=int, default=20, help="tasks per replica")
    parser.add_argument("--seed", type=int, default=2026, help="fault injection seed")
    parser.add_argument("--database-url", default=None, help="an existing PostgreSQL database")
    args = parser.parse_args()
    if args.n < 1:
        sys.exit("--n must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main(args.n, args.concurrency, args.seed, args.database_url))
    print(json.dumps(figures))
