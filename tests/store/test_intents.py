"""Write sections (qb_mcp.store.intents): one holder per intent across tasks, database
connections and processes; a dead holder frees its section at once; waiting is bounded."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from qb_mcp.errors import ConfigError
from qb_mcp.store import Database, open_database
from qb_mcp.store.intents import (
    AdvisorySections,
    FileSections,
    Intent,
    LocalSections,
    SectionBusyError,
    lock_folder,
    sections_for,
)
from qb_mcp.store.ledger import INTENT_TAG, Ledger, LedgerEntry
from qb_mcp.store.postgres import PostgresDatabase, open_postgres

pytestmark = pytest.mark.anyio

REALM = "9341453050298"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(tmp_path / "home" / "db.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


def intent(n: int = 0, *, group: str | None = None) -> Intent:
    return Intent.of(REALM, "record_payment", {"amount": f"{n}.00"}, group=group)


async def overlap(holders: list[object], the_intent: Intent, tasks: int = 20) -> int:
    """The most tasks that were inside the section at once (1 = exclusive)."""
    inside = 0
    most = 0

    async def one(index: int) -> None:
        nonlocal inside, most
        sections = holders[index % len(holders)]
        async with sections.hold(the_intent):  # type: ignore[attr-defined]
            inside += 1
            most = max(most, inside)
            await anyio.sleep(0.001)
            inside -= 1

    async with anyio.create_task_group() as group:
        for index in range(tasks):
            group.start_soon(one, index)
    return most


def test_an_intent_key_depends_on_every_argument_but_not_their_order() -> None:
    a = Intent.of(REALM, "t", {"amount": "1.00", "date": "2026-01-01"})
    b = Intent.of(REALM, "t", {"date": "2026-01-01", "amount": "1.00"})
    c = Intent.of(REALM, "t", {"amount": "1.01", "date": "2026-01-01"})
    other_realm = Intent.of("1", "t", {"amount": "1.00", "date": "2026-01-01"})
    assert a == b
    assert a.key != c.key and a.key != other_realm.key
    grouped = [Intent.of(REALM, "u", {"n": n}, group="customers") for n in range(2)]
    assert grouped[0].key != grouped[1].key and grouped[0].stripe == grouped[1].stripe


async def test_tasks_of_one_process_take_turns(database: Database) -> None:
    assert await overlap([LocalSections()], intent()) == 1
    assert await overlap([FileSections(database)], intent()) == 1


async def test_two_connections_to_one_database_take_turns(
    database: Database, tmp_path: Path
) -> None:
    other = await open_database(database.path)
    try:
        # Two FileSections share no asyncio lock: only the flock keeps them apart.
        assert await overlap([FileSections(database), FileSections(other)], intent()) == 1
    finally:
        await other.close()


async def hold_until(
    sections: object, the_intent: Intent, entered: anyio.Event, leave: anyio.Event
) -> None:
    async with sections.hold(the_intent):  # type: ignore[attr-defined]
        entered.set()
        await leave.wait()


async def test_different_intents_run_side_by_side(database: Database) -> None:
    sections = FileSections(database)
    a, b = intent(1), intent(2)
    assert a.stripe != b.stripe
    entered, leave = anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(hold_until, sections, a, entered, leave)
        await entered.wait()
        with anyio.fail_after(5):
            async with sections.hold(b):
                pass
        leave.set()


HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from qb_mcp.store import open_database
    from qb_mcp.store.intents import FileSections, Intent

    async def main() -> None:
        database = await open_database(Path(sys.argv[1]))
        intent = Intent.of("9341453050298", "record_payment", {"amount": "0.00"})
        async with FileSections(database).hold(intent):
            print("HELD", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def spawn_holder(path: Path) -> subprocess.Popen[str]:
    """Another process inside the section of `intent()`, once this returns."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "HELD"
    return holder


async def test_a_killed_holder_frees_the_section_at_once(database: Database) -> None:
    holder = spawn_holder(database.path)
    try:
        impatient = FileSections(database, wait_limit=0.2)
        with pytest.raises(SectionBusyError, match="nothing was written by this call"):
            async with impatient.hold(intent()):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with anyio.fail_after(10):  # no lease to run out: the kernel freed the flock
            async with FileSections(database).hold(intent()):
                pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


async def test_a_waiter_in_the_same_process_gives_up_with_a_clear_error() -> None:
    sections = LocalSections(wait_limit=0.05)
    entered, leave = anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(hold_until, sections, intent(), entered, leave)
        await entered.wait()
        with pytest.raises(SectionBusyError, match="record_payment"):
            async with sections.hold(intent()):
                pass
        leave.set()


async def test_the_lock_folder_is_owner_only_and_beside_the_database(database: Database) -> None:
    async with FileSections(database).hold(intent()):
        pass
    folder = lock_folder(database.path)
    assert folder.parent == database.path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600


async def test_a_lock_folder_that_is_a_symlink_is_refused(
    database: Database, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lock_folder(database.path).symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="not a folder of ours"):
        async with FileSections(database).hold(intent()):
            pass
    assert list(elsewhere.iterdir()) == []


