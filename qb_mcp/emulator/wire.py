"""JSON in and out of the emulator: money stays `Decimal` from the request to the answer.

Incoming bodies are parsed with `parse_float=Decimal`; the writer emits a `Decimal` as a JSON
number with its own digits (`100.00` stays `100.00`): never a string, never rounded through float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from qb_mcp.emulator.faults import QBOFault

# The C writer `JSONEncoder(ensure_ascii=False).encode` ends in for a str, called directly: the
# encoder's Python wrapper around it was a third of a large batch answer's time.
_encode_string = encode_basestring


def dumps(value: Any) -> bytes:
    """UTF-8 JSON for plain data holding Decimals (and datetimes, as ISO text)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    # Checked in this order because bool is an int and Decimal is not a float; strings first,
    # as most of any answer.
    if type(value) is str:
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as a JSON number")
        out.append(str(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))
    elif type(value) is dict or isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, datetime | date):
        out.append(_encode_string(value.isoformat()))
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def invalid_body(detail: str) -> QBOFault:
    """QBO's answer to a body it cannot read: 400, code 2010, as Intuit words it."""
    return QBOFault.one(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{detail}; a property specified is unsupported or invalid",
    )


def parse_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object with Decimal numbers, or the 2010 fault."""
    try:
        value = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_body("failed to parse json object") from None
    if not isinstance(value, dict):
        raise invalid_body("failed to parse json object: the body must be a JSON object")
    return value


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not a JSON number")
