"""When to try a request again, and how long to wait first: the one place that decides.

Retried: no answer at all (connection refused or reset, timeouts: `TransportError`), throttling
(HTTP 429 or fault 3001 whatever the status: `ThrottledError`), HTTP 500/502/503/504, and fault
10000 (Intuit's "application error", sent as a 500). Never retried: anything QuickBooks answered
deliberately (validation, business rules, not found, stale object, authentication, which the
pipeline handles on its own by refreshing once).

Delay before retry number n (n = 1 for the first retry):
- a `Retry-After` header, when QuickBooks sent one (seconds or an HTTP date), is obeyed as is
  (capped at `max_retry_after`, so a broken header cannot park a task for a day);
- throttling without one is waited out as Intuit asks: `throttle_wait` (60 s; QuickBooks counts
  requests per minute, so coming back sooner mostly earns another 429) plus up to
  `throttle_spread` (5 s) of jitter, so the processes throttled together do not return in step;
- otherwise exponential backoff with full jitter: uniform(0, min(server_cap, base * 2**(n-1))).
  Full jitter spreads many clients' retries evenly instead of letting them return in step.

How many: `max_attempts` counts the attempts that failed for other reasons; throttled attempts
have their own allowance, `max_throttle_waits` (so a request sits through at most about three
minutes of throttling, and a 429 never uses up the retries a later 503 needs). The client says
at INFO, before each wait, how long it is waiting and why (`retrying` log records carry
`qbo_wait_seconds` and `qbo_wait_reason` for whoever forwards them to the MCP client).

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
    throttle_wait: float = 60.0
    throttle_spread: float = 5.0
    max_throttle_waits: int = 3
    max_retry_after: float = 300.0
    # uniform [0, 1): the jitter source
    jitter: Callable[[], float] = field(default=random.random, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    # Wall-clock time, only for `Retry-After` given as an HTTP date.
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("RetryPolicy.max_attempts must be at least 1")
        if self.max_throttle_waits < 0:
            raise InvalidArgumentError("RetryPolicy.max_throttle_waits must not be negative")
        delays = (self.base_delay, self.server_cap, self.throttle_wait, self.throttle_spread)
        if any(delay < 0 for delay in delays):
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

    def should_retry(self, error: BaseException, attempt: int, *, throttled: int = 0) -> bool:
        """`attempt`: attempts made so far (1 after the first); `throttled`: how many of them
        were throttled (they count against `max_throttle_waits`, not `max_attempts`)."""
        if not self.is_retryable(error):
            return False
        if is_throttle(error):
            return throttled <= self.max_throttle_waits
        return attempt - throttled < self.max_attempts

    def delay(self, retry: int, error: BaseException, *, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if retry_after is None and isinstance(error, ThrottledError):
            retry_after = error.retry_after
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        if is_throttle(error):
            return self.throttle_wait + self.jitter() * self.throttle_spread
        ceiling = min(self.server_cap, self.base_delay * 2.0 ** (retry - 1))
        return self.jitter() * ceiling

    def retry_after(self, value: str | None) -> float | None:
        """Seconds a `Retry-After` header asks for, or None when absent or unreadable."""
        return parse_retry_after(value, now=self.clock())


def is_throttle(error: BaseException) -> bool:
    """Whether `error` is QuickBooks' rate limit (429, or fault 3001 whatever the status)."""
    if isinstance(error, ThrottledError):
        return True
    return isinstance(error, QBOError) and (
        error.status_code == 429 or any(item.code == "3001" for item in error.errors)
    )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` -> seconds from `now`
    (epoch seconds), never negative; None when absent or unreadable. The one reading of the
    header (RFC 9110 section 10.2.3), for QuickBooks' answers and for a CRM's."""
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
