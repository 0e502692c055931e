"""Money math: the one place amounts are parsed, rounded and multiplied.

Every amount is a `Decimal`; a `float` is refused wherever money enters, because a binary float
cannot hold most cent values and a bookkeeper must never see 0.1 + 0.2 = 0.30000000000000004.
Rounding is ROUND_HALF_UP to cents, which is what QuickBooks Online does for USD line amounts.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from qb_mcp.errors import InvalidArgumentError

CENT = Decimal("0.01")

# QuickBooks' documented ceiling for prices and costs ("max 99999999999"); anything larger is a
# typo or an attack on our arithmetic, never a real invoice.
MAX_AMOUNT = Decimal("99999999999.99")

# Quantities and unit prices may carry more places than cents (QBO accepts e.g. 4.5 hours at
# 12.3456 a unit); the product is what gets rounded. Seven places is generous and still bounded.
MAX_PLACES = 7

# Long enough for any legal amount with spaces around it; refusing longer text early keeps a
# megabyte of digits out of Decimal.
_MAX_TEXT = 64
# ASCII digits only: `\d` also matches full-width and Arabic-Indic digits, which Decimal reads
# as the same numbers ("１００" is 100), so a lookalike would pass for an amount the caller did not
# visibly write.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

# Multiplying two bounded decimals needs up to ~40 significant digits; the default context has 28
# and would round silently before our own ROUND_HALF_UP, so products run in a wider one.
_WIDE_PRECISION = 80


def to_cents(value: Decimal) -> Decimal:
    """Round to cents, half away from zero (ROUND_HALF_UP), as QuickBooks does."""
    return _round_cents(_require_decimal(value, field="value"), field="value")


def parse_amount(value: object, *, field: str, allow_negative: bool = False) -> Decimal:
    """An amount from str/int/Decimal, exact to the cent; anything else is InvalidArgumentError."""
    return parse_decimal(value, field=field, places=2, allow_negative=allow_negative)


def parse_quantity(value: object, *, field: str, allow_negative: bool = False) -> Decimal:
    """A quantity (or unit price) with up to MAX_PLACES decimals, refused like parse_amount."""
    return parse_decimal(value, field=field, places=MAX_PLACES, allow_negative=allow_negative)


def parse_decimal(
    value: object, *, field: str, places: int, allow_negative: bool = False
) -> Decimal:
    """A finite Decimal with at most `places` decimals and at most MAX_AMOUNT in size.

    Trailing zeros beyond `places` are accepted ("1.500" is 1.50): the value is exact, only its
    spelling is long. The result is quantized to exactly `places` places for amounts (2) and left
    as written otherwise.
    """
    number = _coerce(value, field=field)
    if not number.is_finite():
        raise InvalidArgumentError(f"{field} must be a finite number, got {value!r}")
    if number.copy_abs() > MAX_AMOUNT:
        raise InvalidArgumentError(
            f"{field} is too large: {_show(number)} exceeds the QuickBooks maximum {MAX_AMOUNT}"
        )
    if number.is_signed() and number.is_zero():
        number = number.copy_abs()  # "-0" is zero, not a negative amount
    if number < 0 and not allow_negative:
        raise InvalidArgumentError(f"{field} must not be negative, got {_show(number)}")
    step = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        rounded = number.quantize(step, rounding=ROUND_HALF_UP)
    if rounded != number:
        raise InvalidArgumentError(
            f"{field} has more than {places} decimal places: {_show(number)}"
            + (" (amounts are in cents)" if places == 2 else "")
        )
    return rounded if places == 2 else number


def line_amount(qty: Decimal, unit_price: Decimal) -> Decimal:
    """Qty x UnitPrice rounded half-up to cents: the line Amount QuickBooks checks (fault 6070)."""
    q = _require_decimal(qty, field="qty")
    p = _require_decimal(unit_price, field="unit_price")
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        product = q * p
    amount = _round_cents(product, field="qty x unit_price")
    if amount.copy_abs() > MAX_AMOUNT:
        raise InvalidArgumentError(
            f"line amount {_show(amount)} exceeds the QuickBooks maximum {MAX_AMOUNT}"
        )
    return amount


def _coerce(value: object, *, field: str) -> Decimal:
    # bool is an int subclass; True as an amount of 1 is always a bug upstream.
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{field} must be a number, got a boolean ({value!r})")
    if isinstance(value, float):
        raise InvalidArgumentError(
            f"{field} must be given as a string or Decimal, not a float ({value!r}): "
            "floats cannot hold cents exactly"
        )
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_AMOUNT:
            raise InvalidArgumentError(
                f"{field} is too large: exceeds the QuickBooks maximum {MAX_AMOUNT}"
            )
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT or not _NUMBER.fullmatch(text):
            shown = value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "…"
            raise InvalidArgumentError(
                f"{field} must be a plain decimal number like 1234.50 "
                f"(no currency signs, thousands separators or exponents), got {shown!r}"
            )
        try:
            return Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees it
            raise InvalidArgumentError(f"{field} is not a number: {value!r}") from exc
    raise InvalidArgumentError(
        f"{field} must be a decimal number (str, int or Decimal), got {type(value).__name__}"
    )


def _require_decimal(value: object, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidArgumentError(
            f"{field} must be a Decimal (or int), got {type(value).__name__}"
        )
    number = Decimal(value)
    if not number.is_finite():
        raise InvalidArgumentError(f"{field} must be a finite number, got {value!r}")
    return number


def _round_cents(number: Decimal, *, field: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _WIDE_PRECISION
        try:
            return number.quantize(CENT, rounding=ROUND_HALF_UP)
        except InvalidOperation as exc:  # more digits than even the wide context holds
            raise InvalidArgumentError(f"{field} is too large to round to cents") from exc


def _show(number: Decimal) -> str:
    text = format(number, "f") if abs(number.adjusted()) < 40 else str(number)
    return text if len(text) <= 40 else text[:40] + "…"
