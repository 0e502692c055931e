"""Money math: Decimal only, half-up to cents, and every bad amount refused with its field name."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.money import (
    MAX_AMOUNT,
    line_amount,
    parse_amount,
    parse_quantity,
    to_cents,
)


def test_to_cents_rounds_half_up_away_from_zero() -> None:
    assert to_cents(Decimal("2.675")) == Decimal("2.68")
    assert to_cents(Decimal("2.665")) == Decimal("2.67")
    assert to_cents(Decimal("-2.675")) == Decimal("-2.68")
    assert to_cents(Decimal("0.004")) == Decimal("0.00")


def test_to_cents_always_has_two_places() -> None:
    assert str(to_cents(Decimal("5"))) == "5.00"


def test_to_cents_refuses_float() -> None:
    with pytest.raises(InvalidArgumentError, match="Decimal"):
        to_cents(2.675)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", Decimal("12.50")),
        (" 12.50 ", Decimal("12.50")),
        (7, Decimal("7.00")),
        (Decimal("0.10"), Decimal("0.10")),
        ("1.500", Decimal("1.50")),  # exact, only spelled long
        ("-0", Decimal("0.00")),
        (".5", Decimal("0.50")),
    ],
)
def test_parse_amount_accepts_exact_cents(value: object, expected: Decimal) -> None:
    result = parse_amount(value, field="Amount")
    assert result == expected
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0.1, "float"),
        (True, "boolean"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        ("NaN", "plain decimal"),
        ("inf", "plain decimal"),
        ("1e3", "plain decimal"),
        ("$10", "plain decimal"),
        ("1,000.00", "plain decimal"),
        ("", "plain decimal"),
        ("1" * 5000, "plain decimal"),
        ("12.345", "more than 2 decimal places"),
        (Decimal("0.001"), "more than 2 decimal places"),
        ("-5", "negative"),
        (10**40, "too large"),
        (Decimal("1E+40"), "too large"),
        ("100000000000.00", "too large"),
        (None, "NoneType"),
        ([1], "list"),
    ],
)
def test_parse_amount_refuses_bad_values_naming_the_field(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason) as info:
        parse_amount(value, field="TotalAmt")
    assert "TotalAmt" in str(info.value)


def test_parse_amount_allows_negative_when_asked() -> None:
    assert parse_amount("-5.25", field="Amount", allow_negative=True) == Decimal("-5.25")


def test_parse_amount_accepts_the_maximum() -> None:
    assert parse_amount(str(MAX_AMOUNT), field="Amount") == MAX_AMOUNT


def test_parse_quantity_keeps_more_places() -> None:
    assert parse_quantity("4.125", field="Qty") == Decimal("4.125")
    with pytest.raises(InvalidArgumentError, match="Qty"):
        parse_quantity("0.123456789", field="Qty")


def test_line_amount_is_qty_times_price_rounded_half_up() -> None:
    assert line_amount(Decimal("4.5"), Decimal("75")) == Decimal("337.50")
    assert line_amount(Decimal("3"), Decimal("0.335")) == Decimal("1.01")  # 1.005 -> 1.01
    assert line_amount(Decimal("1"), Decimal("2.675")) == Decimal("2.68")


def test_line_amount_refuses_float_and_absurd_results() -> None:
    with pytest.raises(InvalidArgumentError):
        line_amount(1.5, Decimal("2"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="maximum"):
        line_amount(Decimal("1E+20"), Decimal("1E+20"))


def _reference_half_up(exact: Fraction) -> Fraction:
    """Round to cents half away from zero with plain integer arithmetic (independent of Decimal)."""
    cents = exact * 100
    sign = -1 if cents < 0 else 1
    whole, rest = divmod(abs(cents), 1)
    rounded = whole + (1 if rest >= Fraction(1, 2) else 0)
    return Fraction(sign * int(rounded), 100)


decimals = st.decimals(
    min_value=Decimal("-1000000"),
    max_value=Decimal("1000000"),
    places=7,
    allow_nan=False,
    allow_infinity=False,
)


@given(decimals)
def test_to_cents_matches_reference_and_is_close(value: Decimal) -> None:
    rounded = to_cents(value)
    assert rounded.as_tuple().exponent == -2
    assert Fraction(rounded) == _reference_half_up(Fraction(value))
    assert abs(rounded - value) <= Decimal("0.005")
    assert to_cents(rounded) == rounded


@given(
    st.decimals(min_value=0, max_value=100000, places=5, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=100000, places=5, allow_nan=False, allow_infinity=False),
)
def test_line_amount_matches_exact_product_rounded(qty: Decimal, price: Decimal) -> None:
    amount = line_amount(qty, price)
    assert Fraction(amount) == _reference_half_up(Fraction(qty) * Fraction(price))
    assert amount.as_tuple().exponent == -2


@given(st.decimals(min_value=0, max_value=MAX_AMOUNT, places=2))
def test_parse_amount_round_trips_any_cent_value(value: Decimal) -> None:
    assert parse_amount(str(value), field="Amount") == value
    assert parse_amount(value, field="Amount") == value


@given(st.text(max_size=30))
def test_parse_amount_gives_a_value_or_a_clear_error(text: str) -> None:
    try:
        result = parse_amount(text, field="Amount")
    except InvalidArgumentError as exc:
        assert "Amount" in str(exc)
    else:
        assert result.is_finite() and result >= 0
        assert result.as_tuple().exponent == -2
