"""The client's JSON writer: stdlib output for plain data, exact Decimals, refusals that name the
field (the writer builds the field's path only when it refuses)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo import wire
from qb_mcp.qbo.client import prepare_body

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(plain)
def test_plain_data_is_written_as_the_standard_library_writes_it(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert wire.encode(value) == expected.encode()


def test_decimals_keep_their_digits() -> None:
    body = {"Amount": Decimal("100.50"), "Qty": Decimal("1E+2")}
    assert wire.encode(body) == b'{"Amount":100.50,"Qty":100}'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Line": [{"Amount": 0.5}]}, r"body\.Line\[0\]\.Amount: 0\.5 is a float"),
        ({"Line": [{}, {"Qty": Decimal("NaN")}]}, r"body\.Line\[1\]\.Qty: NaN is not a finite"),
        ({"Memo": b"x"}, r"body\.Memo: cannot send a bytes"),
        ({"Ref": {1: "x"}}, r"body\.Ref: object keys must be strings"),
        ({"When": object()}, r"body\.When: cannot send a object"),
    ],
)
def test_refusals_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        wire.encode(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Balance": 1.5}, r"item\.Balance: 1\.5 is a float"),
        ({"Line": [{"Memo": {"x": b"y"}}]}, r"item\.Line\[0\]\.Memo\.x: cannot send a bytes"),
        ({"Ref": {2: "x"}}, r"item\.Ref: object keys must be strings"),
    ],
)
def test_prepare_body_refuses_what_the_writer_cannot_send(
    body: dict[str, Any], message: str
) -> None:
    # prepare_body no longer encodes each body to find these: its one walk must refuse them.
    with pytest.raises(InvalidArgumentError, match=message):
        prepare_body(body, what="item")
