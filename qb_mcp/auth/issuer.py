"""MCP authorization with an identity provider: qb-mcp as an OAuth 2.1 resource server.

With `QBO_AUTH_ISSUER` and `QBO_AUTH_AUDIENCE`, bearer JWTs from that issuer are accepted when
(PyJWT does the JOSE work; nothing here parses or checks a signature by hand):
- the signature verifies with a key from the issuer's JWKS (found through its discovery
  document: OpenID Connect Discovery, else RFC 8414 authorization server metadata), with an
  asymmetric algorithm only (`ALGORITHMS`: a symmetric one would let anyone holding the public
  key sign);
- `iss` is the issuer, `aud` names the audience (this server's resource URL, RFC 8707), `exp`
  has not passed (with `LEEWAY` for clock skew), and `sub` is there (it names the caller in the
  audit log);
- the token carries `qbo:read` or `qbo:write` (in `scope`, or `scp`), else 403 from the SDK.
Key rotation: the JWKS is kept `JWKS_MAX_AGE`; a token signed by a key not in it makes one new
fetch (at most every `REFETCH_INTERVAL`, so tokens with made-up key ids cannot make us hammer the
issuer), which picks up a new key and drops a withdrawn one.

The Protected Resource Metadata (RFC 9728) that tells clients which issuer to go to is served by
the SDK's handler (`metadata_app`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from starlette.applications import Starlette
from starlette.routing import Route

from qb_mcp.callers import SCOPE_READ, SCOPE_WRITE

log = logging.getLogger(__name__)

ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
LEEWAY = 30.0  # seconds of clock skew allowed on exp / nbf / iat
JWKS_MAX_AGE = 3600.0
REFETCH_INTERVAL = 30.0
FETCH_TIMEOUT = 10.0


class IssuerVerifier(TokenVerifier):
    """Verifies the issuer's JWTs for `audience`; fetches discovery and JWKS over HTTP."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        self._http = httpx2.AsyncClient(transport=transport, timeout=FETCH_TIMEOUT)
        self._jwks_uri: str | None = None
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None  # not a JWT (a mistyped stored token, say)
        if header.get("alg") not in ALGORITHMS:
            log.info("refused a bearer JWT signed with %r", str(header.get("alg"))[:20])
            return None
        kid = header.get("kid")
        key = await self._key(kid if isinstance(kid, str) else None)
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            # The reason, never the token.
            log.info("refused a bearer JWT: %s", type(exc).__name__)
            return None
        scopes = granted_scopes(claims)
        subject = str(claims["sub"])
        return AccessToken(
            token=f"jwt:{subject}",
            client_id=str(claims.get("client_id") or claims.get("azp") or subject),
            subject=subject,
            scopes=scopes,
            expires_at=int(claims["exp"]),
            resource=self.audience,
            claims={"iss": claims["iss"]},
        )

    async def _key(self, kid: str | None) -> jwt.PyJWK | None:
        async with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > JWKS_MAX_AGE
            unknown = kid not in self._keys and (kid is not None or len(self._keys) != 1)
            may_refetch = self._fetched_at is None or now - self._fetched_at >= REFETCH_INTERVAL
            if stale or (unknown and may_refetch):
                try:
                    await self._fetch_keys()
                except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
                    # The keys already known stay in use (an identity provider that is down
                    # for a while should not lock everyone out); with none, JWTs are refused.
                    log.warning(
                        "could not read the signing keys of %s (%s); %s",
                        self.issuer,
                        exc,
                        "keeping the keys read before"
                        if self._keys
                        else "bearer JWTs are refused until it answers",
                    )
                finally:
                    self._fetched_at = now
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _fetch_keys(self) -> None:
        if self._jwks_uri is None:
            self._jwks_uri = await self._discover()
        answer = await self._http.get(self._jwks_uri)
        answer.raise_for_status()
        keys: dict[str | None, jwt.PyJWK] = {}
        for data in answer.json().get("keys", []):
            if data.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # a key type or algorithm this PyJWT does not know: not ours to use
            keys[data.get("kid")] = key
        self._keys = keys

    async def _discover(self) -> str:
        """The issuer's `jwks_uri`, from its discovery document, whose `issuer` must be ours."""
        base = self.issuer.rstrip("/")
        parts = urlsplit(self.issuer)
        candidates = [
            f"{base}/.well-known/openid-configuration",
            # RFC 8414 section 3: the well-known part goes between host and path.
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server"
            f"{parts.path.rstrip('/')}",
        ]
        for url in candidates:
            answer = await self._http.get(url)
            if answer.status_code == 404:
                continue
            answer.raise_for_status()
            document = answer.json()
            if document.get("issuer") != self.issuer:
                raise ValueError(
                    f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
                    f"not QBO_AUTH_ISSUER {self.issuer!r}"
                )
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise ValueError(f"the discovery document at {url} has no jwks_uri")
            return jwks_uri
        raise ValueError(f"no discovery document at {' or '.join(candidates)}")

    async def aclose(self) -> None:
        await self._http.aclose()


def granted_scopes(claims: dict[str, Any]) -> list[str]:
    """The token's scopes (`scope`: space-separated, RFC 8693 / RFC 9068; or `scp`), with
    `qbo:write` implying `qbo:read`."""
    raw = claims.get("scope", claims.get("scp", ""))
    scopes = raw.split() if isinstance(raw, str) else [str(s) for s in raw or ()]
    if SCOPE_WRITE in scopes and SCOPE_READ not in scopes:
        scopes.append(SCOPE_READ)
    return scopes


def metadata_url(audience: str) -> str:
    """Where the Protected Resource Metadata of `audience` lives (RFC 9728 section 3.1)."""
    return str(build_resource_metadata_url(audience))  # type: ignore[arg-type]


def metadata_app(*, resource: str, issuer: str, scopes: list[str]) -> Starlette:
    """The SDK's Protected Resource Metadata handler, at RFC 9728's path for `resource` and, for
    clients that look only there, at the bare `/.well-known/oauth-protected-resource`."""
    # Strings, not AnyHttpUrl: the metadata model keeps a path-less URL as written (no trailing
    # slash), and issuer identifiers are compared as exact strings (RFC 8414 section 3.3).
    routes = create_protected_resource_routes(
        resource_url=resource,  # type: ignore[arg-type]
        authorization_servers=[issuer],  # type: ignore[list-item]
        scopes_supported=scopes,
        resource_name="qb-mcp",
    )
    first = routes[0]
    bare = "/.well-known/oauth-protected-resource"
    if first.path != bare:
        routes.append(Route(bare, endpoint=first.endpoint, methods=["GET", "OPTIONS"]))
    return Starlette(routes=list(routes))
