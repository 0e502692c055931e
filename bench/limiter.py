"""What sharing a realm's budget through the store costs per request (issue 10 item 5).

Takes and gives back 450 slots of QuickBooks' real budget (500 a minute, 10 in flight: so nothing
waits, and the table holds as many rows as it ever will), first with the in-process limiter
alone, then with the budget shared through SQLite (`SharedSlots`), one task at a time and with 10
tasks at once; then with a second process taking slots of another realm from the same database
at full speed meanwhile (contention for SQLite's write lock). Each run uses a fresh database.
The overhead of sharing is the difference per slot.

The last line printed is one JSON object: `memory_us`, `shared_us`, `shared_10_tasks_us`,
`shared_contended_us` (microseconds per slot, median of 3 runs).

    .venv/bin/python bench/limiter.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.store import open_database
from qb_mcp.store.limits import SharedSlots

QUICKBOOKS = Limits()
SLOTS = 450
REALM = "9130355377388"


async def per_slot(limiter: RealmLimiter, count: int, tasks: int) -> float:
    async def run(share: int) -> None:
        for _ in range(share):
            async with limiter.slot():
                pass

    started = time.perf_counter()
    await asyncio.gather(*(run(count // tasks) for _ in range(tasks)))
    return (time.perf_counter() - started) / count * 1e6


async def shared_per_slot(path: Path, tasks: int, realm: str = REALM) -> float:
    database = await open_database(path)
    try:
        shared = RealmLimiter(QUICKBOOKS, book=SharedSlots(database), realm_id=realm)
        return await per_slot(shared, SLOTS, tasks)
    finally:
        await database.close()


async def hammer(path: Path) -> None:
    """The second process: slots of other realms, as fast as it can, until killed."""
    number = 0
    while True:
        number += 1
        await shared_per_slot(path, 10, realm=str(number))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(hammer(Path(args.child)))
        return
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(3):
            home = Path(folder) / f"home-{number}"
            run = {
                "memory_us": asyncio.run(per_slot(RealmLimiter(QUICKBOOKS), SLOTS, 1)),
                "shared_us": asyncio.run(shared_per_slot(home / "a.sqlite3", 1)),
                "shared_10_tasks_us": asyncio.run(shared_per_slot(home / "b.sqlite3", 10)),
            }
            path = home / "c.sqlite3"
            asyncio.run(shared_per_slot(path, 1, realm="0"))  # create it before the child opens it
            other = subprocess.Popen([sys.executable, __file__, "--child", str(path)])
            time.sleep(0.5)  # let it start taking slots
            run["shared_contended_us"] = asyncio.run(shared_per_slot(path, 10))
            other.kill()
            other.wait()
            runs.append(run)
    result = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
    print(json.dumps({"detail": runs}))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
