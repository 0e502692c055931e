from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.idempotency import (
    check_key,
    derive_key,
    generation_key,
    normalise,
    request_hash,
)

REALM = "9341453050298"


def test_derived_key_is_stable_and_uuid_shaped() -> None:
    body = {"DisplayName": "Ada", "Balance": Decimal("10.50")}
    key = derive_key(REALM, "create", "Customer", body)
    assert key == derive_key(REALM, "create", "Customer", dict(body))
    assert len(key) == 36 and key.count("-") == 4


def test_key_order_and_number_spelling_do_not_change_the_key() -> None:
    one = {"A": Decimal("100.00"), "B": [1, {"y": 2, "x": "s"}]}
    two = {"B": [Decimal(1), {"x": "s", "y": Decimal("2.0")}], "A": 100}
    assert derive_key(REALM, "create", "Invoice", one) == derive_key(
        REALM, "create", "Invoice", two
    )


@pytest.mark.parametrize(
    ("realm", "operation", "entity", "body"),
    [
        ("123", "create", "Customer", {"DisplayName": "Ada"}),
        (REALM, "update", "Customer", {"DisplayName": "Ada"}),
        (REALM, "create", "Vendor", {"DisplayName": "Ada"}),
        (REALM, "create", "Customer", {"DisplayName": "ada"}),
        (REALM, "create", "Customer", {"DisplayName": "Ada", "Notes": None}),
    ],
)
def test_anything_different_gives_another_key(
    realm: str, operation: str, entity: str, body: dict[str, object]
) -> None:
    base = derive_key(REALM, "create", "Customer", {"DisplayName": "Ada"})
    assert derive_key(realm, operation, entity, body) != base


def test_list_order_matters() -> None:
    assert normalise([1, 2]) != normalise([2, 1])


def test_strings_that_look_alike_stay_apart() -> None:
    assert normalise({"a": 'x","b":"y'}) != normalise({"a": "x", "b": "y"})
    assert normalise("1") != normalise(1)
    assert normalise(True) != normalise(1)


def test_floats_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="float"):
        request_hash(REALM, "create", "Invoice", {"Amount": 10.5})


def test_generations_give_fresh_uuid_keys() -> None:
    assert generation_key("my-key", 0) == "my-key"
    first, second = generation_key("my-key", 1), generation_key("my-key", 2)
    assert len({first, second, "my-key"}) == 3
    assert len(first) == 36


@pytest.mark.parametrize("key", ["", "   ", "x" * 37, "has space", "-leading", "semi;colon"])
def test_bad_caller_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidArgumentError, match="idempotency_key"):
        check_key(key)


def test_good_caller_keys_pass() -> None:
    assert check_key("order-1234:payment.1") == "order-1234:payment.1"
    assert check_key("a" * 36) == "a" * 36


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_json_body_gives_a_36_character_key(body: object) -> None:
    key = derive_key(REALM, "create", "Customer", body)
    assert len(key) == 36
    assert key == derive_key(REALM, "create", "Customer", body)
