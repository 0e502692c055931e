"""Fault-injection settings: counts, seeded rates, and JSON validation that changes nothing."""

from __future__ import annotations

import pytest

from qb_mcp.emulator.chaos import Chaos


def test_counts_fire_for_the_next_n_requests_only() -> None:
    chaos = Chaos()
    chaos.throttle(count=2)
    assert [chaos.take_throttle() for _ in range(4)] == [True, True, False, False]
    assert chaos.injected == 2


def test_everything_is_off_by_default() -> None:
    chaos = Chaos(seed=1)
    assert not any(chaos.take_drop() or chaos.take_throttle() for _ in range(100))
    assert chaos.take_failure() is None
    assert chaos.latency == 0


def test_rates_repeat_exactly_with_the_same_seed() -> None:
    def run() -> list[bool]:
        chaos = Chaos(seed=7)
        chaos.drop_responses(rate=0.5)
        return [chaos.take_drop() for _ in range(50)]

    first = run()
    assert first == run()
    assert 5 < sum(first) < 45


def test_a_different_seed_gives_a_different_sequence() -> None:
    sequences = []
    for seed in (1, 2):
        chaos = Chaos(seed=seed)
        chaos.throttle(rate=0.5)
        sequences.append([chaos.take_throttle() for _ in range(40)])
    assert sequences[0] != sequences[1]


def test_failures_report_their_status() -> None:
    chaos = Chaos()
    chaos.fail_requests(503, count=1)
    chaos.fail_requests(500, count=1)
    assert [chaos.take_failure() for _ in range(3)] == [503, 500, None]


def test_configure_applies_the_json_settings() -> None:
    chaos = Chaos()
    chaos.configure(
        {
            "drop": {"count": 1},
            "fail": {"status": 503, "rate": 1},
            "throttle": {"count": 2},
            "latency": 0.5,
            "seed": 3,
        }
    )
    state = chaos.state()
    assert state["drop"] == {"rate": 0.0, "count": 1}
    assert state["fail"]["503"] == {"rate": 1.0, "count": 0}
    assert state["throttle"]["count"] == 2
    assert state["latency"] == 0.5
    assert state["seed"] == 3


@pytest.mark.parametrize(
    "settings",
    [
        {"drop": {"count": -1}},
        {"drop": {"rate": 1.5}},
        {"drop": {"rate": "0.5"}},
        {"drop": {"count": True}},
        {"drop": 3},
        {"drop": {"cuont": 1}},
        {"fail": {"status": 404, "count": 1}},
        {"latency": -1},
        {"latency": 10_000},
        {"seed": "x"},
        {"clear": "yes"},
        {"explode": True},
        # a valid part with an invalid one: neither is applied
        {"throttle": {"count": 5}, "latency": "slow"},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(settings: dict[str, object]) -> None:
    chaos = Chaos()
    chaos.drop_responses(count=2)
    before = chaos.state()
    with pytest.raises(ValueError):
        chaos.configure(settings)
    assert chaos.state() == before


def test_clear_turns_everything_off() -> None:
    chaos = Chaos()
    chaos.configure({"drop": {"count": 1}, "throttle": {"rate": 1}, "latency": 2})
    chaos.configure({"clear": True})
    assert not chaos.take_drop()
    assert not chaos.take_throttle()
    assert chaos.latency == 0
