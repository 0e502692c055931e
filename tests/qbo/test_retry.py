from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from qb_mcp.errors import (
    AuthenticationError,
    BusinessRuleError,
    FaultDetail,
    NotFoundError,
    QBOError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    TransportError,
    ValidationError,
)
from qb_mcp.qbo.retry import RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0


def policy(**kwargs: object) -> RetryPolicy:
    return RetryPolicy(jitter=lambda: 1.0, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def fault(cls: type[QBOError], code: str, status: int | None = 400) -> QBOError:
    return cls("x", status_code=status, errors=[FaultDetail(code=code)])


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connection reset"),
        TransportError("timed out"),
        ThrottledError("slow down", status_code=429, errors=[FaultDetail(code="3001")]),
        fault(ServerError, "10000", 500),
        fault(ServerError, "", 502),
        fault(ServerError, "", 503),
        fault(ServerError, "", 504),
        fault(QBOError, "10000", None),
    ],
)
def test_transient_failures_are_retried(error: QBOError) -> None:
    assert policy().is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        fault(ValidationError, "2020"),
        fault(BusinessRuleError, "6000"),
        fault(NotFoundError, "610"),
        fault(StaleObjectError, "5010"),
        fault(AuthenticationError, "3200", 401),
        fault(ServerError, "", 501),
        ValueError("not ours"),
    ],
)
def test_deliberate_answers_are_never_retried(error: Exception) -> None:
    assert not policy().is_retryable(error)


def test_attempts_stop_at_the_maximum() -> None:
    error = TransportError("reset")
    retry = policy(max_attempts=3)
    assert retry.should_retry(error, 1)
    assert retry.should_retry(error, 2)
    assert not retry.should_retry(error, 3)


def test_server_backoff_doubles_up_to_its_cap() -> None:
    error = fault(ServerError, "", 503)
    delays = [policy().delay(n, error) for n in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_throttling_waits_the_minute_intuit_asks_for_plus_jitter() -> None:
    error = ThrottledError("slow", status_code=429, errors=[FaultDetail(code="3001")])
    assert [policy().delay(n, error) for n in (1, 2, 3)] == [65.0, 65.0, 65.0]
    low = RetryPolicy(jitter=lambda: 0.0)
    assert low.delay(1, error) == 60.0
    # Fault 3001 under another status (old captures show 403) is throttling too.
    assert low.delay(1, fault(QBOError, "3001", 403)) == 60.0


def test_throttled_attempts_have_their_own_allowance() -> None:
    throttled = ThrottledError("slow", status_code=429, errors=[FaultDetail(code="3001")])
    retry = policy(max_attempts=2, max_throttle_waits=3)
    assert [retry.should_retry(throttled, n, throttled=n) for n in (1, 2, 3, 4)] == [
        True,
        True,
        True,
        False,
    ]
    # Four throttles and one reset: the reset still gets its retry.
    assert retry.should_retry(TransportError("reset"), 5, throttled=4)
    assert not retry.should_retry(TransportError("reset"), 6, throttled=4)


def test_backoff_has_full_jitter() -> None:
    draws = iter([0.0, 0.25, 0.999])
    retry = RetryPolicy(jitter=lambda: next(draws))
    error = fault(ServerError, "", 500)
    assert [retry.delay(4, error) for _ in range(3)] == [0.0, 1.0, pytest.approx(3.996)]


def test_retry_after_in_seconds_is_obeyed() -> None:
    retry = policy()
    error = fault(ServerError, "", 503)
    assert retry.delay(1, error, retry_after=retry.retry_after("7")) == 7.0


def test_retry_after_as_an_http_date_is_obeyed() -> None:
    retry = policy()
    when = format_datetime(datetime.fromtimestamp(NOW + 42, tz=UTC), usegmt=True)
    assert retry.delay(1, fault(ServerError, "", 503), retry_after=retry.retry_after(when)) == 42.0


def test_throttled_error_carries_its_own_retry_after() -> None:
    error = ThrottledError("slow", retry_after=12.0, status_code=429)
    assert policy().delay(3, error) == 12.0


def test_an_absurd_retry_after_is_capped() -> None:
    retry = policy(max_retry_after=300.0)
    assert retry.delay(1, fault(ServerError, "", 503), retry_after=86_400.0) == 300.0


@pytest.mark.parametrize("value", [None, "", "soon", "Someday, 99 Foo 2015"])
def test_an_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_a_past_retry_after_date_means_now() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW - 30, tz=UTC), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 0.0


def test_nonsense_policies_are_refused() -> None:
    from qb_mcp.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(InvalidArgumentError):
        RetryPolicy(base_delay=-1)
