"""The HTTP side of Intuit OAuth 2.0: authorize URL, token grants, revocation (QBO_API.md §9).

No token, code or client secret ever reaches an exception message or a log line from here: errors
carry Intuit's `error` code and our own sentence only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2

from qb_mcp.config import OAuthEndpoints
from qb_mcp.errors import OAuthError, TransportError
from qb_mcp.qbo.faults import error_from_oauth_response

log = logging.getLogger(__name__)

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
# Token calls are made while the store's write lock is held (see manager.py), so they must give up
# well before another process waiting on that lock does (store.db.BUSY_TIMEOUT_MS is 30 s).
TOKEN_TIMEOUT_SECONDS = 10.0
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token endpoint answer. Lifetimes are seconds from when it was received."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float
    refresh_expires_in: float
    hard_expires_in: float | None = None


class IntuitOAuth:
    """Calls Intuit's (or the emulator's) OAuth endpoints with one app's client credentials."""

    def __init__(
        self,
        *,
        endpoints: OAuthEndpoints,
        client_id: str,
        client_secret: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = TOKEN_TIMEOUT_SECONDS,
    ) -> None:
        self.endpoints = endpoints
        self.client_id = client_id
        self._auth = httpx2.BasicAuth(client_id, client_secret)
        self._timeout = timeout
        self._http = httpx2.AsyncClient(transport=transport, timeout=timeout)

    def __repr__(self) -> str:
        return f"IntuitOAuth(token={self.endpoints.token!r}, client_id={self.client_id!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> IntuitOAuth:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def authorize_url(self, *, redirect_uri: str, state: str, scope: str = ACCOUNTING_SCOPE) -> str:
        """Where to send the user's browser to consent."""
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "scope": scope,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self.endpoints.authorize}?{query}"

    async def exchange_code(self, code: str, *, redirect_uri: str) -> TokenGrant:
        """The authorization_code grant. Call once per code: a second exchange revokes the grant."""
        return await self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """The refresh_token grant. The answer's refresh token may be new: persist it first."""
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def revoke(self, token: str) -> None:
        """Revoke the grant behind `token` (revoking the refresh token disconnects the company)."""
        try:
            response = await self._http.post(
                self.endpoints.revoke,
                json={"token": token},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise TransportError(
                f"could not reach Intuit's revoke endpoint ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise _refusal(response)

    async def _token_request(self, form: dict[str, str]) -> TokenGrant:
        try:
            # httpx2's timeout bounds each phase (connect, write, read); this bounds the whole
            # call, which runs under the store's write lock (see manager.py).
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(
                    self.endpoints.token,
                    data=form,
                    auth=self._auth,
                    headers={"Accept": "application/json", HARD_EXPIRY_HEADER: "true"},
                )
        except TimeoutError:
            raise TransportError(
                f"Intuit's token endpoint did not answer within {self._timeout:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise TransportError(
                f"could not reach Intuit's token endpoint ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise _refusal(response)
        return parse_grant(response.content)


def parse_grant(content: bytes) -> TokenGrant:
    """A token endpoint's 200 body; a malformed one is an `OAuthError`, never a KeyError."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise OAuthError("Intuit's token answer was not a JSON object", error="invalid_response")
    access = body.get("access_token")
    refresh = body.get("refresh_token")
    expires_in = _seconds(body.get("expires_in"))
    refresh_in = _seconds(body.get("x_refresh_token_expires_in"))
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise OAuthError("Intuit's token answer has no tokens", error="invalid_response")
    if expires_in is None or refresh_in is None:
        raise OAuthError("Intuit's token answer has no token lifetimes", error="invalid_response")
    return TokenGrant(
        access_token=access,
        refresh_token=refresh,
        expires_in=expires_in,
        refresh_expires_in=refresh_in,
        hard_expires_in=_seconds(body.get("x_refresh_token_hard_expires_in")),
    )


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None


def _refusal(response: httpx2.Response) -> OAuthError:
    # The one mapping of OAuth error bodies lives in qbo/faults.py.
    return error_from_oauth_response(
        response.status_code, response.content, intuit_tid=response.headers.get("intuit_tid")
    )
