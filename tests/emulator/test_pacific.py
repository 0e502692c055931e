"""The emulated companies' time zone: US Pacific with daylight saving time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qb_mcp.emulator.pacific import PACIFIC
from qb_mcp.emulator.realms import company_day, meta_time


@pytest.mark.parametrize(
    ("utc", "local"),
    [
        # Intuit's samples: -08:00 in December (ChangeDataCapture), -07:00 in July.
        (datetime(2015, 12, 23, 20, 55, 50, tzinfo=UTC), "2015-12-23T12:55:50-08:00"),
        (datetime(2015, 7, 1, 17, 14, 15, tzinfo=UTC), "2015-07-01T10:14:15-07:00"),
        # The changes of 2026: 8 March 10:00 UTC and 1 November 09:00 UTC.
        (datetime(2026, 3, 8, 9, 59, tzinfo=UTC), "2026-03-08T01:59:00-08:00"),
        (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "2026-03-08T03:00:00-07:00"),
        (datetime(2026, 11, 1, 8, 30, tzinfo=UTC), "2026-11-01T01:30:00-07:00"),
        (datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "2026-11-01T01:30:00-08:00"),
    ],
)
def test_utc_instants_read_as_pacific_wall_time(utc: datetime, local: str) -> None:
    assert utc.astimezone(PACIFIC).isoformat() == local
    assert meta_time(utc.timestamp()) == local


def test_the_repeated_november_hour_maps_back_to_both_instants() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=PACIFIC)
    second = first.replace(fold=1)
    assert second.timestamp() - first.timestamp() == 3600


def test_the_companys_day_turns_at_pacific_midnight_in_winter_too() -> None:
    # 23:30 PST on 1 December 2026 is 07:30 UTC on the 2nd: still the 1st for the company.
    late = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    assert company_day(late.timestamp()) == "2026-12-01"
    assert company_day((late + timedelta(hours=1)).timestamp()) == "2026-12-02"
