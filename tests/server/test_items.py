"""upsert_item through a real MCP client session, both eras."""

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


def _item(emulator: Emulator, item_id: str) -> dict[str, Any]:
    return dict(emulator.backend.read(DEMO_REALM_ID, "Item", item_id)["Item"])


async def test_upsert_item_creates_then_is_unchanged_then_updates(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    wanted = {"name": "Pruning", "type": "service", "price": "45.00", "description": "Per hour"}
    async with connect(settings, emulator, mode) as s:
        created = await s.call("upsert_item", wanted)
        before = s.state()
        again = await s.call("upsert_item", {**wanted, "name": " pruning "})
        assert s.state() == before
        repriced = await s.call("upsert_item", {**wanted, "price": "50"})
        found = await s.call("find_items", {"name": "Prun"})
    assert created["outcome"] == "created" and created["income_account"] == "Services"
    assert again["outcome"] == "unchanged" and again["item"]["id"] == created["item"]["id"]
    assert repriced["outcome"] == "updated" and repriced["changed"] == ["UnitPrice"]
    assert Decimal(found["items"][0]["unit_price"]) == Decimal("50")
    assert _item(emulator, created["item"]["id"])["Type"] == "Service"


async def test_a_non_inventory_item_takes_the_named_income_account(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        made = await s.call(
            "upsert_item",
            {
                "name": "Bird seed",
                "type": "non_inventory",
                "income_account": "Sales of Product Income",
            },
        )
    stored = _item(emulator, made["item"]["id"])
    assert stored["Type"] == "NonInventory"
    assert stored["IncomeAccountRef"]["name"] == "Sales of Product Income"


async def test_refusals_write_nothing(settings: Settings, emulator: Emulator, mode: str) -> None:
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        not_income = await s.fail(
            "upsert_item", {"name": "Mulch", "type": "service", "income_account": "Checking"}
        )
        other_type = await s.fail("upsert_item", {"name": "Design", "type": "non_inventory"})
        bad_price = await s.fail("upsert_item", {"name": "Mulch", "type": "service", "price": "-1"})
        assert s.state() == before
    assert "Services" in not_income and "Fix:" in not_income
    assert "Service" in other_type
    assert "price" in bad_price


async def test_an_inactive_item_is_made_active_again(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    hours = emulator.backend.query(DEMO_REALM_ID, "SELECT * FROM Item WHERE Name = 'Hours'")
    item = hours["QueryResponse"]["Item"][0]
    emulator.backend.write(
        DEMO_REALM_ID,
        "Item",
        {"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True, "Active": False},
    )
    async with connect(settings, emulator, mode) as s:
        back = await s.call("upsert_item", {"name": "Hours", "type": "service"})
    assert back["outcome"] == "updated" and back["item"]["active"] is True
    assert back["item"]["id"] == item["Id"]


ARGUMENT = st.one_of(
    st.none(),
    st.sampled_from(["service", "non_inventory", "Services", "Checking", "1", "-1", "", "x" * 120]),
    st.integers(-5, 500),
    st.text(max_size=12),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(["name", "type", "price", "description", "income_account", "extra"]),
        ARGUMENT,
        max_size=5,
    )
)
def test_any_arguments_give_a_result_or_a_tool_error_that_writes_nothing(
    arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("items") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool("upsert_item", arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
                assert s.state() == before, arguments
            else:
                assert result.structured_content is not None

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
