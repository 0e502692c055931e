"""When to try a request again, and how long to wait first: the one place that decides.

Retried: no answer at all (connection refused or reset, timeouts: `TransportError`), throttling
(HTTP 429 or fault 3001 whatever the status: `ThrottledError`), HTTP 500/502/503/504, and fault
10000 (Intuit's "application error", sent as a 500). Never retried: anything QuickBooks answered
deliberately (validation, business rules, not found, stale object, authentication, which the
pipeline handles on its own by refreshing once).

Delay before retry number n (n = 1 for the first retry):
- a `Retry-After` header, when QuickBooks sent one (seconds or an HTTP date), is obeyed as is
  (capped at `max_retry_after`, so a broken header cannot park a task for a day);
- otherwise exponential backoff with full jitter: uniform(0, min(cap, base * 2**(n-1))), where the
  cap is `throttle_cap` (60 s: Intuit says to wait 60 s after a 3001) for throttling and
  `server_cap` (8 s) for the rest. Full jitter spreads many clients' retries evenly instead of
  letting them return in step.

Writes are safe to retry because every write carries the same `requestid` on every attempt
(see `qb_mcp.qbo.idempotency`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from qb_mcp.errors import (
    InvalidArgumentError,
    QBOError,
    ThrottledError,
    TransportError,
)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RETRYABLE_CODES = frozenset({"3001", "10000"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and the waits between them. Clock, sleep and randomness injectable."""

    max_attempts: int = 5
    base_delay: float = 0.5
    server_cap: float = 8.0
    throttle_cap: float = 60.0
    max_retry_after: float = 300.0
    # uniform [0, 1): the jitter source
    jitter: Callable[[], float] = field(default=random.random, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    # Wall-clock time, only for `Retry-After` given as an HTTP date.
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("RetryPolicy.max_attempts must be at least 1")
        if self.base_delay < 0 or self.server_cap < 0 or self.throttle_cap < 0:
            raise InvalidArgumentError("RetryPolicy delays must not be negative")

    def is_retryable(self, error: BaseException) -> bool:
        """Whether `error` may succeed if the same request is sent again."""
        if isinstance(error, (TransportError, ThrottledError)):
            return True
        if not isinstance(error, QBOError):
            return False
        if error.status_code in RETRYABLE_STATUS:
            return True
        return any(item.code in RETRYABLE_CODES for item in error.errors)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """`attempt` is the number of attempts made so far (1 after the first)."""
        return attempt < self.max_attempts and self.is_retryable(error)

    def delay(self, retry: int, error: BaseException, *, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if retry_after is None and isinstance(error, ThrottledError):
            retry_after = error.retry_after
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        cap = self.throttle_cap if _is_throttle(error) else self.server_cap
        ceiling = min(cap, self.base_delay * 2.0 ** (retry - 1))
        return self.jitter() * ceiling

    def retry_after(self, value: str | None) -> float | None:
        """Seconds a `Retry-After` header asks for, or None when absent or unreadable."""
        return parse_retry_after(value, now=self.clock())


def _is_throttle(error: BaseException) -> bool:
    if isinstance(error, ThrottledError):
        return True
    return isinstance(error, QBOError) and (
        error.status_code == 429 or any(item.code == "3001" for item in error.errors)
    )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` -> seconds from `now`."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means it said so
        return None
    return max(0.0, moment.timestamp() - now)
