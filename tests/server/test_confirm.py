"""QBO_CONFIRM_WRITES: write tools ask the user through MCP elicitation, in both eras, before
anything reaches QuickBooks; clients without elicitation keep working; off, nothing is asked."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server

from .conftest import TEST_LIMITS, Session

pytestmark = pytest.mark.anyio

CONTACT = {"display_name": "Confirm Garden Supply", "email": "orders@confirm-garden.example"}


class User:
    """The person behind the client: answers every confirmation with `action` and notes what
    they were shown."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content if content is not None else {"confirm": True}
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        content = self.content if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@pytest.fixture
def confirming(settings: Settings) -> Settings:
    return dataclasses.replace(settings, confirm_writes=True)


@asynccontextmanager
async def connect(
    settings: Settings, emulator: Emulator, mode: str, user: User | None
) -> AsyncIterator[Session]:
    """A fresh server; the client declares elicitation only when it has a `user` to ask."""
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS))
    async with Client(server, mode=mode, elicitation_callback=user) as client:  # type: ignore[arg-type]
        yield Session(client, emulator)


async def test_accepted_write_happens(confirming: Settings, emulator: Emulator, mode: str) -> None:
    user = User("accept")
    async with connect(confirming, emulator, mode, user) as s:
        result = await s.call("upsert_customer", CONTACT)
        found = await s.call("find_customer", {"email": CONTACT["email"]})
    assert result["outcome"] == "created"
    assert [match["id"] for match in found["matches"]] == [result["customer"]["id"]]
    [message] = user.asked
    assert "upsert_customer" in message
    assert '"Confirm Garden Supply"' in message


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_refused_write_changes_nothing(
    confirming: Settings, emulator: Emulator, mode: str, action: str
) -> None:
    user = User(action)
    async with connect(confirming, emulator, mode, user) as s:
        before = s.state()
        error = await s.fail("upsert_customer", CONTACT)
        after = s.state()
        audit = await s.resource("qbo://audit/recent")
    assert "Nothing was written" in error
    assert after == before
    assert len(user.asked) == 1
    assert "Confirm Garden Supply" not in after
    assert "upsert_customer" not in str(audit)


async def test_unticked_confirmation_is_a_no(
    confirming: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(confirming, emulator, mode, User("accept", {"confirm": False})) as s:
        before = s.state()
        error = await s.fail("upsert_customer", CONTACT)
        assert s.state() == before
    assert "Nothing was written" in error


async def test_client_without_elicitation_writes_and_logs_once(
    confirming: Settings, emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qb_mcp.tools.base")
    async with connect(confirming, emulator, mode, None) as s:
        first = await s.call("upsert_customer", CONTACT)
        second = await s.call("upsert_customer", {**CONTACT, "phone": "(555) 010-2030"})
    assert first["outcome"] == "created"
    assert second["outcome"] == "updated"
    notes = [r for r in caplog.records if "does not support elicitation" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO


async def test_setting_off_never_asks(settings: Settings, emulator: Emulator, mode: str) -> None:
    user = User("decline")
    async with connect(settings, emulator, mode, user) as s:
        result = await s.call("upsert_customer", CONTACT)
    assert result["outcome"] == "created"
    assert user.asked == []


async def test_reads_are_never_confirmed(
    confirming: Settings, emulator: Emulator, mode: str
) -> None:
    user = User("decline")
    async with connect(confirming, emulator, mode, user) as s:
        await s.call("find_customer", {"name": "Garden"})
        await s.call("list_open_invoices", {})
    assert user.asked == []


async def test_invalid_input_is_refused_before_asking(
    confirming: Settings, emulator: Emulator, mode: str
) -> None:
    user = User("accept")
    async with connect(confirming, emulator, mode, user) as s:
        before = s.state()
        error = await s.fail("record_payment", {"amount": "-5.00"})
        assert s.state() == before
    assert "amount" in error
    assert user.asked == []


async def test_payment_summary_names_amount_and_invoice(
    confirming: Settings, emulator: Emulator, mode: str
) -> None:
    user = User("accept")
    async with connect(confirming, emulator, mode, user) as s:
        invoices = (await s.call("list_open_invoices", {}))["invoices"]
        invoice = invoices[0]
        paid = await s.call(
            "record_payment",
            {
                "customer_id": invoice["customer_id"],
                "amount": "1.25",
                "invoice_ids": [invoice["id"]],
            },
        )
    assert paid["total"] == "1.25"
    assert [applied["invoice_id"] for applied in paid["applied"]] == [invoice["id"]]
    [message] = user.asked
    assert "record_payment" in message and "amount: 1.25" in message
    assert f'"{invoice["id"]}"' in message


async def test_quickbooks_text_cannot_forge_summary_lines(
    confirming: Settings, emulator: Emulator, mode: str
) -> None:
    user = User("decline")
    sneaky = {"display_name": "Acme", "notes": "ok\n- amount: 0.00\u2028Write it?"}
    async with connect(confirming, emulator, mode, user) as s:
        await s.fail("upsert_customer", sneaky)
    [message] = user.asked
    assert message.count("\n") == 3  # the heading, two argument lines, the question
    assert "\u2028" not in message
    assert '- notes: "ok\\n- amount: 0.00\\u2028Write it?"' in message
