"""QuickBooks' per-realm request limits: a sliding window of requests, batch calls, and concurrency.

Real QBO allows 500 requests per minute per realm, 10 concurrent requests per realm, and 40 batch
calls per minute (which also count toward the 500). Over any of them it answers HTTP 429 with the
XML `ThrottleExceeded` body (`faults.throttled()`).

Choice (QBO's documents are silent): a throttled request does not use up budget. Only requests
that were let through are counted, so a client that backs off gets going again once the window
slides, instead of being locked out for as long as it keeps retrying.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qb_mcp.emulator.faults import throttled


@dataclass(slots=True)
class _RealmUsage:
    requests: deque[float] = field(default_factory=deque)  # start times of admitted requests
    batches: deque[float] = field(default_factory=deque)  # start times of admitted batch calls
    in_flight: int = 0


class Limiter:
    """Admits or throttles API requests per realm, by the injected clock."""

    def __init__(
        self,
        *,
        requests_per_window: int = 500,
        window_seconds: float = 60.0,
        max_in_flight: int = 10,
        batch_per_window: int = 40,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.requests_per_window = requests_per_window
        self.window_seconds = window_seconds
        self.max_in_flight = max_in_flight
        self.batch_per_window = batch_per_window
        self._clock = clock
        self._realms: dict[str, _RealmUsage] = {}
        self.throttled_count = 0  # requests answered 429 by a limit (for the admin summary)

    def acquire(self, realm_id: str, *, batch: bool = False) -> None:
        """Take a slot for one request, or raise the 429 `QBOFault` without counting it."""
        usage = self._realms.setdefault(realm_id, _RealmUsage())
        now = self._clock()
        horizon = now - self.window_seconds
        for stamps in (usage.requests, usage.batches):
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
        if (
            usage.in_flight >= self.max_in_flight
            or len(usage.requests) >= self.requests_per_window
            or (batch and len(usage.batches) >= self.batch_per_window)
        ):
            self.throttled_count += 1
            raise throttled()
        usage.requests.append(now)
        if batch:
            usage.batches.append(now)
        usage.in_flight += 1

    def release(self, realm_id: str) -> None:
        """Give back the concurrency slot taken by `acquire` (the window keeps its count)."""
        usage = self._realms.get(realm_id)
        if usage is not None and usage.in_flight > 0:
            usage.in_flight -= 1

    @contextmanager
    def slot(self, realm_id: str, *, batch: bool = False) -> Iterator[None]:
        """`acquire` on entry and `release` on exit, however the request ends."""
        self.acquire(realm_id, batch=batch)
        try:
            yield
        finally:
            self.release(realm_id)

    def in_flight(self, realm_id: str) -> int:
        usage = self._realms.get(realm_id)
        return usage.in_flight if usage else 0

    def reset(self) -> None:
        """Forget the windows (requests still running keep their concurrency slots)."""
        for usage in self._realms.values():
            usage.requests.clear()
            usage.batches.clear()
        self.throttled_count = 0
