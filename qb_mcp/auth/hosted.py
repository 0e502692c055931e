"""`auth login` for a hosted server: Intuit's callback answered by `serve --transport http`.

A laptop's login listens on localhost (`qb_mcp.auth.oauth`). A hosted server has a public HTTPS
name behind its reverse proxy instead, and Intuit's production keys take only https redirect
URIs, so the HTTP server itself answers `GET /auth/intuit/callback`, and QBO_REDIRECT_URI is
`https://HOST/auth/intuit/callback` (registered with the Intuit app). No tunnel is needed.

1. `qb-mcp auth login --hosted`, run with the server's QBO_HOME (or database) and keys, stores a
   single-use state (`store.login_states`, only its hash) and prints the consent URL, to open
   in any browser.
2. Intuit sends the browser to the public callback. Whichever replica receives it consumes the
   state (one conditional UPDATE, before anything else: a replayed callback can never cause a
   second code exchange, which would make Intuit revoke the grant), exchanges the code once at
   QBO_REDIRECT_URI (Intuit wants the same redirect URI again), stores the tokens encrypted
   and names the company, exactly as the local login does (`LoginFlow.finish`).
3. The server re-reads its companies: `list_companies` shows the new one at once, and other
   replicas find it on their next `list_companies` or the first call that names it.
No PKCE, as in the local login: the app is a confidential client (it holds the client secret),
and the state is the CSRF check.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx2
from starlette.requests import Request
from starlette.responses import Response

from qb_mcp.auth.crypto import load_keyring
from qb_mcp.auth.manager import TokenManager
from qb_mcp.auth.oauth import LoginFlow, LoginResult, page
from qb_mcp.auth.wiring import api_base_url, intuit_oauth
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, InvalidArgumentError, QbMcpError
from qb_mcp.store import login_states, open_store
from qb_mcp.store.db import Database

log = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/intuit/callback"
AGAIN = "qb-mcp auth login --hosted"


def check_redirect_uri(redirect_uri: str) -> None:
    """Refuse (one-line `ConfigError`) a QBO_REDIRECT_URI the hosted server cannot answer."""
    parts = urlsplit(redirect_uri)
    if parts.path != CALLBACK_PATH:
        raise ConfigError(
            f"QBO_REDIRECT_URI must end in {CALLBACK_PATH} for a hosted login (the path "
            f"`serve --transport http` answers), e.g. https://qb.example.com{CALLBACK_PATH}; "
            f"got {redirect_uri!r}"
        )
    if parts.scheme == "https" and parts.hostname and not _is_address(parts.hostname):
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return  # development: the server on this machine
    raise ConfigError(
        f"QBO_REDIRECT_URI must be https://YOUR-PUBLIC-HOST{CALLBACK_PATH} for a hosted login, "
        "on a host name (Intuit redirects to no IP address; http only on loopback, for "
        f"development); got {redirect_uri!r}"
    )


def _is_address(host: str) -> bool:
    # Intuit redirects only to https URIs on a host name, never an IP address (set-redirect-uri
    # page of its developer docs; see docs/deploy.md).
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def start_login(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """Store a fresh state and return the consent URL (step 1 of the module docstring)."""
    check_redirect_uri(settings.redirect_uri)
    oauth = intuit_oauth(settings, transport=transport)  # credentials and endpoints
    try:
        # Made here if missing, so that the server, on the same QBO_HOME, can read the tokens.
        load_keyring(settings, create=True)
        database = await open_store(settings)
        try:
            state = await login_states.issue(
                database, environment=settings.environment, now=clock()
            )
        finally:
            await database.close()
        return oauth.authorize_url(redirect_uri=settings.redirect_uri, state=state)
    finally:
        await oauth.aclose()


class HostedCallback:
    """`GET /auth/intuit/callback` on the HTTP server (steps 2 and 3 of the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Callable[[], Database],
        on_connected: Callable[[], Awaitable[None]],
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._database = database
        self._on_connected = on_connected
        self._transport = transport
        self._clock = clock

    async def __call__(self, request: Request) -> Response:
        params = dict(request.query_params)
        if not {"state", "code", "error"} & params.keys():
            return page("Nothing to do", "This address receives Intuit's sign-in answer.", 400)
        try:
            result = await self.complete(params)
        except QbMcpError as exc:
            return page("Sign-in failed", str(exc), 400)
        name = result.company_name or f"realm {result.realm_id}"
        return page(
            "Connected",
            f"qb-mcp is connected to {name} (realm {result.realm_id}). You can close this window.",
            200,
        )

    async def complete(self, params: dict[str, str]) -> LoginResult:
        """Consume the state, then finish the login as the local one does; reload companies."""
        settings = self._settings
        keyring = load_keyring(settings, create=False)  # before the state: nothing used yet
        database = self._database()
        environment = await login_states.consume(database, params.get("state"), now=self._clock())
        if environment != settings.environment:
            raise InvalidArgumentError(
                f"this login was started for the {environment} environment, but this server "
                f"serves {settings.environment}; nothing was stored. Run `{AGAIN}` with "
                "the server's QBO_ENVIRONMENT"
            )
        oauth = intuit_oauth(settings, transport=self._transport)
        try:
            flow = LoginFlow(
                oauth=oauth,
                manager=TokenManager(
                    database=database,
                    keyring=keyring,
                    oauth=oauth,
                    environment=settings.environment,
                    clock=self._clock,
                ),
                redirect_uri=settings.redirect_uri,
                api_base_url=api_base_url(settings),
                api_transport=self._transport,
                clock=self._clock,
            )
            result = await flow.finish(params, again=AGAIN)
        finally:
            await oauth.aclose()
        log.info("hosted login connected realm %s (%s)", result.realm_id, result.environment)
        await self._on_connected()
        return result
