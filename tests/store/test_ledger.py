from __future__ import annotations

from pathlib import Path

import pytest

from qb_mcp.store import Database, open_database
from qb_mcp.store.ledger import Ledger, LedgerEntry, LedgerStore, MemoryLedger

pytestmark = pytest.mark.anyio

REALM = "9341453050298"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def entry(
    request_id: str = "req-1", *, generation: int = 0, base_key: str = "req-1"
) -> LedgerEntry:
    return LedgerEntry(
        realm_id=REALM,
        request_id=request_id,
        base_key=base_key,
        generation=generation,
        explicit=False,
        operation="create",
        entity="Customer",
        request_hash="h" * 64,
        status="pending",
        created_at=1_000.0,
        updated_at=1_000.0,
    )


@pytest.fixture
def database(any_database: Database) -> Database:
    """Each test on both backends (tests/conftest.py)."""
    return any_database


@pytest.fixture(params=["store", "memory"])
def ledger(request: pytest.FixtureRequest, database: Database) -> LedgerStore:
    clock = Clock()
    if request.param == "store":
        return Ledger(database, clock=clock)
    return MemoryLedger(clock=clock)


async def test_begin_records_a_pending_entry(ledger: LedgerStore) -> None:
    assert await ledger.begin(entry())
    found = await ledger.get(REALM, "req-1")
    assert found is not None and found.status == "pending"
    assert [e.request_id for e in await ledger.pending(REALM)] == ["req-1"]


async def test_a_second_begin_with_the_same_id_changes_nothing(ledger: LedgerStore) -> None:
    assert await ledger.begin(entry())
    await ledger.complete(REALM, "req-1", '{"Customer": {"Id": "1"}}', "tid-1")
    assert not await ledger.begin(entry())
    found = await ledger.get(REALM, "req-1")
    assert found is not None and found.status == "done"


async def test_complete_keeps_the_answer_text_exactly(ledger: LedgerStore) -> None:
    await ledger.begin(entry())
    answer = '{"Customer":{"Id":"7","Balance":100.50},"time":"2026-01-01T00:00:00.000-07:00"}'
    await ledger.complete(REALM, "req-1", answer, "tid-9")
    found = await ledger.get(REALM, "req-1")
    assert found is not None
    assert (found.status, found.response, found.intuit_tid) == ("done", answer, "tid-9")
    assert await ledger.pending(REALM) == []


async def test_fail_keeps_the_fault_code(ledger: LedgerStore) -> None:
    await ledger.begin(entry())
    await ledger.fail(REALM, "req-1", "6240", "tid-2")
    found = await ledger.get(REALM, "req-1")
    assert found is not None
    assert (found.status, found.fault_code, found.response) == ("failed", "6240", None)


async def test_latest_is_the_newest_generation(ledger: LedgerStore) -> None:
    await ledger.begin(entry("req-1", generation=0))
    await ledger.begin(entry("req-1-g2", generation=2))
    await ledger.begin(entry("req-1-g1", generation=1))
    await ledger.begin(entry("other", base_key="other"))
    latest = await ledger.latest(REALM, "req-1")
    assert latest is not None and latest.request_id == "req-1-g2"
    assert await ledger.latest("another-realm", "req-1") is None


async def test_pending_entries_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = await open_database(path)
    await Ledger(first).begin(entry())
    await first.close()
    second = await open_database(path)
    try:
        pending = await Ledger(second).pending()
        assert [(e.realm_id, e.request_id, e.status) for e in pending] == [
            (REALM, "req-1", "pending")
        ]
    finally:
        await second.close()


async def test_rows_begun_inside_a_section_are_tagged_and_found_by_intent(
    database: Database,
) -> None:
    from qb_mcp.store.ledger import INTENT_TAG

    ledger = Ledger(database)
    token = INTENT_TAG.set(("record_payment", "record_payment:k1"))
    try:
        await ledger.begin(entry("req-1"))
    finally:
        INTENT_TAG.reset(token)
    await ledger.begin(entry("req-2", base_key="req-2"))
    assert [e.request_id for e in await ledger.pending_for_intent(REALM, "record_payment:k1")] == [
        "req-1"
    ]
    assert await ledger.pending_for_intent(REALM, "record_payment:other") == []


async def test_settling_found_keeps_the_answer_and_unwritten_marks_failed(
    database: Database,
) -> None:
    clock = Clock()
    ledger = Ledger(database, clock=clock)
    for name in ("req-1", "req-2", "req-3"):
        await ledger.begin(entry(name, base_key=name))
    await ledger.complete(REALM, "req-3", '{"Customer": {}}', None)
    clock.now = 2_000.0
    answer = '{"Customer": {"Id": "7"}}'
    # A row already settled by its own answer is left alone.
    assert await ledger.settle_found(REALM, ["req-1", "req-3"], answer=answer) == 1
    assert await ledger.settle_unwritten(REALM, ["req-2"]) == 1
    found, unwritten, answered = [await ledger.get(REALM, n) for n in ("req-1", "req-2", "req-3")]
    assert found is not None and unwritten is not None and answered is not None
    assert (found.status, found.settled_by, found.response) == ("done", "found", answer)
    assert found.updated_at == 2_000.0
    assert (unwritten.status, unwritten.settled_by) == ("failed", "unwritten")
    assert (answered.settled_by, answered.response) == (None, '{"Customer": {}}')
    assert await ledger.pending() == []


async def test_the_pending_summary_counts_by_tool_and_names_the_oldest(
    database: Database,
) -> None:
    from dataclasses import replace

    from qb_mcp.store.ledger import INTENT_TAG

    ledger = Ledger(database)
    assert (await ledger.pending_summary()).count == 0
    token = INTENT_TAG.set(("convert_estimate", "convert_estimate:k"))
    try:
        await ledger.begin(replace(entry("req-1"), created_at=500.0))
    finally:
        INTENT_TAG.reset(token)
    await ledger.begin(replace(entry("req-2", base_key="req-2"), created_at=900.0))
    summary = await ledger.pending_summary()
    assert summary.count == 2 and summary.oldest == 500.0
    assert summary.by_tool == {"convert_estimate": 1, "create Customer": 1}
