"""One `companyinfo` read, for the login flow (the company's name) and `doctor` (a live check).

A direct httpx2 call rather than `QBOClient`: auth sits beside the client, not above it, and a
single read needs none of the pipeline's limiter, ledger or retries. Faults are still mapped by the
one mapping in `qbo/faults.py`, and a 401 gets one refresh through the token source.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from qb_mcp.errors import AuthenticationError, QBOError, TransportError
from qb_mcp.qbo.faults import error_from_response
from qb_mcp.qbo.token_source import TokenSource

MINOR_VERSION = "75"
TIMEOUT_SECONDS = 15.0


async def fetch_company_info(
    *,
    base_url: str,
    realm_id: str,
    tokens: TokenSource,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """`GET /v3/company/{realm}/companyinfo/{realm}`: the `CompanyInfo` object."""
    url = f"{base_url.rstrip('/')}/v3/company/{realm_id}/companyinfo/{realm_id}"
    async with httpx2.AsyncClient(transport=transport, timeout=TIMEOUT_SECONDS) as http:
        token = await tokens.access_token(realm_id)
        for attempt in range(2):
            try:
                response = await http.get(
                    url,
                    params={"minorversion": MINOR_VERSION},
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )
            except httpx2.HTTPError as exc:
                raise TransportError(
                    f"could not reach QuickBooks at {base_url} ({type(exc).__name__})"
                ) from None
            error = error_from_response(response.status_code, response.headers, response.content)
            if isinstance(error, AuthenticationError) and attempt == 0:
                token = await tokens.refresh_after_rejection(realm_id, token)
                continue
            if error is not None:
                raise error
            return _company_info(response.content)
    raise AssertionError("unreachable")  # pragma: no cover


def _company_info(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    info = body.get("CompanyInfo") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        raise QBOError("QuickBooks answered companyinfo without a CompanyInfo object")
    return info


def company_name(info: dict[str, Any]) -> str | None:
    """The name to show for a company: CompanyName, else LegalName."""
    for key in ("CompanyName", "LegalName"):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
