"""Fault injection: the failures a QuickBooks client must survive, on demand and reproducibly.

Each kind of failure is a rule with a `count` (the next N requests it applies to) and a `rate`
(a probability for every later request, drawn from one seeded generator so a run can be
replayed). Counts are used up first. What each rule does:

- drop:     the request is processed (a write commits), then the connection is cut before the
            body is sent. Applies to POST requests only (writes, batch, POST query): dropping a
            read proves nothing a timeout does not, and it would eat counts meant for writes.
- fail:     HTTP 500 (QBO's SystemFault 10000) or 503 (the HTML page Intuit's load balancer
            sends during an outage) instead of processing; nothing changes.
- throttle: HTTP 429 with the XML ThrottleExceeded body; nothing is processed or counted.
- latency:  every API request waits this many seconds (inside its concurrency slot) first.

The same settings are reachable from Python (`emulator.chaos`) and as JSON over the admin API
(`configure` / `state`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAIL_STATUSES = (500, 503)
MAX_LATENCY = 600.0  # longer than any client timeout worth testing


@dataclass(slots=True)
class Rule:
    """Fire for the next `count` requests, then with probability `rate`."""

    rate: float = 0.0
    count: int = 0

    def take(self, rng: random.Random) -> bool:
        if self.count > 0:
            self.count -= 1
            return True
        # Draw only when a rate is set, so rules that are off do not shift the seeded sequence.
        return self.rate > 0 and rng.random() < self.rate

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "count": self.count}


class Chaos:
    """The emulator's fault-injection switches; all off by default."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._seed = seed
        self._rng = random.Random(seed)  # noqa: S311 (reproducible faults, not secrets)
        self.drop = Rule()
        self.fail = {status: Rule() for status in FAIL_STATUSES}
        self.throttle_rule = Rule()
        self.latency = 0.0
        self.injected = 0  # how many requests a rule has fired on (for the admin summary)

    # ---- settings, from Python -------------------------------------------------------------

    def drop_responses(self, *, count: int | None = None, rate: float | None = None) -> None:
        """Cut the connection after the next `count` POSTs (or a `rate` of them) committed."""
        self._set(self.drop, _check_count(count), _check_rate(rate))

    def fail_requests(
        self, status: int = 500, *, count: int | None = None, rate: float | None = None
    ) -> None:
        """Answer 500 or 503 instead of processing the next `count` requests (or a `rate`)."""
        rule = self.fail.get(_check_status(status))
        assert rule is not None
        self._set(rule, _check_count(count), _check_rate(rate))

    def throttle(self, *, count: int | None = None, rate: float | None = None) -> None:
        """Answer 429 (XML ThrottleExceeded) to the next `count` requests (or a `rate`)."""
        self._set(self.throttle_rule, _check_count(count), _check_rate(rate))

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` before it is processed."""
        self.latency = _check_latency(seconds)

    def seed(self, seed: int | None) -> None:
        """Restart the random generator, so rate-based faults repeat exactly."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer or null")
        self._seed = seed
        self._rng = random.Random(seed)  # noqa: S311 (reproducible faults, not secrets)

    def clear(self) -> None:
        """Turn every fault off (the seed is kept and the generator restarted)."""
        self.drop = Rule()
        self.fail = {status: Rule() for status in FAIL_STATUSES}
        self.throttle_rule = Rule()
        self.latency = 0.0
        self.injected = 0
        self._rng = random.Random(self._seed)  # noqa: S311

    # ---- settings, as JSON -----------------------------------------------------------------

    def configure(self, data: Mapping[str, Any]) -> None:
        """Apply admin-API JSON; raise ValueError (changing nothing) if any part is invalid.

        Shape: {"drop": {"count": 1} | {"rate": 0.5}, "fail": {"status": 503, "count": 2},
        "throttle": {"count": 3}, "latency": 0.25, "seed": 42, "clear": true}; every key optional.
        """
        known = {"drop", "fail", "throttle", "latency", "seed", "clear"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown chaos setting(s): {', '.join(unknown)}")
        # Validate everything first, then apply: bad input changes nothing.
        steps: list[tuple[str, tuple[Any, ...]]] = []
        if "clear" in data:
            if not isinstance(data["clear"], bool):
                raise ValueError("clear must be true or false")
            if data["clear"]:
                steps.append(("clear", ()))
        if "seed" in data:
            seed = data["seed"]
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ValueError("seed must be an integer or null")
            steps.append(("seed", (seed,)))
        for name in ("drop", "throttle"):
            if name in data:
                count, rate = _rule_fields(name, data[name], allowed={"count", "rate"})
                steps.append((name, (count, rate)))
        if "fail" in data:
            spec = data["fail"]
            count, rate = _rule_fields("fail", spec, allowed={"count", "rate", "status"})
            status = _check_status(spec.get("status", 500))
            steps.append(("fail", (status, count, rate)))
        if "latency" in data:
            steps.append(("latency", (_check_latency(data["latency"]),)))
        for name, args in steps:
            if name == "clear":
                self.clear()
            elif name == "seed":
                self.seed(args[0])
            elif name == "drop":
                self._set(self.drop, *args)
            elif name == "throttle":
                self._set(self.throttle_rule, *args)
            elif name == "fail":
                self._set(self.fail[args[0]], args[1], args[2])
            else:
                self.latency = args[0]

    def state(self) -> dict[str, Any]:
        """The current settings, in the same JSON shape `configure` takes."""
        return {
            "drop": self.drop.as_dict(),
            "fail": {str(status): rule.as_dict() for status, rule in self.fail.items()},
            "throttle": self.throttle_rule.as_dict(),
            "latency": self.latency,
            "seed": self._seed,
            "injected": self.injected,
        }

    # ---- decisions, asked by the app for each API request ----------------------------------

    def take_throttle(self) -> bool:
        return self._fired(self.throttle_rule.take(self._rng))

    def take_failure(self) -> int | None:
        """The status to fail this request with (503 is checked first), or None."""
        for status in (503, 500):
            if self.fail[status].take(self._rng):
                self.injected += 1
                return status
        return None

    def take_drop(self) -> bool:
        return self._fired(self.drop.take(self._rng))

    def _fired(self, fired: bool) -> bool:
        if fired:
            self.injected += 1
        return fired

    @staticmethod
    def _set(rule: Rule, count: int | None, rate: float | None) -> None:
        if count is not None:
            rule.count = count
        if rate is not None:
            rule.rate = rate


def _rule_fields(name: str, spec: Any, *, allowed: set[str]) -> tuple[int | None, float | None]:
    if not isinstance(spec, Mapping):
        raise ValueError(f'{name} must be an object like {{"count": 1}} or {{"rate": 0.5}}')
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{name}: unknown field(s): {', '.join(unknown)}")
    return _check_count(spec.get("count"), name), _check_rate(spec.get("rate"), name)


def _check_count(count: Any, name: str = "count") -> int | None:
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{name}: count must be a whole number >= 0")
    return count


def _check_rate(rate: Any, name: str = "rate") -> float | None:
    if rate is None:
        return None
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not math.isfinite(rate)
        or not 0 <= rate <= 1
    ):
        raise ValueError(f"{name}: rate must be a number from 0 to 1")
    return float(rate)


def _check_status(status: Any) -> int:
    if isinstance(status, bool) or status not in FAIL_STATUSES:
        raise ValueError("fail: status must be 500 or 503")
    return int(status)


def _check_latency(seconds: Any) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_LATENCY
    ):
        raise ValueError(f"latency must be a number of seconds from 0 to {MAX_LATENCY:g}")
    return float(seconds)
