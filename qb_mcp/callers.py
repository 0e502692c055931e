"""Who is calling over HTTP, as the tools see it: a `Caller` with its scopes.

The SDK's bearer middleware puts the verified `AccessToken` on each HTTP request
(`qb_mcp.server_http`; the verifiers are in `qb_mcp.auth.bearer` and `qb_mcp.auth.jwt`); this
module turns it into a `Caller`. Kept apart from `qb_mcp.auth` so that building the server (which
every tool call goes through) imports none of the OAuth code.

Scopes: `qbo:read` (reads only) and `qbo:write` (reads and writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

SCOPE_READ = "qbo:read"
SCOPE_WRITE = "qbo:write"
SCOPES = (SCOPE_READ, SCOPE_WRITE)

# Where a stored token's company limit travels in `AccessToken.claims`.
COMPANIES_CLAIM = "qb_mcp_companies"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a token's name or a JWT's subject, and what it may do."""

    name: str
    scopes: frozenset[str]
    companies: tuple[str, ...] | None = None  # None: every company

    @property
    def may_write(self) -> bool:
        return SCOPE_WRITE in self.scopes

    def may_use(self, realm_id: str | None) -> bool:
        """Whether this caller may reach company `realm_id`."""
        return self.companies is None or (realm_id is not None and realm_id in self.companies)

    @classmethod
    def of(cls, token: AccessToken) -> Caller:
        claims = token.claims or {}
        companies = claims.get(COMPANIES_CLAIM)
        return cls(
            name=token.subject or token.client_id,
            scopes=frozenset(token.scopes),
            companies=None if companies is None else tuple(str(c) for c in companies),
        )


# The caller of the request being handled, for handlers the SDK hands no request (resources):
# set around the handler by the server's middleware (`tools.base.caller_policy`).
_SERVING: ContextVar[Caller | None] = ContextVar("qb_mcp_caller", default=None)


@contextmanager
def serving_caller(caller: Caller | None) -> Iterator[None]:
    """Make `caller` the one `current_caller()` names inside the block."""
    token = _SERVING.set(caller)
    try:
        yield
    finally:
        _SERVING.reset(token)


def current_caller(request: Any = None) -> Caller | None:
    """The caller of the request being served, or None when it is not authenticated (stdio,
    in-memory sessions, `--no-auth`).

    `request` is the HTTP request the SDK hands the handler (`ctx.request_context.request`);
    without one the SDK's auth context variable is asked.
    """
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    if isinstance(user, AuthenticatedUser):
        return Caller.of(user.access_token)
    token = get_access_token()
    return _SERVING.get() if token is None else Caller.of(token)
