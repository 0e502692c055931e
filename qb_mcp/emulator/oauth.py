"""Intuit's OAuth 2.0 server, emulated at Intuit's own paths so that only the host differs.

Endpoints (see QBO_API.md section 9):
- `GET /connect/oauth2`: the authorize step. There is no browser and no user: it consents at once
  (or refuses, when `consent == "deny"`) and redirects to the client's redirect URI.
  Emulator extension: a `realmId` query parameter picks the company that "consents"; without it the
  company is `default_realm()`.
- `POST /oauth2/v1/tokens/bearer`: the `authorization_code` and `refresh_token` grants.
- `POST /v2/oauth2/tokens/revoke`: revokes the whole grant behind an access or refresh token; the
  body is JSON `{"token": ...}` (Intuit's form) or form-encoded `token=...` (RFC 7009's).
- `GET /.well-known/openid_configuration` (and `openid_sandbox_configuration`): discovery.

Tokens are opaque random strings. The server keeps only their SHA-256 digests, so neither its
memory, its snapshot (the `--state` file) nor a log line can give a usable token back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from qb_mcp.emulator import faults
from qb_mcp.emulator.idtoken import INTUIT_ISSUER, IdTokenSigner

log = logging.getLogger(__name__)

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
# Scopes Intuit's discovery document and docs list; anything else is refused at authorize time.
KNOWN_SCOPES = frozenset(
    {
        ACCOUNTING_SCOPE,
        "com.intuit.quickbooks.payment",
        "openid",
        "profile",
        "email",
        "phone",
        "address",
    }
)
# RFC 6749 recommends at most 10 minutes; no Intuit page we could read states the code's life
# (unverified), so we take the RFC's ceiling.
CODE_TTL = 600.0
# Since 2025 a grant has a hard maximum life of 5 years from the first authorization.
HARD_EXPIRY_SECONDS = 5 * 365 * 86_400
# Bodies of the token and revoke endpoints are a few hundred bytes; refuse anything absurd early.
MAX_BODY_BYTES = 16_384
_ALNUM = string.ascii_letters + string.digits
# The header of Intuit's access tokens (a JWE: {"enc":"A128CBC-HS256","alg":"dir"}); ours look alike
# but carry only randomness.
_JWE_HEADER = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"


@dataclass(frozen=True)
class TokenPair:
    """What `issue_tokens` hands out (the token endpoint's answer, minus the wire format)."""

    access_token: str
    refresh_token: str
    expires_in: int
    x_refresh_token_expires_in: int
    realm_id: str


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    realm_id: str
    scope: str
    expires_at: float
    grant_id: str | None = None  # set once exchanged; a second exchange revokes this grant


@dataclass(slots=True)
class _Grant:
    realm_id: str
    client_id: str | None  # None: issued by issue_tokens(), usable by any client
    scope: str
    first_issued_at: float  # start of the 5-year hard life
    refresh_digest: str  # the one refresh token that still works
    refresh_issued_at: float
    refresh_expires_at: float
    revoked: bool = False


@dataclass(slots=True)
class _Access:
    grant_id: str
    expires_at: float


class OAuthError(Exception):
    """An OAuth error answer: `{"error": ...}` with its HTTP status."""

    def __init__(self, error: str, status: int = 400, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def response(self) -> JSONResponse:
        body: dict[str, str] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Intuit"'
        return JSONResponse(body, status_code=self.status, headers=headers)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).rstrip(b"=").decode()


def _access_token() -> str:
    # Five dot-separated parts with an empty second one, like Intuit's compact JWE tokens.
    return f"{_JWE_HEADER}..{_b64url(16)}.{_b64url(600)}.{_b64url(16)}"


def _refresh_token(expires_at: float) -> str:
    # Intuit's look like "AB1" + the expiry in epoch seconds + random letters.
    return f"AB1{int(expires_at)}{_random(33)}"


class OAuthServer:
    """Intuit's OAuth 2.0 server for the emulator: codes, grants, rotating refresh tokens."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        access_token_ttl: float = 3600,
        refresh_token_ttl: float = 8_726_400,
        rotate_refresh_after: float = 86_400,
        client_id: str | None = None,
        client_secret: str | None = None,
        default_realm: Callable[[], str],
        has_realm: Callable[[str], bool] | None = None,
    ) -> None:
        self._clock = clock
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.rotate_refresh_after = rotate_refresh_after
        self._client_id = client_id
        self._client_secret = client_secret
        self._default_realm = default_realm
        # When given, the authorize step refuses a `realmId` naming no company.
        self._has_realm = has_realm
        self.consent: Literal["grant", "deny"] = "grant"
        self.refresh_count = 0
        self._codes: dict[str, _Code] = {}  # by digest
        self._grants: dict[str, _Grant] = {}  # by grant id
        self._refresh: dict[str, str] = {}  # refresh digest -> grant id, superseded ones included
        self._access: dict[str, _Access] = {}  # by digest
        # The API may run under uvicorn in a thread while a test issues tokens from another one.
        self._lock = threading.Lock()
        self._id_tokens = IdTokenSigner()

    # ---- routes -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The Starlette routes of Intuit's OAuth endpoints (mounted at the app's root)."""
        return [
            Route("/connect/oauth2", self._authorize, methods=["GET"]),
            Route("/oauth2/v1/tokens/bearer", self._token, methods=["POST"]),
            Route("/v2/oauth2/tokens/revoke", self._revoke, methods=["POST"]),
            Route("/.well-known/openid_configuration", self._discovery, methods=["GET"]),
            Route("/.well-known/openid_configuration/", self._discovery, methods=["GET"]),
            Route("/.well-known/openid_sandbox_configuration", self._discovery, methods=["GET"]),
            Route("/.well-known/openid_sandbox_configuration/", self._discovery, methods=["GET"]),
            Route("/op/v1/jwks", self._jwks, methods=["GET"]),
            Route("/v1/openid_connect/userinfo", self._userinfo, methods=["GET"]),
        ]

    # ---- public API ---------------------------------------------------------------------------

    def issue_tokens(self, realm_id: str) -> TokenPair:
        """A fresh grant for `realm_id`, skipping the browser step (tests and the demo)."""
        if not realm_id:
            raise ValueError("realm_id must not be empty")
        with self._lock:
            return self._new_grant(realm_id, None, ACCOUNTING_SCOPE)

    def check_bearer(self, authorization: str | None, realm_id: str) -> None:
        """Accept a valid access token for `realm_id`, or raise the gateway's 401 fault."""
        if not authorization:
            raise faults.authentication_failed("Authorization header is missing")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise faults.authentication_failed("Authorization header must be 'Bearer <token>'")
        now = self._clock()
        with self._lock:
            access = self._access.get(_digest(token))
            if access is None:
                raise faults.authentication_failed("Token invalid")
            grant = self._grants.get(access.grant_id)
            if grant is None or grant.revoked:
                raise faults.authentication_failed("Token revoked")
            if now >= access.expires_at:
                expired = datetime.fromtimestamp(access.expires_at, UTC).isoformat()
                raise faults.authentication_failed(f"Token expired: at {expired}")
            if grant.realm_id != realm_id:
                raise faults.authentication_failed(
                    f"Token invalid: not authorized for company {realm_id}"
                )

    def snapshot(self) -> dict[str, Any]:
        """The server's state as JSON-safe data (token digests only, never tokens)."""
        with self._lock:
            self._prune(self._clock())
            return {
                "version": 1,
                "refresh_count": self.refresh_count,
                "codes": {
                    d: {
                        "client_id": c.client_id,
                        "redirect_uri": c.redirect_uri,
                        "realm_id": c.realm_id,
                        "scope": c.scope,
                        "expires_at": c.expires_at,
                        "grant_id": c.grant_id,
                    }
                    for d, c in self._codes.items()
                },
                "grants": {
                    gid: {
                        "realm_id": g.realm_id,
                        "client_id": g.client_id,
                        "scope": g.scope,
                        "first_issued_at": g.first_issued_at,
                        "refresh_digest": g.refresh_digest,
                        "refresh_issued_at": g.refresh_issued_at,
                        "refresh_expires_at": g.refresh_expires_at,
                        "revoked": g.revoked,
                    }
                    for gid, g in self._grants.items()
                },
                "refresh": dict(self._refresh),
                "access": {
                    d: {"grant_id": a.grant_id, "expires_at": a.expires_at}
                    for d, a in self._access.items()
                },
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with a `snapshot()`; malformed data raises ValueError, changing nothing."""
        try:
            if data.get("version") != 1:
                raise ValueError("unknown OAuth snapshot version")
            codes = {
                str(d): _Code(
                    client_id=str(c["client_id"]),
                    redirect_uri=str(c["redirect_uri"]),
                    realm_id=str(c["realm_id"]),
                    scope=str(c["scope"]),
                    expires_at=float(c["expires_at"]),
                    grant_id=None if c["grant_id"] is None else str(c["grant_id"]),
                )
                for d, c in dict(data["codes"]).items()
            }
            grants = {
                str(gid): _Grant(
                    realm_id=str(g["realm_id"]),
                    client_id=None if g["client_id"] is None else str(g["client_id"]),
                    scope=str(g["scope"]),
                    first_issued_at=float(g["first_issued_at"]),
                    refresh_digest=str(g["refresh_digest"]),
                    refresh_issued_at=float(g["refresh_issued_at"]),
                    refresh_expires_at=float(g["refresh_expires_at"]),
                    revoked=bool(g["revoked"]),
                )
                for gid, g in dict(data["grants"]).items()
            }
            refresh = {str(d): str(gid) for d, gid in dict(data["refresh"]).items()}
            access = {
                str(d): _Access(grant_id=str(a["grant_id"]), expires_at=float(a["expires_at"]))
                for d, a in dict(data["access"]).items()
            }
            refresh_count = int(data["refresh_count"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed OAuth snapshot: {type(exc).__name__}") from None
        with self._lock:
            self._codes, self._grants, self._refresh, self._access = codes, grants, refresh, access
            self.refresh_count = refresh_count

    # ---- authorize ----------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        for name in ("client_id", "response_type", "scope", "redirect_uri", "state", "realmId"):
            if len(q.getlist(name)) > 1:
                return _error_page(f"The parameter {name} was given more than once.")
        client_id = q.get("client_id", "")
        redirect_uri = q.get("redirect_uri", "")
        # Like Intuit, a request whose redirect URI or client cannot be trusted gets a page, not a
        # redirect: sending the user to an unchecked URI would make the server an open redirector.
        if not client_id:
            return _error_page("The client_id parameter is missing.")
        if self._client_id is not None and not hmac.compare_digest(
            client_id.encode(), self._client_id.encode()
        ):
            return _error_page("The client_id is not known.")
        if not _valid_redirect_uri(redirect_uri):
            return _error_page("The redirect_uri is missing or is not an absolute http(s) URL.")
        if q.get("response_type") != "code":
            return _error_page("The response_type must be 'code'.")
        scopes = q.get("scope", "").split()
        if ACCOUNTING_SCOPE not in scopes:
            return _error_page(f"The scope must include {ACCOUNTING_SCOPE}.")
        unknown = sorted(set(scopes) - KNOWN_SCOPES)
        if unknown:
            return _error_page(f"Unknown scope: {unknown[0]}.")
        realm_id = q.get("realmId") or self._default_realm()
        if not realm_id.isalnum() or len(realm_id) > 32:
            return _error_page("The realmId (an emulator extension) must be letters and digits.")
        if self._has_realm is not None and not self._has_realm(realm_id):
            return _error_page(f"There is no company with realmId {realm_id} in this emulator.")
        state = q.get("state")
        if self.consent == "deny":
            params = {"error": "access_denied"}
            if state is not None:
                params["state"] = state
            return RedirectResponse(_with_query(redirect_uri, params), status_code=302)
        code = f"AB1{int(self._clock() + CODE_TTL)}{_random(33)}"
        with self._lock:
            self._codes[_digest(code)] = _Code(
                client_id=client_id,
                redirect_uri=redirect_uri,
                realm_id=realm_id,
                scope=" ".join(scopes),
                expires_at=self._clock() + CODE_TTL,
            )
        params = {"code": code}
        if state is not None:
            params["state"] = state
        params["realmId"] = realm_id
        return RedirectResponse(_with_query(redirect_uri, params), status_code=302)

    # ---- token --------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        try:
            client_id = self._authenticate_client(request.headers.get("authorization"))
            form = await _read_form(request)
            # client_secret_post is advertised in Intuit's discovery document, so accept it too.
            if client_id is None:
                client_id = self._authenticate_post(form)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request", description="grant_type is missing")
            now = self._clock()
            with self._lock:
                self._prune(now)
                scope = ""
                if grant_type == "authorization_code":
                    pair, first, scope = self._exchange_code(form, client_id, now)
                elif grant_type == "refresh_token":
                    pair, first = self._refresh_grant(form, client_id, now)
                else:
                    raise OAuthError("unsupported_grant_type")
        except OAuthError as exc:
            log.info("token endpoint refused a request: %s", exc.error)
            return exc.response()
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "x_refresh_token_expires_in": pair.x_refresh_token_expires_in,
        }
        if "openid" in scope.split():
            # Only the code exchange answers with an id_token, and only for the openid scope.
            body["id_token"] = self._id_tokens.sign(
                {
                    "sub": _subject(pair.realm_id),
                    "aud": [client_id],
                    "realmid": pair.realm_id,
                    "auth_time": int(now),
                    "iss": INTUIT_ISSUER,
                    "exp": int(now) + 3600,
                    "iat": int(now),
                }
            )
        if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
            body["x_refresh_token_hard_expires_in"] = max(0, int(first + HARD_EXPIRY_SECONDS - now))
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authenticate_client(self, header: str | None) -> str | None:
        """The client id from HTTP Basic auth; None when the header is absent."""
        if header is None:
            return None
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise OAuthError("invalid_client", 401)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:  # bad base64, non-ASCII header text, or bytes that are not UTF-8
            raise OAuthError("invalid_client", 401) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep or not client_id:
            raise OAuthError("invalid_client", 401)
        self._check_client(client_id, secret)
        return client_id

    def _authenticate_post(self, form: dict[str, str]) -> str:
        client_id = form.get("client_id")
        if not client_id:
            raise OAuthError("invalid_client", 401)
        self._check_client(client_id, form.get("client_secret", ""))
        return client_id

    def _check_client(self, client_id: str, secret: str) -> None:
        # Any id and secret are accepted unless the emulator was configured with specific ones.
        if self._client_id is not None and not hmac.compare_digest(
            client_id.encode(), self._client_id.encode()
        ):
            raise OAuthError("invalid_client", 401)
        if self._client_secret is not None and not hmac.compare_digest(
            secret.encode(), self._client_secret.encode()
        ):
            raise OAuthError("invalid_client", 401)

    def _exchange_code(
        self, form: dict[str, str], client_id: str, now: float
    ) -> tuple[TokenPair, float, str]:
        code = form.get("code")
        redirect_uri = form.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError("invalid_request", description="code and redirect_uri are required")
        record = self._codes.get(_digest(code))
        if record is None or now >= record.expires_at:
            raise OAuthError("invalid_grant")
        if record.grant_id is not None:
            # RFC 6749 4.1.2 and Intuit: a code used twice revokes what the first use issued.
            grant = self._grants.get(record.grant_id)
            if grant is not None:
                grant.revoked = True
            raise OAuthError("invalid_grant")
        if record.client_id != client_id or record.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant")
        pair = self._new_grant(record.realm_id, client_id, record.scope)
        record.grant_id = self._refresh[_digest(pair.refresh_token)]
        return pair, now, record.scope

    def _refresh_grant(
        self, form: dict[str, str], client_id: str, now: float
    ) -> tuple[TokenPair, float]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", description="refresh_token is required")
        digest = _digest(token)
        grant_id = self._refresh.get(digest)
        grant = self._grants.get(grant_id) if grant_id is not None else None
        if (
            grant is None
            or grant.revoked
            or grant.refresh_digest != digest  # superseded by a newer one
            or now >= grant.refresh_expires_at
            or (grant.client_id is not None and grant.client_id != client_id)
        ):
            raise OAuthError("invalid_grant", description="Incorrect or invalid refresh token")
        assert grant_id is not None
        refresh_token = token
        if now - grant.refresh_issued_at >= self.rotate_refresh_after:
            expires_at = min(
                now + self.refresh_token_ttl, grant.first_issued_at + HARD_EXPIRY_SECONDS
            )
            refresh_token = _refresh_token(expires_at)
            new_digest = _digest(refresh_token)
            # The superseded token is forgotten: unknown and superseded both answer invalid_grant.
            self._refresh.pop(grant.refresh_digest, None)
            grant.refresh_digest = new_digest
            grant.refresh_issued_at = now
            grant.refresh_expires_at = expires_at
            self._refresh[new_digest] = grant_id
        access = self._new_access(grant_id, now)
        self.refresh_count += 1
        pair = TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            expires_in=int(self.access_token_ttl),
            x_refresh_token_expires_in=max(0, int(grant.refresh_expires_at - now)),
            realm_id=grant.realm_id,
        )
        return pair, grant.first_issued_at

    # ---- revoke -------------------------------------------------------------------------------

    async def _revoke(self, request: Request) -> Response:
        # Intuit documents (and its SDKs send) a JSON body {"token": ...}; RFC 7009 section 2.1
        # defines a form-encoded one, which generic OAuth clients send. Both are taken (a choice:
        # no source shows Intuit refusing the RFC's form), chosen by Content-Type.
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            client_id = self._authenticate_client(request.headers.get("authorization"))
            body: object
            if media_type == "application/x-www-form-urlencoded":
                body = await _read_form(request)
                if client_id is None and "client_id" in body:
                    client_id = self._authenticate_post(body)  # RFC 6749 2.3.1
            else:
                if client_id is None:
                    raise OAuthError("invalid_client", 401)
                raw = await _read_body(request)
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    raise OAuthError("invalid_request", description="body must be JSON") from None
            if client_id is None:
                raise OAuthError("invalid_client", 401)
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise OAuthError("invalid_request", description='body must be {"token": "..."}')
        except OAuthError as exc:
            log.info("revoke endpoint refused a request: %s", exc.error)
            return exc.response()
        digest = _digest(token)
        with self._lock:
            grant_id = self._refresh.get(digest)
            if grant_id is None and digest in self._access:
                grant_id = self._access[digest].grant_id
            grant = self._grants.get(grant_id) if grant_id is not None else None
            # RFC 7009: an unknown token, or one issued to another client, is answered 200 and
            # nothing happens (the caller learns nothing about other clients' tokens).
            if grant is not None and grant.client_id in (None, client_id):
                grant.revoked = True
        return Response(status_code=200)

    # ---- discovery and OpenID stubs -----------------------------------------------------------

    async def _discovery(self, request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        # Intuit's document, with every endpoint moved to this emulator's own host; the issuer
        # stays Intuit's, as the id_tokens' `iss` (see idtoken.INTUIT_ISSUER).
        return JSONResponse(
            {
                "issuer": INTUIT_ISSUER,
                "authorization_endpoint": f"{base}/connect/oauth2",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
                "jwks_uri": f"{base}/op/v1/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile", "address", "phone"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(self._id_tokens.jwks())

    async def _userinfo(self, request: Request) -> Response:
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        now = self._clock()
        with self._lock:
            access = (
                self._access.get(_digest(token.strip())) if scheme.lower() == "bearer" else None
            )
            grant = self._grants.get(access.grant_id) if access is not None else None
            if access is None or grant is None or grant.revoked or now >= access.expires_at:
                return JSONResponse(
                    {"error": "invalid_token"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            return JSONResponse(
                {
                    "sub": _subject(grant.realm_id),
                    "givenName": "Demo",
                    "familyName": "User",
                    "emailVerified": True,
                }
            )

    # ---- internals (call with the lock held) --------------------------------------------------

    def _new_grant(self, realm_id: str, client_id: str | None, scope: str) -> TokenPair:
        now = self._clock()
        grant_id = secrets.token_hex(16)
        expires_at = now + self.refresh_token_ttl
        refresh_token = _refresh_token(expires_at)
        digest = _digest(refresh_token)
        self._grants[grant_id] = _Grant(
            realm_id=realm_id,
            client_id=client_id,
            scope=scope,
            first_issued_at=now,
            refresh_digest=digest,
            refresh_issued_at=now,
            refresh_expires_at=expires_at,
        )
        self._refresh[digest] = grant_id
        return TokenPair(
            access_token=self._new_access(grant_id, now),
            refresh_token=refresh_token,
            expires_in=int(self.access_token_ttl),
            x_refresh_token_expires_in=int(self.refresh_token_ttl),
            realm_id=realm_id,
        )

    def _new_access(self, grant_id: str, now: float) -> str:
        token = _access_token()
        self._access[_digest(token)] = _Access(grant_id, now + self.access_token_ttl)
        return token

    def _prune(self, now: float) -> None:
        """Forget expired access tokens and codes so a long-running emulator does not grow."""
        for d in [d for d, a in self._access.items() if now >= a.expires_at]:
            del self._access[d]
        # An exchanged code is kept until it expires: its reuse must still revoke the grant.
        for d in [d for d, c in self._codes.items() if now >= c.expires_at]:
            del self._codes[d]
        # A dead grant is kept while access tokens point at it, so they still answer "revoked".
        referenced = {a.grant_id for a in self._access.values()}
        dead = [
            gid
            for gid, g in self._grants.items()
            if (g.revoked or now >= g.refresh_expires_at) and gid not in referenced
        ]
        for gid in dead:
            self._refresh.pop(self._grants.pop(gid).refresh_digest, None)


def _subject(realm_id: str) -> str:
    """A stable pseudonymous user id per company (the emulator has no users)."""
    return hashlib.sha256(f"emulator-user:{realm_id}".encode()).hexdigest()[:32]


def _valid_redirect_uri(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    encoded = urlencode(params, quote_via=quote)
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _error_page(message: str) -> HTMLResponse:
    return HTMLResponse(
        "<!DOCTYPE html><html><head><title>Intuit OAuth error</title></head><body>"
        f"<h1>Something went wrong</h1><p>{html.escape(message)}</p></body></html>",
        status_code=400,
    )


async def _read_body(request: Request) -> bytes:
    """The body, refused with invalid_request past MAX_BODY_BYTES (without reading it all)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise OAuthError("invalid_request", description="request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: Request) -> dict[str, str]:
    """A form-encoded body as a dict; duplicates or undecodable bytes are invalid_request."""
    raw = await _read_body(request)
    try:
        text = raw.decode("ascii")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", description="body must be form-encoded") from None
    form: dict[str, str] = {}
    for key, values in parsed.items():
        if len(values) != 1:
            # RFC 6749 3.1: parameters must not be included more than once.
            raise OAuthError("invalid_request", description=f"{key} given more than once")
        form[key] = values[0]
    return form
