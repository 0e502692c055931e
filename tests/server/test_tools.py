"""Every tool through a real MCP client session, in both protocol eras."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.bookkeeping.explain import explain_code, explanation_text
from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import connect, effective_hints

pytestmark = pytest.mark.anyio

TOOLS = {
    "find_customer",
    "upsert_customer",
    "create_estimate",
    "convert_estimate",
    "record_payment",
    "explain_fault",
    "find_items",
    "list_open_invoices",
    "get_transaction",
    "query",
    "connection_status",
    "list_companies",
    "upsert_customers",
    "recent_changes",
    "void_transaction",
    "delete_transaction",
    "upsert_item",
    "create_sales_receipt",
    "create_credit_memo",
    "refund",
    "report",
    "send_invoice",
    "get_invoice_pdf",
}
WRITE_TOOLS = {
    "upsert_customer",
    "upsert_customers",
    "create_estimate",
    "convert_estimate",
    "record_payment",
    "void_transaction",
    "delete_transaction",
    "upsert_item",
    "create_sales_receipt",
    "create_credit_memo",
    "refund",
    "send_invoice",
}
CONTACT = {
    "crm_id": "crm-77",
    "display_name": "Rosa Diaz",
    "given_name": "Rosa",
    "family_name": "Diaz",
    "email": "rosa@example.com",
    "phone": "+1 650 555 0199",
}


async def test_lists_every_tool_with_its_annotations_and_an_output_schema(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        tools = (await s.client.list_tools()).tools
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        assert tool.annotations is not None, tool.name
        hints = effective_hints(tool.annotations)
        assert hints["readOnlyHint"] is (tool.name not in WRITE_TOOLS), tool.name
        if not hints["readOnlyHint"]:  # a write says both, whatever the defaults
            sent = tool.annotations.model_dump(by_alias=True, exclude_none=True)
            assert {"destructiveHint", "idempotentHint"} <= set(sent), tool.name
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
        # Long enough to say what the tool does, what it refuses and what comes next; 100, not
        # more, since tools/list carries every description in every conversation (issue 11).
        assert len(tool.description or "") > 100, tool.name


async def test_parameters_are_flat_and_described(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        tools = {tool.name: tool for tool in (await s.client.list_tools()).tools}
    properties = tools["record_payment"].input_schema["properties"]
    assert {"customer_id", "amount", "invoice_ids", "leave_credit"} <= set(properties)
    assert properties["amount"].get("description")
    assert tools["create_estimate"].input_schema["required"] == ["lines"]


def undescribed(schema: dict[str, Any], where: str = "") -> list[str]:
    """The properties in `schema` (nested objects and `$defs` too) that have no description."""
    missing = []
    for name, prop in schema.get("properties", {}).items():
        if not str(prop.get("description", "")).strip():
            missing.append(f"{where}{name}")
        missing += undescribed(prop, f"{where}{name}.")
    for name, definition in schema.get("$defs", {}).items():
        missing += undescribed(definition, f"$defs.{name}.")
    return missing


async def test_every_parameter_of_every_tool_is_described(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        tools = (await s.client.list_tools()).tools
    missing = [f"{tool.name}: {name}" for tool in tools for name in undescribed(tool.input_schema)]
    assert missing == []
    # The walk sees nested models: upsert_customers' contacts are CustomerContact objects.
    contacts = next(t for t in tools if t.name == "upsert_customers").input_schema
    assert "given_name" in contacts["$defs"]["CustomerContact"]["properties"]


async def test_find_customer_ranks_matches(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        found = await s.call("find_customer", {"phone": "650 555 3311"})
    assert found["matches"][0]["display_name"] == "Amy's Bird Sanctuary"
    assert Decimal(found["matches"][0]["open_balance"]) >= 0


async def test_upsert_customer_creates_then_is_unchanged(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        first = await s.call("upsert_customer", CONTACT)
        second = await s.call("upsert_customer", CONTACT)
        changed = await s.call("upsert_customer", {**CONTACT, "email": "rosa@new.example"})
    assert first["outcome"] == "created"
    assert second["outcome"] == "unchanged"
    assert second["customer"]["id"] == first["customer"]["id"]
    assert changed["outcome"] == "updated"
    assert changed["customer"]["email"] == "rosa@new.example"


async def test_quote_to_cash(settings: Settings, emulator: Emulator, mode: str) -> None:
    async with connect(settings, emulator, mode) as s:
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        item = (await s.call("find_items", {"name": "Design"}))["items"][0]
        estimate = await s.call(
            "create_estimate",
            {
                "customer_id": customer["id"],
                "lines": [{"item_id": item["id"], "quantity": "3", "unit_price": "75.00"}],
            },
        )
        converted = await s.call("convert_estimate", {"estimate_id": estimate["id"]})
        again = await s.call("convert_estimate", {"estimate_id": estimate["id"]})
        invoice = converted["invoice"]
        open_before = await s.call("list_open_invoices", {"customer_id": customer["id"]})
        paid = await s.call(
            "record_payment",
            {"customer_id": customer["id"], "amount": "225.00", "invoice_ids": [invoice["id"]]},
        )
        read = await s.call("get_transaction", {"kind": "invoice", "id": invoice["id"]})
        open_after = await s.call("list_open_invoices", {"customer_id": customer["id"]})
        writes = (await s.resource("qbo://audit/recent"))["writes"]
    assert Decimal(estimate["total"]) == Decimal("225.00")
    assert converted["estimate_status"] == "Closed"
    assert again["already_converted"] is True and again["invoice"]["id"] == invoice["id"]
    assert [i["id"] for i in open_before["invoices"]] == [invoice["id"]]
    assert Decimal(paid["applied"][0]["remaining_balance"]) == 0
    assert Decimal(read["invoice"]["balance"]) == 0
    assert open_after["invoices"] == []
    # Every write is audited once, newest first, with the ids the results named.
    assert [(w["tool"], w["entity"], w["entity_id"]) for w in writes] == [
        ("record_payment", "Payment", paid["payment_id"]),
        ("convert_estimate", "Estimate", estimate["id"]),
        ("convert_estimate", "Invoice", invoice["id"]),
        ("create_estimate", "Estimate", estimate["id"]),
        ("upsert_customer", "Customer", customer["id"]),
    ]
    assert all(w["outcome"] == "ok" and w["intuit_tid"] for w in writes)


async def test_record_payment_refuses_over_application_and_writes_nothing(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        invoices = (await s.call("list_open_invoices", {}))["invoices"]
        target = invoices[0]
        before = s.state()
        text = await s.fail(
            "record_payment",
            {
                "customer_id": target["customer_id"],
                "amount": str(Decimal(target["balance"]) + 1000),
                "invoice_ids": [target["id"]],
            },
        )
        assert s.state() == before
    assert "Fix:" in text


async def test_query_is_read_only_and_paged(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        page = await s.call("query", {"query": "SELECT * FROM Customer", "max_rows": 2})
        before = s.state()
        refused = await s.fail("query", {"query": "DELETE FROM Customer WHERE Id = '1'"})
        assert s.state() == before
    assert len(page["rows"]) == 2 and page["next_start_position"] == 3
    assert "SELECT" in refused


async def test_explain_fault_explains_a_code(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        explained = await s.call("explain_fault", {"fault": "6240"})
    assert explained["explanation"]["codes"] == ["6240"]
    assert explained["text"] == explanation_text(explain_code("6240"))


async def test_tool_errors_carry_the_explain_text_and_explain_fault_lists_them(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        assert (await s.call("explain_fault"))["recent_faults"] == []
        text = await s.fail("query", {"query": "SELECT * FROM Invoice WHERE Colour = 'red'"})
        recent = (await s.call("explain_fault"))["recent_faults"]
    assert recent[0]["tool"] == "query"
    assert recent[0]["explanation"]["codes"] == ["4001"]
    assert recent[0]["explanation"]["intuit_tid"]
    # The model reads exactly the words explain_fault gives, with the intuit_tid.
    assert text.endswith(recent[0]["text"])
    assert text != "Error executing tool query"


async def test_argument_errors_are_explained_not_bare(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        text = await s.fail("create_estimate", {"customer_id": "1", "lines": [{}]})
    assert "item_id or item_name" in text
    assert "Fix:" in text


async def test_connection_status_names_the_demo_company(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        status = await s.call("connection_status")
    assert status["source"] == "emulator"
    assert status["reachable"] is True
    assert status["company_name"] == "Craig's Design and Landscaping Services"


async def test_upsert_customers_reports_progress_and_outcomes(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    contacts = [
        {"crm_id": f"bulk-{n}", "display_name": f"Bulk Customer {n}", "email": f"b{n}@example.com"}
        for n in range(40)
    ]
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, _message: str | None) -> None:
        seen.append((done, total))

    async with connect(settings, emulator, mode) as s:
        result = await s.client.call_tool(
            "upsert_customers", {"contacts": contacts}, progress_callback=progress
        )
        again = await s.call("upsert_customers", {"contacts": contacts[:5]})
    assert not result.is_error
    outcomes: list[dict[str, Any]] = result.structured_content["outcomes"]  # type: ignore[index]
    assert [o["outcome"] for o in outcomes] == ["created"] * 40
    assert [o["index"] for o in outcomes] == list(range(40))
    assert {o["outcome"] for o in again["outcomes"]} == {"unchanged"}
    assert seen and seen[-1][0] == seen[-1][1]


async def test_writes_are_in_the_audit_log(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        created = await s.call("upsert_customer", CONTACT)
        await s.call("upsert_customer", CONTACT)  # unchanged: nothing written, nothing logged
        writes = (await s.resource("qbo://audit/recent"))["writes"]
    assert len(writes) == 1
    (write,) = writes
    assert write["tool"] == "upsert_customer"
    assert write["entity"] == "Customer"
    assert write["entity_id"] == created["customer"]["id"]
    assert write["request_id"] and write["intuit_tid"]
    assert write["outcome"] == "ok"
