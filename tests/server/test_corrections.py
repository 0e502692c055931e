"""void_transaction and delete_transaction through a real MCP client session, both eras."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from tests.server.conftest import connect, effective_hints, error_text

pytestmark = pytest.mark.anyio


def _objects(emulator: Emulator, entity: str) -> list[dict[str, Any]]:
    answer = emulator.backend.query(DEMO_REALM_ID, f"SELECT * FROM {entity}")
    return list(answer["QueryResponse"].get(entity, []))


def _one(emulator: Emulator, entity: str, **match: str) -> dict[str, Any]:
    def hit(row: dict[str, Any]) -> bool:
        return all(
            (row["CustomerRef"]["name"] if key == "customer" else row.get(key)) == value
            for key, value in match.items()
        )

    found = [row for row in _objects(emulator, entity) if hit(row)]
    assert len(found) == 1, (entity, match, found)
    return found[0]


def _deposit(emulator: Emulator, entity: str, entity_id: str) -> None:
    """Put a transaction in a bank deposit, as QuickBooks shows it (LinkedTxn to the Deposit)."""
    state = emulator.backend.snapshot()
    realm = state["realms"][DEMO_REALM_ID]
    realm["objects"][entity][entity_id]["LinkedTxn"] = [{"TxnId": "900", "TxnType": "Deposit"}]
    emulator.backend.restore(state)


async def test_voiding_a_wrong_payment_reopens_its_invoice_and_the_right_one_can_be_recorded(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    payment = _one(emulator, "Payment", PaymentRefNum="4711")
    invoice_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    async with connect(settings, emulator, mode) as s:
        voided = await s.call(
            "void_transaction", {"kind": "payment", "id": payment["Id"], "reason": "wrong amount"}
        )
        before_repeat = s.state()
        again = await s.call("void_transaction", {"kind": "payment", "doc_number": "4711"})
        assert s.state() == before_repeat
        paid = await s.call("record_payment", {"amount": "150.00", "invoice_ids": [invoice_id]})
        read = await s.call("get_transaction", {"kind": "payment", "id": payment["Id"]})
        writes = (await s.resource("qbo://audit/recent"))["writes"]
    assert voided["already_voided"] is False
    assert Decimal(voided["voided_amount"]) == Decimal("125.00")
    assert voided["invoices"] == [
        {
            "invoice_id": invoice_id,
            "doc_number": voided["invoices"][0]["doc_number"],
            "balance": "325.00",
        }
    ]
    assert again["already_voided"] is True and again["id"] == payment["Id"]
    assert Decimal(paid["applied"][0]["remaining_balance"]) == Decimal("175.00")
    assert paid["payment_id"] != payment["Id"]
    assert Decimal(read["payment"]["total"]) == 0
    assert "wrong amount" in read["payment"]["private_note"]
    assert read["payment"]["private_note"].startswith("Voided")
    assert ("void_transaction", "Payment", payment["Id"], "ok") in {
        (w["tool"], w["entity"], w["entity_id"], w["outcome"]) for w in writes
    }


async def test_voiding_an_invoice_zeroes_it_and_a_repeat_is_a_replay(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    invoice = _one(emulator, "Invoice", customer="Amy's Bird Sanctuary")
    async with connect(settings, emulator, mode) as s:
        voided = await s.call("void_transaction", {"kind": "invoice", "id": invoice["Id"]})
        again = await s.call(
            "void_transaction", {"kind": "invoice", "doc_number": invoice["DocNumber"]}
        )
        open_now = await s.call("list_open_invoices", {"customer_name": "Amy's Bird Sanctuary"})
    assert voided["already_voided"] is False
    assert Decimal(voided["voided_amount"]) == Decimal("274.00")
    assert again["already_voided"] is True
    assert invoice["Id"] not in {i["id"] for i in open_now["invoices"]}


async def test_a_sales_receipt_is_voided_with_the_update_form(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    customer = _one(emulator, "Customer", DisplayName="Cool Cars")
    receipt = emulator.backend.write(
        DEMO_REALM_ID,
        "SalesReceipt",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 70,
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 35},
                }
            ],
        },
    )["SalesReceipt"]
    async with connect(settings, emulator, mode) as s:
        voided = await s.call(
            "void_transaction", {"kind": "sales_receipt", "doc_number": receipt["DocNumber"]}
        )
    stored = emulator.backend.read(DEMO_REALM_ID, "SalesReceipt", receipt["Id"])["SalesReceipt"]
    assert voided["already_voided"] is False and Decimal(voided["voided_amount"]) == 70
    assert stored["TotalAmt"] == 0 and stored["PrivateNote"].startswith("Voided")


async def test_a_deposited_payment_is_refused_and_nothing_is_written(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    payment = _one(emulator, "Payment", PaymentRefNum="4711")
    _deposit(emulator, "Payment", payment["Id"])
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        text = await s.fail("void_transaction", {"kind": "payment", "id": payment["Id"]})
        assert s.state() == before
    assert "deposit 900" in text and "Fix:" in text


def test_the_emulator_refuses_to_void_a_deposited_payment_with_6540(
    emulator: Emulator,
) -> None:
    from qb_mcp.emulator.faults import QBOFault

    payment = _one(emulator, "Payment", PaymentRefNum="4711")
    _deposit(emulator, "Payment", payment["Id"])
    with pytest.raises(QBOFault) as raised:
        emulator.backend.write(
            DEMO_REALM_ID,
            "Payment",
            {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
            "update",
            include="void",
        )
    assert raised.value.errors[0].code == "6540"


async def test_a_transaction_voided_elsewhere_is_refused(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    invoice = _one(emulator, "Invoice", customer="Søren Kierkegaard")
    emulator.backend.write(
        DEMO_REALM_ID, "Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, "void"
    )
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        text = await s.fail("void_transaction", {"kind": "invoice", "id": invoice["Id"]})
        assert s.state() == before
    assert "already voided" in text


async def test_deleting_an_estimate_then_repeating_is_a_replay(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    estimate = _one(emulator, "Estimate", customer="Amy's Bird Sanctuary")
    async with connect(settings, emulator, mode) as s:
        deleted = await s.call("delete_transaction", {"kind": "estimate", "id": estimate["Id"]})
        again = await s.call("delete_transaction", {"kind": "estimate", "id": estimate["Id"]})
        missing = await s.fail("delete_transaction", {"kind": "estimate", "id": "9999"})
    assert deleted == {
        "kind": "estimate",
        "id": estimate["Id"],
        "doc_number": estimate["DocNumber"],
        "customer_id": estimate["CustomerRef"]["value"],
        "total": "150.00",
        "already_deleted": False,
    }
    assert again["already_deleted"] is True
    assert "9999" in missing
    assert all(e["Id"] != estimate["Id"] for e in _objects(emulator, "Estimate"))


async def test_deletes_that_would_lose_a_record_are_refused(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    paid_invoice = _one(emulator, "Invoice", customer="Müller GmbH")
    converted = _one(emulator, "Estimate", customer="Müller GmbH")
    unpaid = _one(emulator, "Invoice", customer="Søren Kierkegaard")
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        has_payment = await s.fail(
            "delete_transaction", {"kind": "invoice", "id": paid_invoice["Id"]}
        )
        was_converted = await s.fail(
            "delete_transaction", {"kind": "estimate", "id": converted["Id"]}
        )
        assert s.state() == before
        deleted = await s.call(
            "delete_transaction", {"kind": "invoice", "doc_number": unpaid["DocNumber"]}
        )
    assert "void_transaction" in has_payment
    assert "converted" in was_converted
    assert deleted["id"] == unpaid["Id"] and Decimal(deleted["total"]) == Decimal("337.50")


async def test_read_only_removes_both(settings: Settings, emulator: Emulator, mode: str) -> None:
    read_only = dataclasses.replace(settings, read_only=True)
    async with connect(read_only, emulator, mode) as s:
        names = {tool.name for tool in (await s.client.list_tools()).tools}
        before = s.state()
        result = await s.client.call_tool("void_transaction", {"kind": "invoice", "id": "1"})
        assert s.state() == before
    assert not {"void_transaction", "delete_transaction"} & names
    assert result.is_error


async def test_both_are_destructive_and_idempotent(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        tools = {tool.name: tool for tool in (await s.client.list_tools()).tools}
    for name in ("void_transaction", "delete_transaction"):
        hints = tools[name].annotations
        assert hints is not None
        assert hints.destructive_hint is True and hints.idempotent_hint is True
        assert effective_hints(hints)["readOnlyHint"] is False


ARGUMENT = st.one_of(
    st.none(),
    st.sampled_from(["invoice", "payment", "sales_receipt", "estimate", "", "1", "4711", "x" * 50]),
    st.integers(-5, 20),
    st.text(max_size=12),
    st.lists(st.text(max_size=3), max_size=2),
)


@pytest.mark.parametrize("tool", ["void_transaction", "delete_transaction"])
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(["kind", "id", "doc_number", "reason", "amount"]), ARGUMENT, max_size=4
    )
)
def test_any_arguments_give_a_result_or_a_tool_error_that_writes_nothing(
    tool: str, arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("corrections") / "home"
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
