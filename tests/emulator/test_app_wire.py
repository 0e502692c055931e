"""The emulator's JSON: Decimals out as numbers with their digits, bodies in as Decimals."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.wire import dumps, parse_object


def test_decimals_are_written_as_numbers_with_their_own_digits() -> None:
    body = dumps({"TotalAmt": Decimal("100.00"), "Qty": Decimal("3"), "Rate": Decimal("0.1")})
    assert body == b'{"TotalAmt":100.00,"Qty":3,"Rate":0.1}'


def test_large_amounts_are_not_rounded_through_float() -> None:
    body = dumps({"Amount": Decimal("12345678901234.57")})
    assert json.loads(body, parse_float=Decimal)["Amount"] == Decimal("12345678901234.57")


def test_plain_values_keep_json_meaning() -> None:
    value = {"a": [True, False, None, 1, 2.5, 'x"y', "Ünïcødé"], "b": {}}
    assert json.loads(dumps(value)) == value


def test_non_finite_decimals_are_refused() -> None:
    with pytest.raises(ValueError):
        dumps({"Amount": Decimal("NaN")})


def test_bodies_are_parsed_with_decimal_money() -> None:
    assert parse_object(b'{"Amount": 100.10}') == {"Amount": Decimal("100.10")}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe", b'{"Amount": NaN}', b"[" * 100_000],
)
def test_unreadable_bodies_get_fault_2010(body: bytes) -> None:
    with pytest.raises(QBOFault) as caught:
        parse_object(body)
    assert caught.value.status == 400
    assert caught.value.errors[0].code == "2010"
