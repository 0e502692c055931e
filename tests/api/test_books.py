"""`open_books`: the tools as methods, wired as `serve` wires them."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import qb_mcp
from qb_mcp import (
    Books,
    CustomerContact,
    EstimateLineInput,
    FindCustomerInput,
    InvalidArgumentError,
    QueryError,
    Settings,
    open_books,
)
from qb_mcp.books import declared_tools, tool
from qb_mcp.store import audit
from qb_mcp.tools import all_specs
from qb_mcp.tools.base import to_tool_error

pytestmark = pytest.mark.anyio


def test_every_tool_spec_is_a_typed_method_with_its_models() -> None:
    declared = declared_tools()
    specs = {spec.name: spec for spec in all_specs()}
    assert set(declared) == set(specs), "declare each tool in qb_mcp.books.ToolMethods"
    for name, spec in specs.items():
        assert declared[name].input_model is spec.input_type(), name
        assert declared[name].output_model is spec.output_type(), name
        assert isinstance(getattr(Books, name), tool)


def test_every_public_name_is_exported() -> None:
    for name in qb_mcp.__all__:
        assert getattr(qb_mcp, name) is not None, name
    assert "open_books" in dir(qb_mcp)
    with pytest.raises(AttributeError):
        _ = qb_mcp.no_such_name  # type: ignore[attr-defined]


def test_every_model_a_method_takes_or_returns_is_exported() -> None:
    import typing

    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()

    def walk(annotation: object) -> None:
        for argument in typing.get_args(annotation):
            walk(argument)
        model = annotation if isinstance(annotation, type) else None
        if model is not None and issubclass(model, BaseModel) and model not in seen:
            seen.add(model)
            for info in model.model_fields.values():
                walk(info.annotation)

    for spec in all_specs():
        walk(spec.input_type())
        walk(spec.output_type())
    for model in seen:
        assert getattr(qb_mcp, model.__name__, None) is model, model.__name__


def test_importing_qb_mcp_loads_no_bookkeeping() -> None:
    import subprocess
    import sys

    code = "import sys, qb_mcp; print('qb_mcp.bookkeeping.customers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_quote_to_cash_through_the_methods(books: Books) -> None:
    assert books.source == "emulator"
    upserted = await books.upsert_customer(
        crm_id="crm-42", given_name="Ada", family_name="Lovelace", email="ada@example.com"
    )
    assert upserted.outcome == "created"
    assert upserted.customer is not None
    again = await books.upsert_customer(
        CustomerContact(crm_id="crm-42", given_name="Ada", family_name="Lovelace")
    )
    assert again.customer is not None and again.customer.id == upserted.customer.id
    items = await books.find_items(name="Design")
    item = items.items[0]
    estimate = await books.create_estimate(
        customer_id=upserted.customer.id,
        lines=[EstimateLineInput(item_id=item.id, quantity=Decimal(3), unit_price=Decimal("40"))],
    )
    assert estimate.total == Decimal("120.00")
    converted = await books.convert_estimate(estimate_id=estimate.id)
    paid = await books.record_payment(
        invoice_ids=[converted.invoice.id], amount=Decimal("120.00"), reference="CHK-1"
    )
    assert paid.unapplied == Decimal("0.00")
    open_now = await books.list_open_invoices(customer_id=upserted.customer.id)
    assert open_now.invoices == []


async def test_a_retried_write_replays(books: Books) -> None:
    first = await books.upsert_customer(crm_id="crm-7", company_name="Replay Ltd")
    items = await books.find_items(name="Design")
    arguments: dict[str, Any] = {
        "customer_id": first.customer.id if first.customer else "",
        "lines": [{"item_id": items.items[0].id, "quantity": "2"}],
        "idempotency_key": "quote-crm-7",
    }
    one = await books.call("create_estimate", arguments)
    two = await books.call("create_estimate", arguments)
    assert one == two


async def test_writes_are_audited_as_tool_calls(books: Books) -> None:
    created = await books.upsert_customer(crm_id="crm-9", company_name="Audited Co")
    entries = await audit.recent(books._state.database)
    assert [(e.tool, e.entity, e.entity_id) for e in entries] == [
        ("upsert_customer", "Customer", created.customer.id if created.customer else None)
    ]


async def test_bad_input_is_an_invalid_argument_error_and_writes_nothing(books: Books) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await books.upsert_customer(crm_id="crm-1", email="not-an-email", given_name="X")
    assert caught.value.explanation is not None
    assert "email" in caught.value.explanation
    with pytest.raises(InvalidArgumentError):
        await books.record_payment(invoice_id="1", amount="5")  # a typo: invoice_ids
    with pytest.raises(InvalidArgumentError):
        await books.find_customer(FindCustomerInput(name="x"), limit=3)  # type: ignore[call-overload]
    assert (await books.find_customer(name="Ada")).matches == []
    assert await audit.recent(books._state.database) == []


async def test_a_fault_is_raised_as_itself_with_the_tool_error_text(books: Books) -> None:
    with pytest.raises(QueryError) as caught:
        await books.query(query="SELECT * FROM Customer WHERE Nope = 'x'")
    exc = caught.value
    assert exc.code == "4001"
    assert exc.explanation == str(to_tool_error(exc, tool="query"))
    assert exc.explanation in (exc.__notes__ or [])
    recent = await books.explain_fault()
    assert recent.recent_faults[0].tool == "query"
    with pytest.raises(InvalidArgumentError) as refused:
        await books.get_transaction(kind="invoice", id="999999")
    assert "no invoice has id 999999" in (refused.value.explanation or "")


async def test_read_only_refuses_writes_and_keeps_reads(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator", read_only=True)
    async with open_books(settings) as books:
        with pytest.raises(qb_mcp.ConfigError, match="QBO_READ_ONLY") as refused:
            await books.upsert_customer(company_name="Nope Inc")
        assert "QBO_READ_ONLY" in (refused.value.explanation or "")
        assert await audit.recent(books._state.database) == []
        assert (await books.connection_status()).read_only is True


async def test_recent_changes_catches_up_and_events_iterate(books: Books) -> None:
    created = await books.upsert_customer(crm_id="crm-5", company_name="Evented Ltd")
    caught = await books.recent_changes(catch_up=True)
    assert caught.caught_up is not None
    seen = [change async for change in books.events()]
    assert any(c.entity == "Customer" and c.entity_id == created.customer.id for c in seen)  # type: ignore[union-attr]
    after_last = [change async for change in books.events(since=seen[-1].event_id)]
    assert after_last == []
    with pytest.raises(InvalidArgumentError, match="evt_"):
        _ = [change async for change in books.events(since="no-such-event")]
    with pytest.raises(InvalidArgumentError, match="no stored event"):
        _ = [change async for change in books.events(since="evt_" + "0" * 24)]
    with pytest.raises(InvalidArgumentError, match="time zone"):
        _ = [change async for change in books.events(since=datetime(2026, 1, 1))]
    later = datetime.now(UTC) + timedelta(days=1)
    assert [change async for change in books.events(since=later)] == []


async def test_following_events_waits_for_new_ones(books: Books) -> None:
    import anyio

    await books.recent_changes(catch_up=True)
    seen = [change async for change in books.events()]
    cursor = seen[-1].event_id
    arrived: list[str] = []

    async def follow() -> None:
        async for change in books.events(since=cursor, follow=True, poll_interval=0.05):
            arrived.append(change.entity_id)
            return

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follow)
        created = await books.upsert_customer(crm_id="crm-f1", company_name="Followed Ltd")
        await books.recent_changes(catch_up=True)
    assert created.customer is not None and arrived == [created.customer.id]


async def test_progress_reaches_the_callback(settings: Settings, wiring: dict[str, Any]) -> None:
    seen: list[tuple[float, float | None]] = []

    def progress(done: float, total: float | None, _message: str | None) -> None:
        seen.append((done, total))

    async with open_books(settings, progress=progress, **wiring) as books:
        await books.upsert_customers(
            contacts=[
                CustomerContact(crm_id=f"bulk-{n}", company_name=f"Bulk {n}") for n in range(3)
            ]
        )
    assert seen and seen[-1][0] == seen[-1][1]


async def test_methods_are_documented_by_their_tool(books: Books) -> None:
    assert "customer" in (books.find_customer.__doc__ or "").lower()
    assert inspect.iscoroutinefunction(type(books.find_customer).__call__)


async def test_the_callers_own_exception_leaves_the_block_as_itself(settings: Settings) -> None:
    with pytest.raises(KeyError):
        async with open_books(settings) as books:
            await books.connection_status()
            raise KeyError("the CRM's own bug")


async def test_a_tool_without_a_declaration_is_still_a_method(
    books: Books, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from qb_mcp import books as books_module

    spec = next(s for s in all_specs() if s.name == "connection_status")
    later = dataclasses.replace(spec, name="added_later")
    monkeypatch.setattr(books_module, "_specs", lambda: {"added_later": later})
    monkeypatch.setattr(books, "_specs", {"added_later": later})
    status = await books.added_later()  # type: ignore[attr-defined]
    assert status.source == "emulator"


async def test_a_connected_company_is_opened_through_its_stored_tokens(
    settings: Settings, wiring: dict[str, Any]
) -> None:
    """As `serve`: encrypted tokens in the store, the token manager, Intuit's paths (the
    emulator stands in for Intuit, reached in process), `company` choosing the realm."""
    import dataclasses
    import time

    import httpx2

    from qb_mcp.auth.intuit import TokenGrant
    from qb_mcp.auth.wiring import open_auth
    from qb_mcp.emulator import DEMO_REALM_ID, Emulator

    emulator = Emulator()
    connected = dataclasses.replace(
        settings, oauth_base_url="http://emulator", api_base_url="http://emulator"
    )
    transport = httpx2.ASGITransport(app=emulator.app)
    issued = emulator.issue_tokens(DEMO_REALM_ID)
    async with open_auth(connected, transport=transport) as auth:
        await auth.manager.save_login(
            str(DEMO_REALM_ID),
            TokenGrant(
                access_token=issued.access_token,
                refresh_token=issued.refresh_token,
                expires_in=issued.expires_in,
                refresh_expires_in=issued.x_refresh_token_expires_in,
            ),
            received_at=time.time(),
            company_name="Craig's Design and Landscaping Services",
        )
    async with open_books(
        connected, company=str(DEMO_REALM_ID), transport=transport, **wiring
    ) as books:
        assert books.source == "connection"
        status = await books.connection_status()
        made = await books.upsert_customer(crm_id="crm-c1", company_name="Connected Ltd")
    assert status.refresh_token_expires_at
    assert made.outcome == "created"
    assert not (connected.home / "emulator-state.json").exists()


async def test_a_chosen_environment_with_nothing_connected_is_not_the_demo_company(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"QBO_HOME": str(tmp_path / "home"), "QBO_ENVIRONMENT": "sandbox"})
    async with open_books(settings) as books:
        with pytest.raises(qb_mcp.NotConnectedError) as caught:
            await books.find_customer(name="Amy")
    assert "auth login" in (caught.value.explanation or "")


async def test_identical_writes_from_two_books_at_once_write_once(
    settings: Settings, wiring: dict[str, Any]
) -> None:
    """Two books on one company (two parts of the CRM) upsert the same contact together: the
    write critical sections and the ledger make it one customer."""
    import anyio

    from qb_mcp.emulator import Emulator

    emulator = Emulator()
    outcomes: list[str] = []
    async with (
        open_books(settings, emulator=emulator, **wiring) as one,
        open_books(settings, emulator=emulator, **wiring) as two,
    ):

        async def upsert(books: Books) -> None:
            result = await books.upsert_customer(crm_id="crm-twice", company_name="Twice Ltd")
            outcomes.append(result.outcome)

        async with anyio.create_task_group() as tasks:
            for books in (one, two, one, two):
                tasks.start_soon(upsert, books)
        found = await one.find_customer(name="Twice Ltd")
    assert sorted(outcomes) == ["created", "unchanged", "unchanged", "unchanged"]
    assert len(found.matches) == 1


async def test_the_invoice_pdf_comes_back_as_bytes_and_the_credit_once(books: Books) -> None:
    invoices = await books.list_open_invoices({})
    invoice = invoices.invoices[0]
    printed = await books.get_invoice_pdf({"id": invoice.id})
    assert printed.pdf.startswith(b"%PDF-") and printed.size_bytes == len(printed.pdf)
    assert "pdf" not in printed.model_dump()  # MCP clients get the bytes as a resource
    credit = {"customer_id": invoice.customer_id, "lines": [{"item_id": "1", "unit_price": "5"}]}
    first = await books.create_credit_memo(credit)
    again = await books.create_credit_memo(credit)
    assert (first.id, first.already_recorded, again.already_recorded) == (again.id, False, True)
