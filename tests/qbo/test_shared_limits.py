"""Issue 10 item 5: the processes of one QBO_HOME share each realm's QuickBooks budget through
the store, so together they stay under it; a process that dies holding slots frees them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.limiter import Limits, RealmLimiter, limiter_for
from qb_mcp.store import Database, open_database
from qb_mcp.store.limits import UNTIL_RELEASE, SharedSlots, Ticket
from tests.auth.live import serve
from tests.qbo.shared_limit_worker import LIMITS
from tests.qbo.test_limiter import most_in_flight, run_load, worst_window
from tests.qbo.virtual_time import VirtualTime

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
REALM = "9130355377388"
SMALL = Limits(
    requests_per_window=20,
    window_seconds=10.0,
    max_in_flight=5,
    batch_per_window=3,
    batch_window_seconds=10.0,
)


@pytest.fixture
async def two_databases(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database file, as two processes on one QBO_HOME would have."""
    path = tmp_path / "home" / "qb-mcp.sqlite3"
    first = await open_database(path)
    second = await open_database(path)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_two_limiters_on_one_database_stay_under_one_budget_together(
    two_databases: tuple[Database, Database],
) -> None:
    time_ = VirtualTime()
    limiters = [
        RealmLimiter(
            SMALL,
            clock=time_.clock,
            sleep=time_.sleep,
            book=SharedSlots(database),
            realm_id=REALM,
            poll_interval=0.05,
        )
        for database in two_databases
    ]
    records = await asyncio.gather(
        *(run_load(limiter, time_, tasks=20, each=3) for limiter in limiters)
    )
    together = records[0] + records[1]
    assert len(together) == 120
    assert worst_window(together, SMALL.window_seconds) <= SMALL.requests_per_window
    assert most_in_flight(together) <= SMALL.max_in_flight
    batches = [entry for entry in together if entry[2]]
    assert worst_window(batches, SMALL.batch_window_seconds) <= SMALL.batch_per_window
    # Not vacuous: each limiter's own budget would let both together reach twice the budget in a
    # window (the load is six windows' worth), which the checks above refuse.


async def test_a_full_window_says_how_long_to_wait(tmp_path: Path) -> None:
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        book = SharedSlots(database)
        limits = Limits(requests_per_window=2, window_seconds=60.0)
        first = await book.take(REALM, limits, batch=False, now=100.0)
        second = await book.take(REALM, limits, batch=False, now=100.0)
        assert isinstance(first, Ticket) and isinstance(second, Ticket)
        # Both in flight: only a release can make room.
        assert await book.take(REALM, limits, batch=False, now=101.0) == UNTIL_RELEASE
        await book.give_back(first, limits, now=105.0)
        assert await book.take(REALM, limits, batch=False, now=106.0) == pytest.approx(59.0)
        assert isinstance(await book.take(REALM, limits, batch=False, now=165.0), Ticket)
        # Another realm has its own budget.
        assert isinstance(await book.take("42", limits, batch=False, now=106.0), Ticket)
    finally:
        await database.close()


async def test_a_lapsed_lease_counts_as_finished_then(tmp_path: Path) -> None:
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        book = SharedSlots(database, lease_seconds=10.0, alive=lambda pid: True)
        limits = Limits(requests_per_window=100, window_seconds=60.0, max_in_flight=1)
        assert isinstance(await book.take(REALM, limits, batch=False, now=0.0), Ticket)
        assert await book.take(REALM, limits, batch=False, now=5.0) == UNTIL_RELEASE
        assert isinstance(await book.take(REALM, limits, batch=False, now=10.5), Ticket)
        row = await database.fetchone(
            "SELECT counts_until FROM limiter_slots WHERE lease_until IS NULL"
        )
        assert row is not None and row[0] == pytest.approx(70.0)  # lease end + one window
    finally:
        await database.close()


async def test_clients_with_a_database_share_its_budget(tmp_path: Path) -> None:
    first = await open_database(tmp_path / "home" / "qb-mcp.sqlite3")
    second = await open_database(tmp_path / "other" / "qb-mcp.sqlite3")
    try:
        shared = limiter_for(REALM, database=first)
        assert limiter_for(REALM, database=first) is shared
        assert limiter_for(REALM, database=second) is not shared
        assert limiter_for(REALM) is not shared
        async with shared.slot():
            row = await first.fetchone("SELECT count(*) FROM limiter_slots")
            assert row is not None and row[0] == 1
    finally:
        await first.close()
        await second.close()


def worker_env(home: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env.update(QBO_HOME=str(home), QBO_TEST_ACCESS_TOKEN=token, QBO_LOG_LEVEL="WARNING")
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.qbo.shared_limit_worker", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


@pytest.mark.slow
def test_two_processes_on_one_home_are_never_throttled(tmp_path: Path) -> None:
    emulator = Emulator(
        EmulatorConfig(
            requests_per_window=LIMITS.requests_per_window,
            window_seconds=LIMITS.window_seconds,
            max_in_flight=LIMITS.max_in_flight,
            batch_per_window=LIMITS.batch_per_window,
        )
    )
    token = emulator.issue_tokens(DEMO_REALM_ID).access_token
    home = tmp_path / "home"
    asyncio.run(_create(home))
    duration = 6.0
    with serve(emulator.app) as base_url:
        until = time.time() + 1.5 + duration  # time for both processes to start
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        args = ["call", "--realm", DEMO_REALM_ID, "--until", str(until), "--base-url", base_url]
        workers = [start_worker(worker_env(home, token), log, *args) for log in logs]
        outputs = [worker.communicate(timeout=duration + 60)[0] for worker in workers]
        throttled = emulator.limiter.throttled_count
    text = "".join(log.read_text() for log in logs)
    tallies = []
    for worker, out in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, text[-3000:]
        tallies.append(json.loads(out.strip().splitlines()[-1]))
    assert throttled == 0, tallies
    assert all(tally["failures"] == {} for tally in tallies), tallies
    # Both got work done, and together they went past one window's budget (30 per 2 s; about
    # 90-120 fit in 6 s), so the check above is not vacuous; margins for a loaded machine.
    assert all(tally["ok"] > 5 for tally in tallies), tallies
    assert sum(tally["ok"] for tally in tallies) >= 45, tallies
    assert sum(tally["batches"] for tally in tallies) > 0, tallies
    print(f"two processes: {tallies}; throttled by the emulator: {throttled}")


async def _create(home: Path) -> None:
    database = await open_database(home / "qb-mcp.sqlite3")
    await database.close()


async def test_a_killed_process_frees_its_slots_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = await open_database(home / "qb-mcp.sqlite3")
    holder = start_worker(
        worker_env(home, "unused"), tmp_path / "holder.log", "hold", "--realm", REALM
    )
    try:
        assert holder.stdout is not None
        line = await anyio.to_thread.run_sync(holder.stdout.readline)
        assert line.strip() == "HELD", (tmp_path / "holder.log").read_text()[-2000:]
        limiter = RealmLimiter(LIMITS, book=SharedSlots(database), realm_id=REALM)
        with anyio.move_on_after(0.5) as blocked:
            async with limiter.slot():
                pass
        assert blocked.cancelled_caught, "the holder's slots must block us while it lives"
        holder.send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(holder.wait)
        started = time.monotonic()
        with anyio.fail_after(10):  # far below the 150 s lease
            async with limiter.slot():
                pass
        assert time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        await database.close()
