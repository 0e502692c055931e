from __future__ import annotations

import asyncio
import random

import pytest

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.limiter import Limits, RealmLimiter, limiter_for
from tests.qbo.virtual_time import VirtualTime

pytestmark = pytest.mark.anyio

LIMITS = Limits(
    requests_per_window=20,
    window_seconds=10.0,
    max_in_flight=5,
    batch_per_window=3,
    batch_window_seconds=10.0,
)


async def run_load(
    limiter: RealmLimiter, time: VirtualTime, *, tasks: int = 50, each: int = 3
) -> list[tuple[float, float, bool]]:
    """`tasks` concurrent workers, `each` requests apiece; returns (start, finish, batch)."""
    rng = random.Random(7)
    plans = [
        [(rng.uniform(0.05, 3.0), rng.random() < 0.2) for _ in range(each)] for _ in range(tasks)
    ]
    record: list[tuple[float, float, bool]] = []

    async def worker(plan: list[tuple[float, bool]]) -> None:
        for duration, batch in plan:
            async with limiter.slot(batch=batch):
                start = time.clock()
                await time.sleep(duration)
                record.append((start, time.clock(), batch))

    await asyncio.gather(*(worker(plan) for plan in plans))
    return record


def worst_window(record: list[tuple[float, float, bool]], window: float) -> int:
    """The most requests QuickBooks could see in one window, whenever each one arrived between
    its start and its finish: at each start T, those started by T and not finished before T-W.
    (Written as finish + W > T: the same float arithmetic as the limiter.)"""
    return max(
        sum(1 for start, finish, _ in record if start <= t and finish + window > t)
        for t, _, _ in record
    )


def most_in_flight(record: list[tuple[float, float, bool]]) -> int:
    events = sorted([(s, 1) for s, _, _ in record] + [(f, -1) for _, f, _ in record])
    running = peak = 0
    for _, change in events:  # a finish (-1) sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


async def test_fifty_tasks_never_exceed_the_request_window() -> None:
    time = VirtualTime()
    limiter = RealmLimiter(LIMITS, clock=time.clock, sleep=time.sleep)
    record = await run_load(limiter, time)
    assert len(record) == 150
    # The budget is used to the full (so the check below is not vacuous) and never exceeded.
    assert worst_window(record, LIMITS.window_seconds) == LIMITS.requests_per_window


async def test_fifty_tasks_never_exceed_ten_in_flight() -> None:
    time = VirtualTime()
    limits = Limits(requests_per_window=1000, max_in_flight=10, batch_per_window=1000)
    limiter = RealmLimiter(limits, clock=time.clock, sleep=time.sleep)
    record = await run_load(limiter, time)
    assert most_in_flight(record) == 10


async def test_fifty_tasks_never_exceed_the_batch_window() -> None:
    time = VirtualTime()
    limiter = RealmLimiter(LIMITS, clock=time.clock, sleep=time.sleep)
    record = await run_load(limiter, time)
    batches = [entry for entry in record if entry[2]]
    assert len(batches) > LIMITS.batch_per_window * 3
    assert worst_window(batches, LIMITS.batch_window_seconds) == LIMITS.batch_per_window
    assert most_in_flight(record) <= LIMITS.max_in_flight


async def test_waiting_for_the_window_sleeps_until_the_oldest_request_expires() -> None:
    time = VirtualTime()
    limiter = RealmLimiter(
        Limits(requests_per_window=2, window_seconds=60.0), clock=time.clock, sleep=time.sleep
    )
    for _ in range(2):
        async with limiter.slot():
            await time.sleep(1.0)
    started = time.clock()
    async with limiter.slot():
        waited = time.clock() - started
    # The first request finished at +1 s and counts for 60 s from then; the second started then.
    assert waited == pytest.approx(59.0)


async def test_a_failed_request_still_counts_and_frees_its_slot() -> None:
    time = VirtualTime()
    limiter = RealmLimiter(
        Limits(requests_per_window=1, max_in_flight=1), clock=time.clock, sleep=time.sleep
    )
    with pytest.raises(RuntimeError):
        async with limiter.slot():
            raise RuntimeError("connection reset")
    assert limiter.in_flight == 0
    started = time.clock()
    async with limiter.slot():
        assert time.clock() - started == pytest.approx(60.0)


def test_one_limiter_per_realm_in_the_process() -> None:
    first = limiter_for("limiter-test-realm-a")
    assert limiter_for("limiter-test-realm-a") is first
    assert limiter_for("limiter-test-realm-b") is not first


def test_a_second_budget_for_a_realm_is_refused() -> None:
    limiter_for("limiter-test-realm-c", Limits(requests_per_window=100))
    with pytest.raises(InvalidArgumentError, match="one budget"):
        limiter_for("limiter-test-realm-c", Limits(requests_per_window=200))


@pytest.mark.parametrize(
    "bad",
    [
        {"requests_per_window": 0},
        {"max_in_flight": 0},
        {"batch_per_window": -1},
        {"window_seconds": 0},
    ],
)
def test_impossible_limits_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        Limits(**bad)  # type: ignore[arg-type]
