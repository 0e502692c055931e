"""Dates the user did not give are the company's day (QuickBooks' US Pacific day), never the UTC
one: an estimate, its invoice and the payment made in one go carry the same date, through the
tools, with the server's clock injected at the hours where the two days differ."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from qb_mcp.bookkeeping.days import company_today
from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.emulator.conftest import FakeClock
from tests.server.conftest import TEST_LIMITS, Session
from tests.server.test_tools import CONTACT

pytestmark = pytest.mark.anyio


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# (the server's clock, in UTC; the company's day then)
MOMENTS = [
    # 23:30 Pacific standard time: the UTC date is already tomorrow.
    pytest.param(utc("2026-12-02T07:30:00"), date(2026, 12, 1), id="23:30-PST"),
    # 23:30 Pacific daylight time.
    pytest.param(utc("2026-07-02T06:30:00"), date(2026, 7, 1), id="23:30-PDT"),
    # Just after midnight UTC: mid-afternoon of the day before in California.
    pytest.param(utc("2026-12-02T00:10:00"), date(2026, 12, 1), id="00:10-UTC"),
    # Just before midnight UTC: the same day in both.
    pytest.param(utc("2026-12-01T23:50:00"), date(2026, 12, 1), id="23:50-UTC"),
]


@pytest.mark.parametrize(("now", "day"), MOMENTS)
def test_the_company_day_is_the_pacific_date(now: float, day: date) -> None:
    assert company_today(now) == day


def test_the_company_day_follows_daylight_saving() -> None:
    # 2026: daylight saving from 8 March 02:00 to 1 November 02:00, Pacific.
    assert company_today(utc("2026-03-08T07:59:00")) == date(2026, 3, 7)  # 23:59 PST
    assert company_today(utc("2026-03-09T06:59:00")) == date(2026, 3, 8)  # 23:59 PDT
    assert company_today(utc("2026-11-02T07:59:00")) == date(2026, 11, 1)  # 23:59 PST


@asynccontextmanager
async def connect_at(
    settings: Settings, now: float, mode: str
) -> AsyncIterator[tuple[Session, FakeClock]]:
    """A server and its emulator on one clock stopped at `now`, and a client session."""
    clock = FakeClock(now)
    emulator = Emulator(clock=clock)
    server = build_server(
        settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS), clock=clock
    )
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        yield Session(client, emulator), clock


@pytest.mark.parametrize(("now", "day"), MOMENTS)
async def test_estimate_invoice_and_payment_made_in_one_go_carry_the_company_day(
    tmp_path: Path, mode: str, now: float, day: date
) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator")
    async with connect_at(settings, now, mode) as (s, clock):
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        item = (await s.call("find_items", {"name": "Design"}))["items"][0]
        line = {"item_id": item["id"], "quantity": 2, "unit_price": "75.00"}
        estimate = await s.call("create_estimate", {"customer_id": customer["id"], "lines": [line]})
        clock.advance(20 * 60)  # 20 minutes later: still the same day in California
        invoice = (await s.call("convert_estimate", {"estimate_id": estimate["id"]}))["invoice"]
        owed = await s.call("list_open_invoices", {"customer_id": customer["id"]})
        payment = await s.call(
            "record_payment",
            {"customer_id": customer["id"], "amount": "150.00", "invoice_ids": [invoice["id"]]},
        )
        stored = await s.call("get_transaction", {"kind": "estimate", "id": estimate["id"]})
    assert estimate["txn_date"] == stored["estimate"]["txn_date"] == day.isoformat()
    assert invoice["txn_date"] == day.isoformat()
    assert invoice["due_date"] == (day + timedelta(days=30)).isoformat()
    assert owed["as_of"] == day.isoformat()
    assert payment["txn_date"] == day.isoformat()


async def test_a_date_the_user_gave_is_kept(tmp_path: Path, mode: str) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator")
    async with connect_at(settings, utc("2026-12-02T07:30:00"), mode) as (s, _clock):
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        item = (await s.call("find_items", {"name": "Design"}))["items"][0]
        estimate = await s.call(
            "create_estimate",
            {
                "customer_id": customer["id"],
                "lines": [{"item_id": item["id"], "unit_price": "10"}],
                "txn_date": "2026-12-02",
            },
        )
    assert estimate["txn_date"] == "2026-12-02"


async def test_an_expiration_before_the_company_day_is_refused_and_nothing_is_written(
    tmp_path: Path, mode: str
) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator")
    async with connect_at(settings, utc("2026-12-02T07:30:00"), mode) as (s, _clock):
        item = (await s.call("find_items", {"name": "Design"}))["items"][0]
        before = s.state()
        arguments: dict[str, Any] = {
            "customer_name": "Amy's Bird Sanctuary",
            "lines": [{"item_id": item["id"], "unit_price": "10"}],
            # The day before the company's (two before the UTC date).
            "expiration_date": "2026-11-30",
        }
        error = await s.fail("create_estimate", arguments)
        assert s.state() == before
    assert "2026-11-30" in error and "2026-12-01" in error
