"""JSON on the wire with `Decimal` money: numbers in, numbers out, never a float in between.

The standard library can decode JSON numbers into `Decimal` (`parse_float`) but cannot write a
`Decimal` as a JSON number (only as a string, or via float, which loses cents). QuickBooks wants
money as numbers, so requests are written by the small encoder here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from qb_mcp.errors import InvalidArgumentError


def decode(content: bytes) -> Any:
    """Parse a JSON answer; fractional numbers become `Decimal`."""
    return json.loads(content, parse_float=Decimal)


def encode(value: Any) -> bytes:
    """Write `value` as compact JSON; `Decimal` becomes a JSON number with its exact digits.

    A float is refused (InvalidArgumentError): it has already lost the exact amount, and sending
    it would hide the bug instead of reporting it.
    """
    parts: list[str] = []
    _write(value, parts, "body")
    return "".join(parts).encode("utf-8")


def number_text(value: Decimal, where: str) -> str:
    """`Decimal` as a plain JSON number (`100.50`, never `1.005E+2`)."""
    if not value.is_finite():
        raise InvalidArgumentError(f"{where}: {value} is not a finite number")
    return format(value, "f")


def _write(value: Any, parts: list[str], where: str) -> None:
    # bool before int: bool is a subclass of int and must stay true/false.
    if value is None or isinstance(value, (bool, str)):
        parts.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, Decimal):
        parts.append(number_text(value, where))
    elif isinstance(value, float):
        raise InvalidArgumentError(
            f"{where}: {value!r} is a float; give money and quantities as Decimal or str"
        )
    elif isinstance(value, Mapping):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise InvalidArgumentError(f"{where}: object keys must be strings, got {key!r}")
            if index:
                parts.append(",")
            parts.append(json.dumps(key, ensure_ascii=False))
            parts.append(":")
            _write(item, parts, f"{where}.{key}")
        parts.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts, f"{where}[{index}]")
        parts.append("]")
    else:
        raise InvalidArgumentError(f"{where}: cannot send a {type(value).__name__} as JSON")
