"""Reading untrusted JSON values the way QuickBooks' deserialiser does, and the faults it gives.

QuickBooks parses request bodies with Jackson: numbers are accepted where strings go (and the
reverse for numeric strings), while an object where a scalar goes, an unknown property or a
malformed number is fault 2010 "Request has invalid or unsupported property" (seen on the wire,
e.g. intuit/QuickBooks-V3-DotNET-SDK#376, mcohen01/node-quickbooks#39). Every helper here either
returns a clean value or raises `QBOFault`; nothing else escapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from qb_mcp.emulator.faults import QBOFault

CENT = Decimal("0.01")
# QuickBooks caps amounts well below this; anything larger is a client bug, not money.
MAX_MAGNITUDE = Decimal("1e13")
MAX_DIGITS = 20
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def invalid_property(detail: str, element: str = "") -> QBOFault:
    """Fault 2010, QuickBooks' answer to a body its deserialiser cannot read."""
    return QBOFault.one(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{detail} specified is unsupported or invalid",
        element=element,
    )


def required(name: str) -> QBOFault:
    """Fault 2020 naming the missing field."""
    return QBOFault.one(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def business(detail: str, element: str = "") -> QBOFault:
    """Fault 6000, QuickBooks' catch-all business rule refusal; Detail says which rule."""
    return QBOFault.one(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def invalid_reference(name: str, value: str) -> QBOFault:
    """Fault 2500: a Ref pointing at a missing, deleted or inactive object."""
    return QBOFault.one(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"{name}={value}",
        element=name,
    )


def not_found(entity: str, entity_id: str) -> QBOFault:
    """Fault 610 for an Id that does not exist (or was deleted)."""
    return QBOFault.one(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"{entity} Id={entity_id}",
    )


def too_long(element: str, limit: int, length: int) -> QBOFault:
    """Fault 2050 with `element` naming the field."""
    return QBOFault.one(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. "
        f"Min:0 Max:{limit} supplied length:{length}",
        element=element,
    )


def invalid_enum(element: str, value: str) -> QBOFault:
    """Fault 2170 for a value outside an enumeration."""
    return QBOFault.one(
        "2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element=element
    )


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, str):
        return "VALUE_STRING"
    return "VALUE_NUMBER"


def text(value: Any, element: str, limit: int | None = None) -> str:
    """A string field; numbers and booleans are coerced like Jackson does."""
    if isinstance(value, bool):
        result = "true" if value else "false"
    elif isinstance(value, str):
        result = value
    elif isinstance(value, int | Decimal | float):
        result = str(value)
    else:
        raise invalid_property(
            f"Can not deserialize instance of java.lang.String out of {_kind(value)} token",
            element,
        )
    if "\x00" in result:
        raise invalid_property(f"Illegal character in {element}", element)
    if limit is not None and len(result) > limit:
        raise too_long(element, limit, len(result))
    return result


def boolean(value: Any, element: str) -> bool:
    """A boolean field; Jackson also takes the strings "true" and "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_property(
        f"Can not deserialize value of type boolean from {_kind(value)} {_show(value)}", element
    )


def number(value: Any, element: str) -> Decimal:
    """A finite decimal number (numeric strings accepted, as Jackson does for BigDecimal)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise invalid_property(
            f"Can not deserialize instance of java.math.BigDecimal out of {_kind(value)} token",
            element,
        )
    try:
        result = Decimal(str(value).strip()) if isinstance(value, str | float) else Decimal(value)
    except (InvalidOperation, ValueError):
        result = Decimal("NaN")
    # Bounded magnitude and digits keep every later product and sum exact under Decimal's
    # default 28-digit precision, so money math never rounds or raises.
    if (
        not result.is_finite()
        or abs(result) >= MAX_MAGNITUDE
        or len(result.as_tuple().digits) > MAX_DIGITS
    ):
        raise invalid_property(
            f"Can not construct instance of java.math.BigDecimal from String value "
            f"{_show(value)}: not a valid representation",
            element,
        )
    return result


def money(value: Any, element: str) -> Decimal:
    """An amount, rounded half-up to cents (QuickBooks keeps USD amounts to 2 decimals)."""
    return cents(number(value, element))


def cents(value: Decimal) -> Decimal:
    """`value` quantised to cents, half-up (DESIGN.md invariant 1)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def day(value: Any, element: str) -> str:
    """A `YYYY-MM-DD` date."""
    raw = text(value, element)
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        date.fromisoformat(raw)
    except ValueError:
        raise invalid_property(
            f"Can not construct instance of java.util.Date from String value {_show(raw)}",
            element,
        ) from None
    return raw


def obj(value: Any, element: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, Mapping):
        raise invalid_property(
            f"Can not deserialize instance of {element} out of {_kind(value)} token", element
        )
    return value


def array(value: Any, element: str) -> list[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise invalid_property(
            f"Can not deserialize instance of java.util.ArrayList out of {_kind(value)} token",
            element,
        )
    return value


def only_known(body: Mapping[str, Any], known: frozenset[str], type_name: str) -> None:
    """Refuse properties QuickBooks does not know, as its deserialiser does (2010)."""
    for key in body:
        if not isinstance(key, str) or key not in known:
            raise invalid_property(
                f'Unrecognized field "{str(key)[:100]}" (class com.intuit.schema.finance.v3.'
                f"{type_name}), not marked as ignorable",
                str(key)[:100],
            )


def ref(value: Any, element: str) -> dict[str, str]:
    """A ReferenceType `{"value": ..., "name": ...}`; the value is required."""
    body = obj(value, element)
    only_known(body, frozenset({"value", "name", "type"}), "ReferenceType")
    if body.get("value") is None:
        raise required(f"{element}.value")
    out = {"value": text(body["value"], f"{element}.value", 100)}
    if body.get("name") is not None:
        out["name"] = text(body["name"], f"{element}.name", 500)
    return out


def _show(value: Any) -> str:
    shown = repr(value) if not isinstance(value, str) else f"'{value}'"
    return shown[:60]
