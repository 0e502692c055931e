"""JSON on the wire with `Decimal` money: numbers in, numbers out, never a float in between.

The standard library can decode JSON numbers into `Decimal` (`parse_float`) but cannot write a
`Decimal` as a JSON number (only as a string, or via float, which loses cents). QuickBooks wants
money as numbers, so requests are written by the small encoder here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
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
    _write(value, parts, ("body",))
    return "".join(parts).encode("utf-8")


def number_text(value: Decimal, where: str) -> str:
    """`Decimal` as a plain JSON number (`100.50`, never `1.005E+2`)."""
    if not value.is_finite():
        raise InvalidArgumentError(f"{where}: {value} is not a finite number")
    return format(value, "f")


def check_scalar(value: Any, where: str) -> None:
    """Refuse what `encode` cannot send (a float, a non-JSON type); `where` names the field."""
    if isinstance(value, float):
        raise InvalidArgumentError(
            f"{where}: {value!r} is a float; give money and quantities as Decimal or str"
        )
    json_like = value is None or isinstance(value, (str, int, Decimal, Mapping, Sequence))
    if not json_like or isinstance(value, (bytes, bytearray)):
        raise InvalidArgumentError(f"{where}: cannot send a {type(value).__name__} as JSON")


# What `json.dumps(text, ensure_ascii=False)` writes, without building an encoder per string
# (that cost most of a 5,000-customer sync's client time).
_string = encode_basestring


def _where(path: tuple[Any, ...]) -> str:
    # Built only for an error message: a path is (parent path, key) pairs, nested.
    if len(path) == 1:
        return str(path[0])
    parent, key = path
    inner = _where(parent)
    return f"{inner}[{key}]" if isinstance(key, int) else f"{inner}.{key}"


def _write(value: Any, parts: list[str], path: tuple[Any, ...]) -> None:
    # bool before int: bool is a subclass of int and must stay true/false.
    if isinstance(value, str):
        parts.append(_string(value))
    elif value is None:
        parts.append("null")
    elif value is True or value is False:
        parts.append("true" if value else "false")
    elif isinstance(value, Decimal):
        parts.append(format(value, "f") if value.is_finite() else number_text(value, _where(path)))
    elif isinstance(value, int):
        parts.append(str(int(value)))
    elif isinstance(value, Mapping):
        parts.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgumentError(
                    f"{_where(path)}: object keys must be strings, got {key!r}"
                )
            if not first:
                parts.append(",")
            first = False
            parts.append(_string(key))
            parts.append(":")
            _write(item, parts, (path, key))
        parts.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts, (path, index))
        parts.append("]")
    else:
        check_scalar(value, _where(path))
        raise AssertionError("unreachable")  # pragma: no cover
