"""Input that looks harmless but is not, refused with a clear error before anything is sent:
invisible or reordering characters in names and one-line fields, amounts in non-ASCII digits,
and dates QuickBooks does not take. Through `mcp.Client` in both eras; nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import connect

pytestmark = pytest.mark.anyio

HIDDEN = {
    "\u202a": "U+202A",  # left-to-right embedding
    "\u202e": "U+202E",  # right-to-left override
    "\u2066": "U+2066",  # left-to-right isolate
    "\u2069": "U+2069",  # pop directional isolate
    "\u2028": "U+2028",  # line separator
    "\u2029": "U+2029",  # paragraph separator
    "\ufffd": "U+FFFD",  # what invalid UTF-8 becomes
}
LINES = [{"item_id": "1", "unit_price": "5"}]
# (tool, arguments with TEXT where the character goes, the parameter the error names)
ONE_LINE_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("upsert_customer", {"display_name": "TEXT"}, "display_name"),
    ("upsert_customer", {"given_name": "TEXT", "family_name": "Diaz"}, "given_name"),
    ("upsert_customer", {"company_name": "TEXT"}, "company_name"),
    ("upsert_customer", {"display_name": "Rosa", "email": "TEXT"}, "email"),
    ("upsert_customer", {"display_name": "Rosa", "billing_address": {"city": "TEXT"}}, "city"),
    ("upsert_customers", {"contacts": [{"display_name": "TEXT"}]}, "display_name"),
    ("create_estimate", {"customer_name": "TEXT", "lines": LINES}, "customer_name"),
    ("create_estimate", {"customer_id": "1", "doc_number": "TEXT", "lines": LINES}, "doc_number"),
    ("create_estimate", {"customer_id": "1", "lines": [{"item_name": "TEXT"}]}, "item_name"),
    ("record_payment", {"customer_id": "1", "amount": "1.00", "reference": "TEXT"}, "reference"),
    ("record_payment", {"customer_id": "1", "amount": "1.00", "method": "TEXT"}, "method"),
    ("record_payment", {"customer_name": "TEXT", "amount": "1.00"}, "customer_name"),
    ("find_customer", {"name": "TEXT"}, "name"),
]


def with_text(value: Any, text: str) -> Any:
    """`value` with every "TEXT" in it replaced by `text`."""
    if isinstance(value, dict):
        return {k: with_text(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [with_text(v, text) for v in value]
    return text if value == "TEXT" else value


async def refused(
    settings: Settings, emulator: Emulator, mode: str, tool: str, arguments: dict[str, Any]
) -> str:
    """The error text of a call that must fail and write nothing."""
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        message = await s.fail(tool, arguments)
        assert s.state() == before, f"{tool} wrote despite refusing: {arguments!r}"
    assert message.startswith(f"Error executing tool {tool}: "), message
    assert "Fix:" in message, message
    return message


@pytest.mark.parametrize(("tool", "arguments", "field"), ONE_LINE_FIELDS)
async def test_hidden_characters_in_names_and_one_line_fields_are_refused(
    settings: Settings,
    emulator: Emulator,
    mode: str,
    tool: str,
    arguments: dict[str, Any],
    field: str,
) -> None:
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        for char, code in HIDDEN.items():
            message = await s.fail(tool, with_text(arguments, f"Acme{char}Corp"))
            assert field in message and code in message, message
            assert "Fix:" in message, message
        assert s.state() == before, f"{tool} wrote despite refusing"


async def test_a_memo_may_still_hold_any_text(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    # Free text that spans lines is not a name: a right-to-left phrase is legitimate there.
    memo = "Thanks \u2067\u05e9\u05dc\u05d5\u05dd\u2069 see you"
    async with connect(settings, emulator, mode) as s:
        estimate = await s.call(
            "create_estimate", {"customer_id": "1", "lines": LINES, "memo": memo}
        )
    assert estimate["memo"] == memo


@pytest.mark.parametrize(
    "amount",
    [
        "\uff11\uff10\uff10",  # full-width 100
        "\uff11\uff10\uff10.\uff10\uff10",
        "\u0661\u0660\u0660",  # Arabic-Indic 100
        "\u06f1\u06f0\u06f0.00",  # Extended Arabic-Indic
        "\u0967\u0966\u0966",  # Devanagari
        "1\u0660\u0660.00",  # mixed
    ],
)
async def test_amounts_in_non_ascii_digits_are_refused(
    settings: Settings, emulator: Emulator, mode: str, amount: str
) -> None:
    message = await refused(
        settings, emulator, mode, "record_payment", {"customer_id": "1", "amount": amount}
    )
    assert "amount" in message


@pytest.mark.parametrize("field", ["quantity", "unit_price"])
async def test_quantities_and_prices_in_non_ascii_digits_are_refused(
    settings: Settings, emulator: Emulator, mode: str, field: str
) -> None:
    line = {"item_id": "1", "quantity": "1", "unit_price": "5", field: "\uff15"}
    message = await refused(
        settings, emulator, mode, "create_estimate", {"customer_id": "1", "lines": [line]}
    )
    assert field in message


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        (
            "create_estimate",
            {"customer_id": "1", "lines": LINES, "txn_date": "0001-01-01"},
            "txn_date",
        ),
        (
            "create_estimate",
            {"customer_id": "1", "lines": LINES, "txn_date": "9999-12-31"},
            "txn_date",
        ),
        (
            "create_estimate",
            {"customer_id": "1", "lines": LINES, "expiration_date": "9999-12-31"},
            "expiration_date",
        ),
        (
            "record_payment",
            {"customer_id": "1", "amount": "1.00", "txn_date": "0001-01-01"},
            "txn_date",
        ),
        (
            "record_payment",
            {"customer_id": "1", "amount": "1.00", "txn_date": "1899-12-31"},
            "txn_date",
        ),
        ("convert_estimate", {"estimate_id": "1", "txn_date": "9999-12-31"}, "txn_date"),
        ("convert_estimate", {"estimate_id": "1", "txn_date": "0001-01-01"}, "txn_date"),
        ("convert_estimate", {"estimate_id": "1", "due_date": "9999-12-31"}, "due_date"),
        ("convert_estimate", {"estimate_id": "1", "txn_date": "2100-01-01"}, "txn_date"),
        ("recent_changes", {"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ("recent_changes", {"since": "9999-12-31T23:59:59-05:00", "catch_up": True}, "since"),
    ],
)
async def test_dates_quickbooks_does_not_take_are_refused_before_anything_is_sent(
    settings: Settings,
    emulator: Emulator,
    mode: str,
    tool: str,
    arguments: dict[str, Any],
    field: str,
) -> None:
    message = await refused(settings, emulator, mode, tool, arguments)
    assert field in message
    assert "1900-01-01 to 2099-12-31" in message, message
    assert "internal" not in message.casefold()


async def test_the_last_date_in_range_is_taken_with_a_due_date_in_range(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        estimate = await s.call("create_estimate", {"customer_id": "1", "lines": LINES})
        before = s.state()
        message = await s.fail(
            "convert_estimate", {"estimate_id": estimate["id"], "txn_date": "2099-12-31"}
        )
        assert "give due_date" in message
        assert s.state() == before
        converted = await s.call(
            "convert_estimate",
            {"estimate_id": estimate["id"], "txn_date": "2099-12-31", "due_date": "2099-12-31"},
        )
    assert converted["invoice"]["txn_date"] == "2099-12-31"
    assert converted["invoice"]["due_date"] == "2099-12-31"
