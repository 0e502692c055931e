"""The report tool through a real MCP client session, both eras."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import connect, error_text

pytestmark = pytest.mark.anyio


def _grand_total(report: dict[str, Any]) -> list[str]:
    (total,) = [t for t in report["totals"] if t["group"] == "GrandTotal"]
    return list(total["values"])


async def test_aged_receivables_agree_with_the_open_invoices_to_the_cent(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        # Make the books less round first: a partial payment of an odd amount, on the
        # company's day (the report's default date).
        today = (await s.call("report", {"name": "customer_balance"}))["period"]
        invoice = (await s.call("list_open_invoices", {}))["invoices"][0]
        await s.call(
            "record_payment",
            {"amount": "0.37", "invoice_ids": [invoice["id"]], "txn_date": today},
        )
        open_invoices = (await s.call("list_open_invoices", {}))["invoices"]
        aged = await s.call("report", {"name": "aged_receivables"})
        detail = await s.call("report", {"name": "aged_receivable_detail"})
        balances = await s.call("report", {"name": "customer_balance"})
    owed = sum((Decimal(i["balance"]) for i in open_invoices), Decimal(0))
    assert aged["columns"] == ["Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    assert Decimal(_grand_total(aged)[-1]) == owed
    # Each bucket's total is the sum of its rows; each row's Total is the sum of its buckets.
    for column in range(6):
        assert sum(Decimal(r["values"][column]) for r in aged["rows"]) == Decimal(
            _grand_total(aged)[column]
        )
    for row in aged["rows"]:
        assert sum(Decimal(v) for v in row["values"][:5]) == Decimal(row["values"][5])
    assert Decimal(_grand_total(detail)[-1]) == owed
    assert len(detail["rows"]) == len(open_invoices)
    assert Decimal(_grand_total(balances)[-1]) == owed


async def test_one_customer_and_a_date_in_the_past(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        mine = await s.call("report", {"name": "aged_receivables", "customer_name": "Müller GmbH"})
        long_ago = await s.call("report", {"name": "customer_balance", "as_of": "2001-01-01"})
    assert [r["label"] for r in mine["rows"]] == ["Müller GmbH"]
    assert mine["rows"][0]["values"][-1] == "200.00"
    assert long_ago["rows"] == [] and _grand_total(long_ago) == ["0.00"]
    assert long_ago["period"] == "2001-01-01"


async def test_profit_and_loss_counts_sales_in_the_period(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        before = await s.call("report", {"name": "profit_and_loss"})
        end = before["period"].split("..")[1]
        await s.call(
            "create_sales_receipt",
            {
                "customer_name": "Cool Cars",
                "txn_date": end,
                "lines": [{"item_name": "Design", "quantity": "2"}],
            },
        )
        after = await s.call("report", {"name": "profit_and_loss"})
    net = {t["group"]: Decimal(t["values"][0]) for t in after["totals"]}
    was = {t["group"]: Decimal(t["values"][0]) for t in before["totals"]}
    assert net["NetIncome"] - was["NetIncome"] == Decimal("150.00")
    assert after["rows"][0]["section"] == "Income"


async def test_mismatched_dates_are_a_tool_error(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        text = await s.fail("report", {"name": "profit_and_loss", "as_of": "2026-01-01"})
        reversed_period = await s.fail(
            "report",
            {"name": "profit_and_loss", "start_date": "2026-02-01", "end_date": "2026-01-01"},
        )
    assert "start_date" in text and "Fix:" in text
    assert "after end_date" in reversed_period


ARGUMENT = st.one_of(
    st.none(),
    st.sampled_from(
        ["aged_receivables", "profit_and_loss", "customer_balance", "2026-01-01", "1", "x", ""]
    ),
    st.integers(-5, 50),
    st.text(max_size=10),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(
            ["name", "as_of", "start_date", "end_date", "customer_id", "customer_name"]
        ),
        ARGUMENT,
        max_size=4,
    )
)
def test_any_arguments_give_a_result_or_a_tool_error(
    arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("reports") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool("report", arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
            else:
                assert result.structured_content is not None
            assert s.state() == before  # a report never writes

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
