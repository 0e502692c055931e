"""create_credit_memo and refund through a real MCP client session, both eras."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from tests.server.conftest import connect, error_text

pytestmark = pytest.mark.anyio

CREDIT = {
    "customer_name": "Cool Cars",
    "lines": [{"item_name": "Landscaping", "quantity": "2", "description": "Late crew"}],
    "txn_date": "2026-06-01",
    "memo": "Sorry for the delay",
}
REFUND = {
    "customer_name": "Cool Cars",
    "lines": [{"item_name": "Design", "unit_price": "40.50"}],
    "txn_date": "2026-06-02",
    "from_account": "Checking",
    "method": "check",
    "reference": "5001",
}


def _rows(emulator: Emulator, entity: str) -> list[dict[str, Any]]:
    answer = emulator.backend.query(DEMO_REALM_ID, f"SELECT * FROM {entity}")
    return list(answer["QueryResponse"].get(entity, []))


def _balance(emulator: Emulator, name: str) -> Decimal:
    answer = emulator.backend.query(
        DEMO_REALM_ID, f"SELECT * FROM Customer WHERE DisplayName = '{name}'"
    )
    return Decimal(answer["QueryResponse"]["Customer"][0]["Balance"])


async def test_a_credit_memo_is_given_once_and_lowers_the_customers_balance(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    before = _balance(emulator, "Cool Cars")
    memos = len(_rows(emulator, "CreditMemo"))
    async with connect(settings, emulator, mode) as s:
        memo = await s.call("create_credit_memo", CREDIT)
        again = await s.call("create_credit_memo", CREDIT)
        other = await s.call("create_credit_memo", {**CREDIT, "idempotency_key": "second"})
    assert Decimal(memo["total"]) == Decimal("70.00")  # 2 x 35
    assert Decimal(memo["remaining_credit"]) == Decimal("70.00")
    assert (memo["customer_name"], memo["memo"]) == ("Cool Cars", "Sorry for the delay")
    assert memo["lines"][0]["description"] == "Late crew"
    assert memo["already_recorded"] is False
    assert again["already_recorded"] is True and again["id"] == memo["id"]
    assert other["id"] != memo["id"]
    assert len(_rows(emulator, "CreditMemo")) == memos + 2
    assert _balance(emulator, "Cool Cars") == before - Decimal("140.00")


async def test_a_refund_is_paid_once_from_the_named_account(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    refunds = len(_rows(emulator, "RefundReceipt"))
    async with connect(settings, emulator, mode) as s:
        paid = await s.call("refund", REFUND)
        again = await s.call("refund", REFUND)
        other = await s.call("refund", {**REFUND, "reference": "5002"})
    assert Decimal(paid["total"]) == Decimal("40.50")
    assert (paid["method"], paid["from_account"], paid["reference"]) == (
        "Check",
        "Checking",
        "5001",
    )
    assert paid["already_recorded"] is False
    assert again["already_recorded"] is True and again["id"] == paid["id"]
    assert other["id"] != paid["id"]
    assert len(_rows(emulator, "RefundReceipt")) == refunds + 2


async def test_refusals_name_the_choices_and_write_nothing(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        account = await s.fail("refund", {**REFUND, "from_account": "Services"})
        method = await s.fail("refund", {**REFUND, "method": "IOU"})
        missing = await s.fail("refund", {k: v for k, v in REFUND.items() if k != "from_account"})
        item = await s.fail("create_credit_memo", {**CREDIT, "lines": [{"item_name": "Nope"}]})
        customer = await s.fail("create_credit_memo", {**CREDIT, "customer_name": "Nobody Here"})
        assert s.state() == before
    assert "Checking" in account and "Undeposited Funds" in account
    assert "Cash" in method
    assert "from_account" in missing
    assert "line 1" in item
    assert "Nobody Here" in customer


ARGUMENT = st.one_of(
    st.none(),
    st.sampled_from(["Cool Cars", "Cash", "Checking", "1", "", "2026-02-30", "-1"]),
    st.integers(-5, 50),
    st.text(max_size=10),
    st.lists(
        st.dictionaries(
            st.sampled_from(["item_id", "item_name", "quantity", "unit_price"]),
            st.one_of(st.text(max_size=5), st.sampled_from(["1", "Design", "-2", "0.001"])),
        ),
        max_size=2,
    ),
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tool=st.sampled_from(["create_credit_memo", "refund"]),
    arguments=st.dictionaries(
        st.sampled_from(
            ["customer_id", "customer_name", "lines", "method", "from_account", "txn_date"]
        ),
        ARGUMENT,
        max_size=5,
    ),
)
def test_any_arguments_give_a_result_or_a_tool_error_that_writes_nothing(
    tool: str, arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("credits") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool(tool, arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
                assert s.state() == before, arguments
            else:
                assert result.structured_content is not None

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
