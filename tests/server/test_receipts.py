"""create_sales_receipt through a real MCP client session, both eras."""

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

SALE = {
    "customer_name": "Cool Cars",
    "lines": [{"item_name": "Landscaping", "quantity": "2"}, {"item_name": "Design"}],
    "txn_date": "2026-06-01",
    "method": "cash",
    "deposit_account": "Checking",
    "reference": "R-9",
}


def _receipts(emulator: Emulator) -> list[dict[str, Any]]:
    answer = emulator.backend.query(DEMO_REALM_ID, "SELECT * FROM SalesReceipt")
    return list(answer["QueryResponse"].get("SalesReceipt", []))


async def test_a_paid_sale_is_recorded_once(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    before = len(_receipts(emulator))
    async with connect(settings, emulator, mode) as s:
        sale = await s.call("create_sales_receipt", SALE)
        again = await s.call("create_sales_receipt", SALE)
        other = await s.call("create_sales_receipt", {**SALE, "idempotency_key": "second-sale"})
        voided = await s.call("void_transaction", {"kind": "sales_receipt", "id": sale["id"]})
    assert Decimal(sale["total"]) == Decimal("145.00")  # 2 x 35 + 75
    assert (sale["method"], sale["deposit_account"], sale["reference"]) == (
        "Cash",
        "Checking",
        "R-9",
    )
    assert sale["already_recorded"] is False
    assert again["already_recorded"] is True and again["id"] == sale["id"]
    assert other["id"] != sale["id"]
    assert voided["already_voided"] is False and Decimal(voided["voided_amount"]) == 145
    assert len(_receipts(emulator)) == before + 2


async def test_refusals_list_the_choices_and_write_nothing(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        account = await s.fail("create_sales_receipt", {**SALE, "deposit_account": "Services"})
        method = await s.fail("create_sales_receipt", {**SALE, "method": "IOU"})
        item = await s.fail("create_sales_receipt", {**SALE, "lines": [{"item_name": "Nope"}]})
        assert s.state() == before
    assert "Checking" in account and "Undeposited Funds" in account
    assert "Cash" in method
    assert "line 1" in item


ARGUMENT = st.one_of(
    st.none(),
    st.sampled_from(["Cool Cars", "Cash", "Checking", "1", "", "2026-02-30", "-1"]),
    st.integers(-5, 50),
    st.text(max_size=10),
    st.lists(
        st.dictionaries(st.sampled_from(["item_id", "item_name", "quantity"]), st.text(max_size=5)),
        max_size=2,
    ),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(
            ["customer_id", "customer_name", "lines", "method", "deposit_account", "txn_date"]
        ),
        ARGUMENT,
        max_size=5,
    )
)
def test_any_arguments_give_a_result_or_a_tool_error_that_writes_nothing(
    arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("receipts") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool("create_sales_receipt", arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
                assert s.state() == before, arguments
            else:
                assert result.structured_content is not None

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
