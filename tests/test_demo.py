"""`qb-mcp demo`'s printed walkthrough: an empty search shows its empty list, and every amount
of money has two decimals."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from qb_mcp.config import Settings
from qb_mcp.demo import _trimmed, walkthrough

pytestmark = pytest.mark.anyio

MONEY = re.compile(
    r'"(amount|applied|balance|open_balance|remaining_balance|total|unapplied|unit_price)": '
    r'"(-?\d+(?:\.\d+)?)"'
)


async def test_the_walkthrough_prints_empty_matches_and_two_decimal_money(tmp_path: Path) -> None:
    out = io.StringIO()
    await walkthrough(Settings(home=tmp_path, environment="emulator"), out)
    text = out.getvalue()
    assert '"matches": []' in text  # the first search finds nobody
    # The breadth the walkthrough shows: a correction, a sent invoice, its PDF, aged receivables.
    for tool in ("void_transaction", "send_invoice", "get_invoice_pdf", "report"):
        assert f"-> {tool} " in text, tool
    assert '"email_status": "EmailSent"' in text
    amounts = [value for _, value in MONEY.findall(text)]
    assert amounts
    assert [a for a in amounts if "." not in a or len(a.split(".")[1]) < 2] == []


def test_money_keeps_further_decimals_of_a_unit_price() -> None:
    assert _trimmed({"unit_price": "0.125", "total": "75", "note": ""}) == {
        "unit_price": "0.125",
        "total": "75.00",
    }
