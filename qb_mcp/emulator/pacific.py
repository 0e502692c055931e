"""US Pacific time, with daylight saving time: the emulated companies' time zone.

QuickBooks stamps answers, MetaData times and default dates in the company's time zone, and its
samples carry -08:00 in winter and -07:00 in summer (e.g. Intuit's ChangeDataCapture sample,
`2015-12-23T12:55:50-08:00`). The rules are the United States' since 2007: daylight time from 2:00
on the second Sunday of March to 2:00 on the first Sunday of November. Written out here rather than
taken from the system's tz database (`zoneinfo`), which not every machine has.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

_HOUR = timedelta(hours=1)
_STANDARD = timedelta(hours=-8)
_DAYLIGHT = timedelta(hours=-7)


def _sunday_on_or_after(day: datetime) -> datetime:
    return day + timedelta(days=(6 - day.weekday()) % 7)


def _daylight_span(year: int) -> tuple[datetime, datetime]:
    """Wall-clock start and end of daylight time in `year` (naive, local)."""
    start = _sunday_on_or_after(datetime(year, 3, 8, 2))  # the second Sunday of March, 2:00
    end = _sunday_on_or_after(datetime(year, 11, 1, 2))  # the first Sunday of November, 2:00
    return start, end


class USPacific(tzinfo):
    """America/Los_Angeles as `datetime` needs it; `fold` picks the hour repeated in November."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return _STANDARD + self.dst(dt)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        wall = dt.replace(tzinfo=None)
        start, end = _daylight_span(wall.year)
        if start + _HOUR <= wall < end - _HOUR:
            return _HOUR
        if start <= wall < start + _HOUR:  # the skipped hour: fold=1 reads it as after the jump
            return _HOUR if dt.fold else timedelta(0)
        if end - _HOUR <= wall < end:  # the repeated hour: fold=0 is its first (daylight) pass
            return timedelta(0) if dt.fold else _HOUR
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "PDT" if self.dst(dt) else "PST"

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        start, end = _daylight_span(utc.year)
        if start - _STANDARD <= utc < end - _DAYLIGHT:
            return (utc + _DAYLIGHT).replace(tzinfo=self)
        local = utc + _STANDARD
        fold = 1 if end - _HOUR <= local < end else 0
        return local.replace(tzinfo=self, fold=fold)

    def __repr__(self) -> str:
        return "USPacific()"


PACIFIC = USPacific()
