"""The emulator's faults, rendered in the exact shapes real QuickBooks Online sends.

This module belongs to the emulator alone: the client has its own fault mapping
(`qb_mcp.qbo.faults`) and the two must never share code, or a bug in one would be agreed with by
the other and every test would pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

# QuickBooks stamps answers in the company's time zone.
from qb_mcp.emulator.pacific import PACIFIC

FaultShape = Literal["standard", "gateway", "xml"]


@dataclass(frozen=True, slots=True)
class ErrorItem:
    code: str
    message: str
    detail: str = ""
    element: str = ""


@dataclass(slots=True)
class QBOFault(Exception):
    """Raised anywhere inside the emulator; the app turns it into the HTTP answer."""

    errors: Sequence[ErrorItem]
    status: int = 400
    fault_type: str = "ValidationFault"
    shape: FaultShape = "standard"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def one(
        cls,
        code: str | int,
        message: str,
        detail: str = "",
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> QBOFault:
        return cls(
            errors=[ErrorItem(str(code), message, detail, element)],
            status=status,
            fault_type=fault_type,
        )

    def as_json_fault(self) -> dict[str, object]:
        """The `Fault` object of a standard answer or of a `BatchItemResponse` item."""
        return {
            "Error": [
                {"Message": e.message, "Detail": e.detail, "code": e.code, "element": e.element}
                for e in self.errors
            ],
            "type": self.fault_type,
        }


def qbo_time(now: datetime) -> str:
    """`2015-07-24T10:33:39.11-07:00`: the `time` QuickBooks puts on every answer."""
    return now.astimezone(PACIFIC).isoformat(timespec="milliseconds")


def render(fault: QBOFault, now: datetime) -> tuple[int, str, bytes]:
    """(status, content type, body) for a fault, in the fault's own wire shape."""
    if fault.shape == "gateway":
        body = {
            "fault": {
                "error": [
                    {"message": e.message, "detail": e.detail, "code": e.code} for e in fault.errors
                ],
                "type": fault.fault_type,
            },
            # The gateway stamps epoch milliseconds, unlike the API's ISO time.
            "time": int(now.astimezone(UTC).timestamp() * 1000),
        }
        return fault.status, "application/json", json.dumps(body).encode()
    if fault.shape == "xml":
        errors = "".join(
            f"<Error code={quoteattr(e.code)}"
            + (f" element={quoteattr(e.element)}" if e.element else "")
            + f"><Message>{escape(e.message)}</Message><Detail>{escape(e.detail)}</Detail></Error>"
            for e in fault.errors
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{qbo_time(now)}">'
            f"<Fault type={quoteattr(fault.fault_type)}>{errors}</Fault></IntuitResponse>"
        )
        return fault.status, "application/xml", xml.encode()
    body = {"Fault": fault.as_json_fault(), "time": qbo_time(now)}
    return fault.status, "application/json", json.dumps(body).encode()


def throttled() -> QBOFault:
    """HTTP 429 with the XML body QuickBooks sends even when JSON was asked for."""
    return QBOFault(
        errors=[
            ErrorItem(
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "The request limit was reached.",
            )
        ],
        status=429,
        fault_type="SERVICE",
        shape="xml",
    )


def authentication_failed(detail: str = "Token expired") -> QBOFault:
    """HTTP 401 from Intuit's gateway, in its lower-case JSON shape."""
    return QBOFault(
        errors=[
            ErrorItem(
                "3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail
            )
        ],
        status=401,
        fault_type="AUTHENTICATION",
        shape="gateway",
    )


def unsupported_operation(detail: str) -> QBOFault:
    return QBOFault.one("500", "Unsupported Operation", detail, fault_type="ValidationFault")


def server_error() -> QBOFault:
    return QBOFault.one(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred",
        status=500,
        fault_type="SystemFault",
    )