async def test_ledger_rows_written_inside_a_section_carry_its_intent(database: Database) -> None:
    ledger = Ledger(database)
    the_intent = intent()

    def row(request_id: str) -> LedgerEntry:
        return LedgerEntry(
            realm_id=REALM,
            request_id=request_id,
            base_key=request_id,
            generation=0,
            explicit=False,
            operation="create",
            entity="Payment",
            request_hash="h" * 64,
            status="pending",
            created_at=1.0,
            updated_at=1.0,
        )

    async with sections_for(database).hold(the_intent):
        assert INTENT_TAG.get() == ("record_payment", the_intent.key)
        await ledger.begin(row("inside"))
    await ledger.begin(row("outside"))
    inside = await ledger.get(REALM, "inside")
    outside = await ledger.get(REALM, "outside")
    assert inside is not None and outside is not None
    assert (inside.tool, inside.intent_key) == ("record_payment", the_intent.key)
    assert (outside.tool, outside.intent_key) == (None, None)
    assert INTENT_TAG.get() is None


async def test_sections_for_gives_one_object_per_database(database: Database) -> None:
    assert sections_for(database) is sections_for(database)
    assert sections_for(None) is sections_for(None)
    assert isinstance(sections_for(None), LocalSections)


async def test_a_section_inside_a_section_is_refused(database: Database) -> None:
    sections = FileSections(database)
    async with sections.hold(intent(1)):
        with pytest.raises(RuntimeError, match="already inside"):
            async with sections.hold(intent(2)):
                pass
    async with sections.hold(intent(2)):  # and the first one was left cleanly
        pass


# ---- PostgreSQL: the same sections across replicas (AdvisorySections) --------------------------


@pytest.fixture
async def pg_pair(postgres_url: str) -> AsyncIterator[tuple[PostgresDatabase, PostgresDatabase]]:
    """Two replicas' stores: two pools on one PostgreSQL database."""
    first = await open_postgres(postgres_url, pool_size=2)
    second = await open_postgres(postgres_url, pool_size=2)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_replicas_on_one_postgresql_take_turns(
    pg_pair: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    first, second = pg_pair
    assert isinstance(sections_for(first), AdvisorySections)
    # Two AdvisorySections share no asyncio lock: only the advisory lock keeps them apart.
    assert await overlap([AdvisorySections(first), AdvisorySections(second)], intent()) == 1


async def test_different_intents_run_side_by_side_on_postgresql(
    pg_pair: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    first, second = pg_pair
    entered, leave = anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(hold_until, AdvisorySections(first), intent(1), entered, leave)
        await entered.wait()
        impatient = AdvisorySections(second, wait_limit=0.2)
        with pytest.raises(SectionBusyError, match="nothing was written by this call"):
            async with impatient.hold(intent(1)):
                pass
        with anyio.fail_after(5):
            async with AdvisorySections(second).hold(intent(2)):
                pass
        leave.set()
    with anyio.fail_after(5):  # released on leaving, so the other replica gets it now
        async with AdvisorySections(second).hold(intent(1)):
            pass


PG_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from qb_mcp.store.postgres import open_postgres
    from qb_mcp.store.intents import AdvisorySections, Intent

    async def main() -> None:
        database = await open_postgres(sys.argv[1], pool_size=1)
        intent = Intent.of("9341453050298", "record_payment", {"amount": "0.00"})
        async with AdvisorySections(database).hold(intent):
            print("HELD", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def spawn_pg_holder(url: str) -> subprocess.Popen[str]:
    """Another replica inside the section of `intent()`, once this returns."""
    holder = subprocess.Popen(
        [sys.executable, "-c", PG_HOLDER, url], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "HELD"
    return holder


async def test_a_killed_replica_frees_its_section_at_once(postgres_url: str) -> None:
    holder = spawn_pg_holder(postgres_url)
    database = await open_postgres(postgres_url, pool_size=2)
    try:
        with pytest.raises(SectionBusyError):
            async with AdvisorySections(database, wait_limit=0.2).hold(intent()):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with anyio.fail_after(10):  # no lease: the server dropped the dead connection's lock
            async with AdvisorySections(database).hold(intent()):
                pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        await database.close()


async def test_ledger_rows_inside_a_postgresql_section_carry_its_intent(
    pg_pair: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    database = pg_pair[0]
    the_intent = intent()
    async with sections_for(database).hold(the_intent):
        await Ledger(database).begin(
            LedgerEntry(
                realm_id=REALM,
                request_id="inside",
                base_key="inside",
                generation=0,
                explicit=False,
                operation="create",
                entity="Payment",
                request_hash="h" * 64,
                status="pending",
                created_at=1.0,
                updated_at=1.0,
            )
        )
        with pytest.raises(RuntimeError, match="already inside"):
            async with sections_for(database).hold(intent(2)):
                pass
    found = await Ledger(database).get(REALM, "inside")
    assert found is not None and found.intent_key == the_intent.key
    # Pending rows of the intent are what the next holder settles.
    async with sections_for(database).hold(the_intent) as section:
        assert await section.written("Payment") == 1


async def test_a_cancelled_holder_releases_its_section_on_postgresql(
    pg_pair: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    """A client that hangs up mid-write cancels the call: the lock must go with it, not stay
    on a pooled connection where nobody would ever release it."""
    first, second = pg_pair
    entered = anyio.Event()

    async def holder() -> None:
        async with AdvisorySections(first).hold(intent()):
            entered.set()
            await anyio.sleep(60)

    async with anyio.create_task_group() as group:
        group.start_soon(holder)
        await entered.wait()
        group.cancel_scope.cancel()
    with anyio.fail_after(5):
        async with AdvisorySections(second).hold(intent()):
            pass
    with anyio.fail_after(5):  # and the same replica's pooled connection holds nothing either
        async with AdvisorySections(first).hold(intent()):
            pass
