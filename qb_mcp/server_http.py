"""`serve --transport http`: who may call `/mcp`, and under which Host names.

Authentication is always on (issue 13): bearer tokens made with `qb-mcp tokens add`, and/or JWTs
from an identity provider (`QBO_AUTH_ISSUER` + `QBO_AUTH_AUDIENCE`). With neither, the server
refuses to start. `--no-auth` is for development on a loopback `--host` only.

The pieces are the MCP SDK's: `BearerAuthBackend` puts the verified `AccessToken` on each request,
`AuthContextMiddleware` makes it reachable from handlers, `RequireAuthMiddleware` answers 401
(with `WWW-Authenticate: Bearer ...`, naming the Protected Resource Metadata when an issuer is
configured) and 403 for a token without `qbo:read`. Only `/mcp` requires a token: `/healthz` is
for load balancers, and `/webhooks/intuit` is authenticated by Intuit's signature.

Host and Origin checks (DNS rebinding protection) stay on for every `--host`. The SDK turns them
off for any host but loopback; here they are always on, and accept the loopback names, the
`--host` itself (unless it is a wildcard such as 0.0.0.0), the host of `QBO_AUTH_AUDIENCE`, and
`QBO_ALLOWED_HOSTS` (the public name a reverse proxy forwards).
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from qb_mcp.auth.bearer import AnyVerifier, StoredTokenVerifier
from qb_mcp.callers import SCOPE_READ, SCOPES
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


@dataclass
class HttpAuth:
    """How `/mcp` is protected: a verifier (None with `--no-auth`) and, with an identity
    provider, the Protected Resource Metadata it is announced by."""

    verifier: AnyVerifier | None
    resource_metadata_url: str | None = None
    metadata_app: ASGIApp | None = None
    notes: list[str] = field(default_factory=list)

    async def aclose(self) -> None:
        if self.verifier is not None:
            await self.verifier.aclose()


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


async def check_auth(settings: Settings, *, host: str, no_auth: bool) -> int:
    """Refuse (one-line `ConfigError`) to serve unauthenticated: `--no-auth` off loopback, or
    neither a bearer token nor an issuer. The number of stored bearer tokens otherwise."""
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(
                f"--no-auth is only for development on a loopback --host (127.0.0.1, localhost, "
                f"::1), not {host}: make a token with `qb-mcp tokens add NAME` or set "
                "QBO_AUTH_ISSUER and QBO_AUTH_AUDIENCE"
            )
        return 0
    from qb_mcp.store import bearer_tokens, open_store

    database = await open_store(settings)
    try:
        stored = await bearer_tokens.count(database)
    finally:
        await database.close()
    if stored == 0 and settings.auth_issuer is None:
        raise ConfigError(
            "serve --transport http needs authentication: make a bearer token with "
            "`qb-mcp tokens add NAME`, or set QBO_AUTH_ISSUER and QBO_AUTH_AUDIENCE to accept "
            "your identity provider's tokens (--no-auth: loopback development only)"
        )
    return stored


async def prepare_auth(
    settings: Settings,
    *,
    host: str,
    no_auth: bool,
    issuer_transport: Any = None,
    clock: Callable[[], float] | None = None,
) -> HttpAuth:
    """Decide how requests are authenticated (after `check_auth`, which may refuse).

    `issuer_transport` and `clock` reach the JWT verifier (tests)."""
    stored = await check_auth(settings, host=host, no_auth=no_auth)
    if no_auth:
        print(
            "qb-mcp: WARNING: --no-auth: anyone who can reach "
            f"{host} may use this server with your QuickBooks connection (development only)",
            file=sys.stderr,
        )
        return HttpAuth(verifier=None)
    verifiers: list[Any] = [StoredTokenVerifier(settings)]
    auth = HttpAuth(verifier=None)
    auth.notes.append(f"{stored} bearer token(s) from `qb-mcp tokens`")
    if settings.auth_issuer is not None and settings.auth_audience is not None:
        from qb_mcp.auth.issuer import IssuerVerifier, metadata_app, metadata_url

        verifiers.append(
            IssuerVerifier(
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                transport=issuer_transport,
                **({} if clock is None else {"clock": clock}),
            )
        )
        auth.resource_metadata_url = metadata_url(settings.auth_audience)
        auth.metadata_app = metadata_app(
            resource=settings.auth_audience, issuer=settings.auth_issuer, scopes=list(SCOPES)
        )
        auth.notes.append(f"JWTs from {settings.auth_issuer} for {settings.auth_audience}")
    auth.verifier = AnyVerifier(verifiers)
    return auth


def transport_security(settings: Settings, host: str) -> TransportSecuritySettings:
    """The Host and Origin checks, on whatever `host` the server listens on."""
    names = list(LOOPBACK_NAMES)
    if not is_loopback(host) and not is_wildcard(host):
        names.append(f"[{host}]" if ":" in host else host.lower())
    if settings.auth_audience is not None:
        names.append((urlsplit(settings.auth_audience).netloc or "").lower())
    names.extend(settings.allowed_hosts)
    hosts: list[str] = []
    origins: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        if _has_port(name):
            hosts.append(name)
            origins.extend((f"https://{name}", f"http://{name}"))
        else:
            # Without a port the name is accepted on any port, and bare (a proxy on 443).
            hosts.extend((name, f"{name}:*"))
            origins.extend((f"https://{name}", f"http://{name}"))
            origins.extend((f"https://{name}:*", f"http://{name}:*"))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _has_port(name: str) -> bool:
    return name.rsplit("]", 1)[-1].count(":") == 1 if name.startswith("[") else ":" in name


def http_app(server: MCPServer[Any], settings: Settings, *, host: str, auth: HttpAuth) -> ASGIApp:
    """The ASGI app of `serve --transport http`: `/mcp` (authenticated), `/healthz`, the
    webhook listener, the Protected Resource Metadata; slow bodies cut off."""
    from qb_mcp.http_serving import BodyDeadline

    security = transport_security(settings, host)
    inner = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=security,
        host=host,
        # Replicas on one PostgreSQL sit behind a load balancer that need not be sticky: no
        # session lives in one replica's memory, every request stands alone (docs/deploy.md
        # says what a client sees). Modern-era requests are sessionless either way.
        stateless_http=settings.database_url is not None,
    )
    if auth.verifier is None:
        return BodyDeadline(inner)
    guarded = _RequireAuthOn(
        inner,
        RequireAuthMiddleware(inner, [SCOPE_READ], auth.resource_metadata_url),  # type: ignore[arg-type]
        metadata=auth.metadata_app,
    )
    app = AuthenticationMiddleware(
        AuthContextMiddleware(guarded), backend=BearerAuthBackend(auth.verifier)
    )
    return BodyDeadline(app)


def accepted_hosts_line(settings: Settings, host: str) -> str:
    """What the Host check accepts, for the start-up lines."""
    hosts = transport_security(settings, host).allowed_hosts
    return ", ".join(h for h in hosts if not h.endswith(":*") or h[:-2] not in hosts)


def wildcard_hint(settings: Settings, host: str) -> str | None:
    """The warning for a wildcard `--host` with no name but loopback's accepted: clients that
    reach it by another name are answered 421 until QBO_ALLOWED_HOSTS names it."""
    if not is_wildcard(host) or settings.allowed_hosts or settings.auth_audience:
        return None
    return (
        f"--host {host} listens on every address, but the Host check accepts only loopback "
        "names: set QBO_ALLOWED_HOSTS (or --allowed-hosts) to the names clients use"
    )


class _RequireAuthOn:
    """`/mcp` through the SDK's `RequireAuthMiddleware`; the metadata under `METADATA_PATH`;
    everything else (health, webhooks, the app's lifespan) straight to the app."""

    def __init__(self, app: ASGIApp, required: ASGIApp, *, metadata: ASGIApp | None) -> None:
        self.app = app
        self.required = required
        self.metadata = metadata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = str(scope.get("path", ""))
            if path.rstrip("/") == MCP_PATH:
                await self.required(scope, receive, send)
                return
            if self.metadata is not None and path.startswith(METADATA_PATH):
                await self.metadata(scope, receive, send)
                return
        await self.app(scope, receive, send)
