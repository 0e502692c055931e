"""Forwarding QuickBooks' events to the CRM: `QBO_EVENTS_FORWARD_URL`.

Each delivery is signed as Intuit signs its own (`signature.sign`: base64 HMAC-SHA256 of the raw
body), with `QBO_EVENTS_FORWARD_SECRET` as the key, in the `X-QB-MCP-Signature` header.
"""

from __future__ import annotations

from qb_mcp.webhooks import signature

SIGNATURE_HEADER = "X-QB-MCP-Signature"
EVENT_ID_HEADER = "X-QB-MCP-Event-Id"


def verify_event_signature(body: bytes, signature_header: str | None, secret: str) -> bool:
    """For the CRM's receiving view: True when `signature_header` (X-QB-MCP-Signature) signs
    exactly these raw bytes with `secret` (QBO_EVENTS_FORWARD_SECRET); constant time."""
    return signature.verify(body, signature_header, secret)
