"""One process of the shared-budget tests (run by test_shared_limits.py as `python -m`).

    python -m tests.qbo.shared_limit_worker call --until EPOCH --tasks 8 --base-url URL --realm R
    python -m tests.qbo.shared_limit_worker hold --realm R

`call`: `--tasks` tasks send requests (one in five a batch call) through one QBOClient until
`--until`, with the database in QBO_HOME and the scaled-down budget of `LIMITS` (the emulator
runs with the same); a throttled request fails at once (no waiting it out), so every 429 shows.
Prints one JSON line: {"ok": n, "batches": n, "failures": {...}}.
`hold`: takes every in-flight slot of the realm's shared budget, prints HELD, waits to be killed.
The access token comes from QBO_TEST_ACCESS_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

from qb_mcp.qbo.batch import BatchOp
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, limiter_for
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from qb_mcp.store import open_database

LIMITS = Limits(
    requests_per_window=30,
    window_seconds=2.0,
    max_in_flight=4,
    batch_per_window=5,
    batch_window_seconds=2.0,
)


def database_path() -> Path:
    return Path(os.environ["QBO_HOME"]) / "qb-mcp.sqlite3"


async def call(args: argparse.Namespace) -> dict[str, object]:
    database = await open_database(database_path())
    limiter = limiter_for(args.realm, LIMITS, database=database)
    tokens = StaticTokenSource({args.realm: os.environ["QBO_TEST_ACCESS_TOKEN"]})
    ok = batches = 0
    failures: Counter[str] = Counter()
    async with QBOClient(
        realm_id=args.realm,
        token_source=tokens,
        base_url=args.base_url,
        database=database,
        limiter=limiter,
        retry=RetryPolicy(max_throttle_waits=0, max_attempts=1),
    ) as client:

        async def task(number: int) -> None:
            nonlocal ok, batches
            sent = 0
            while time.time() < args.until:
                sent += 1
                try:
                    if (sent + number) % 5 == 0:
                        results = await client.batch([BatchOp.select("select * from Customer")])
                        failed = [r.error for r in results if r.error is not None]
                        if failed:
                            raise failed[0]
                        batches += 1
                    else:
                        await client.company_info()
                except Exception as exc:  # counted and reported, never hidden
                    failures[f"{type(exc).__name__}: {exc}"[:200]] += 1
                else:
                    ok += 1

        await asyncio.gather(*(task(n) for n in range(args.tasks)))
    await database.close()
    return {"ok": ok, "batches": batches, "failures": dict(failures)}


async def hold(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        database = await open_database(database_path())
        limiter = limiter_for(args.realm, LIMITS, database=database)
        for _ in range(LIMITS.max_in_flight):
            await stack.enter_async_context(limiter.slot())
        print("HELD", flush=True)
        await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("call", "hold"))
    parser.add_argument("--realm", required=True)
    parser.add_argument("--until", type=float, default=0.0)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--base-url", default="")
    args = parser.parse_args()
    if args.mode == "call":
        print(json.dumps(asyncio.run(call(args))), flush=True)
    else:
        asyncio.run(hold(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
