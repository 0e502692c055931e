"""The company's day: the one source of every date the user did not give.

QuickBooks dates a transaction sent without TxnDate with "the current date on the server"
(Intuit's API reference, TxnDate of Estimate, Invoice and Payment), and its server keeps US Pacific
time with daylight saving: every `time` and MetaData stamp in the real payloads of tests/samples/
reads -08:00 in November and December and -07:00 from March to October, and Intuit's SDK team
says the API returns times in PST (intuit/QuickBooks-V3-Java-SDK issue #26). The API offers no
company time zone (CompanyInfo and Preferences have none; the only time zone setting in QuickBooks
Online is for timesheets). So the company's day is the Pacific date, never the UTC one: from 16:00
or 17:00 Pacific on, the UTC date is already tomorrow.

Our writes send the date explicitly (estimate, invoice and payment alike), taken from this one
function and the server's clock, so documents made in one go carry the same date whatever the
clocks of QuickBooks and this machine say, and due dates follow from it.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

# The `tzdata` dependency supplies the zone where the system has no time zone database.
COMPANY_ZONE = ZoneInfo("America/Los_Angeles")


def company_today(now: float | None = None) -> date:
    """The company's date at `now` (epoch seconds; default: this moment), as QuickBooks would
    date a transaction sent without TxnDate."""
    return datetime.fromtimestamp(time.time() if now is None else now, COMPANY_ZONE).date()
