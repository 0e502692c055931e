"""The per-realm limiter: sliding window, batch budget, concurrency, by an injected clock."""

from __future__ import annotations

import pytest

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.limits import Limiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **overrides: float) -> Limiter:
    settings: dict[str, float] = {
        "requests_per_window": 3,
        "window_seconds": 60.0,
        "max_in_flight": 2,
        "batch_per_window": 1,
    }
    settings.update(overrides)
    return Limiter(clock=clock, **settings)  # type: ignore[arg-type]


def throttles(limit: Limiter, realm: str = "1", *, batch: bool = False) -> bool:
    try:
        limit.acquire(realm, batch=batch)
    except QBOFault as fault:
        assert fault.status == 429
        assert fault.errors[0].code == "3001"
        assert fault.shape == "xml"
        return True
    limit.release(realm)
    return False


def test_requests_over_the_window_budget_are_throttled() -> None:
    limit = limiter(Clock())
    assert [throttles(limit) for _ in range(4)] == [False, False, False, True]


def test_the_window_slides_with_the_clock() -> None:
    clock = Clock()
    limit = limiter(clock)
    for _ in range(3):
        assert not throttles(limit)
    clock.now += 59.9
    assert throttles(limit)
    clock.now += 0.1
    assert not throttles(limit)


def test_throttled_requests_do_not_use_budget() -> None:
    clock = Clock()
    limit = limiter(clock)
    for _ in range(3):
        throttles(limit)
    clock.now += 30
    for _ in range(10):
        assert throttles(limit)
    clock.now += 30  # the first three leave the window; the refused ten never entered it
    assert [throttles(limit) for _ in range(4)] == [False, False, False, True]


def test_realms_have_separate_budgets() -> None:
    limit = limiter(Clock())
    for _ in range(3):
        throttles(limit, "1")
    assert throttles(limit, "1")
    assert not throttles(limit, "2")


def test_concurrent_requests_over_the_limit_are_throttled() -> None:
    limit = limiter(Clock(), requests_per_window=100)
    limit.acquire("1")
    limit.acquire("1")
    assert limit.in_flight("1") == 2
    assert throttles(limit)
    limit.release("1")
    assert not throttles(limit)


def test_slot_releases_even_when_the_request_fails() -> None:
    limit = limiter(Clock(), requests_per_window=100)
    with pytest.raises(RuntimeError), limit.slot("1"):
        raise RuntimeError("boom")
    assert limit.in_flight("1") == 0


def test_batch_calls_have_their_own_budget_and_count_toward_the_total() -> None:
    limit = limiter(Clock())
    assert not throttles(limit, batch=True)
    assert throttles(limit, batch=True)
    assert [throttles(limit) for _ in range(3)] == [False, False, True]  # the batch used 1 of 3


def test_reset_forgets_the_windows() -> None:
    limit = limiter(Clock())
    for _ in range(4):
        throttles(limit)
    limit.reset()
    assert limit.throttled_count == 0
    assert not throttles(limit)
