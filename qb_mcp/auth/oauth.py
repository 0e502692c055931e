"""`qb-mcp auth login`: the authorization-code flow with a local callback server.

1. A single-use `state` (random, expires after 10 minutes) goes into the authorize URL, which is
   printed to stderr and opened in a browser when there is one.
2. A callback server listens on the redirect URI's host and port. It is Starlette under uvicorn in
   the command's own event loop (not http.server in a thread): the handler can then await the
   code exchange and the store directly, and answer the browser only once the tokens are saved.
3. The callback's `state` is consumed before anything else, so a replayed callback can never cause
   a second code exchange (which would make Intuit revoke the grant). A wrong, expired or reused
   state, or `error=access_denied`, ends the login with a clear page and a one-line CLI error, and
   nothing is stored.
4. The code is exchanged once; the tokens are stored (encrypted) under the callback's `realmId`
   and committed; then a `companyinfo` call fetches the company's name. If only that last call
   fails the connection is kept, since the code cannot be exchanged again.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import os
import secrets
import socket
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from qb_mcp.auth.company import company_name, fetch_company_info
from qb_mcp.auth.intuit import IntuitOAuth
from qb_mcp.auth.manager import TokenManager
from qb_mcp.errors import ConfigError, InvalidArgumentError, OAuthError, QbMcpError
from qb_mcp.sockets import listen

log = logging.getLogger(__name__)

STATE_TTL_SECONDS = 600.0


class StateStore:
    """Single-use, expiring `state` values (CSRF protection for the callback)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, ttl: float = STATE_TTL_SECONDS
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._issued: dict[str, float] = {}  # state -> expiry
        self._used: set[str] = set()

    def issue(self) -> str:
        """A fresh unguessable state."""
        state = secrets.token_urlsafe(32)
        self._issued[state] = self._clock() + self._ttl
        return state

    def consume(self, state: str | None) -> None:
        """Accept `state` once; raise `InvalidArgumentError` for a missing, wrong, used or old one."""
        again = "nothing was stored; run `qb-mcp auth login` again"
        if not state:
            raise InvalidArgumentError(f"the sign-in callback carried no state; {again}")
        if state in self._used:
            raise InvalidArgumentError(f"this sign-in link was already used; {again}")
        expires_at = self._issued.pop(state, None)
        if expires_at is None:
            raise InvalidArgumentError(
                f"the sign-in callback's state does not match this login (a stale or forged "
                f"link); {again}"
            )
        self._used.add(state)
        if self._clock() >= expires_at:
            raise InvalidArgumentError(f"the sign-in link expired after 10 minutes; {again}")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A company connected by the login flow."""

    realm_id: str
    environment: str
    company_name: str | None


class LoginFlow:
    """The authorize URL and the callback handling, without any HTTP server of its own."""

    def __init__(
        self,
        *,
        oauth: IntuitOAuth,
        manager: TokenManager,
        redirect_uri: str,
        api_base_url: str,
        api_transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._oauth = oauth
        self._manager = manager
        self._redirect_uri = redirect_uri
        self._api_base_url = api_base_url
        self._api_transport = api_transport
        self._clock = clock
        self.states = StateStore(clock=clock)

    def authorize_url(self) -> str:
        """A new authorize URL with its own single-use state."""
        return self._oauth.authorize_url(redirect_uri=self._redirect_uri, state=self.states.issue())

    async def complete(self, params: Mapping[str, str]) -> LoginResult:
        """Handle the callback's query: check state, exchange the code once, store, name it."""
        self.states.consume(params.get("state"))
        return await self.finish(params)

    async def finish(
        self, params: Mapping[str, str], *, again: str = "qb-mcp auth login"
    ) -> LoginResult:
        """The callback once its state was accepted (here, or by the hosted login's store):
        Intuit's error or the code, exchanged once; the tokens stored; the company named."""
        error = params.get("error")
        if error == "access_denied":
            raise OAuthError(
                "access was declined on Intuit's consent page (error=access_denied); nothing was "
                f"stored. Run `{again}` again and choose Connect",
                error="access_denied",
            )
        if error:
            raise OAuthError(
                f"Intuit ended the sign-in with error={_printable(error)}; nothing was stored",
                error=_printable(error),
            )
        code = params.get("code")
        realm_id = params.get("realmId")
        if not code:
            raise InvalidArgumentError("the sign-in callback carried no code; nothing was stored")
        if not realm_id or not realm_id.isdigit() or len(realm_id) > 32:
            raise InvalidArgumentError(
                "the sign-in callback carried no valid realmId (a numeric company id); "
                "nothing was stored"
            )
        sent_at = self._clock()
        grant = await self._oauth.exchange_code(code, redirect_uri=self._redirect_uri)
        await self._manager.save_login(realm_id, grant, received_at=sent_at)
        log.info("stored the tokens of realm %s", realm_id)
        name = await self._company_name(realm_id)
        return LoginResult(
            realm_id=realm_id, environment=self._manager.environment, company_name=name
        )

    async def _company_name(self, realm_id: str) -> str | None:
        try:
            info = await fetch_company_info(
                base_url=self._api_base_url,
                realm_id=realm_id,
                tokens=self._manager,
                transport=self._api_transport,
            )
        except QbMcpError as exc:
            log.warning("connected realm %s but could not read its company name: %s", realm_id, exc)
            return None
        name = company_name(info)
        if name is not None:
            await self._manager.set_company_name(realm_id, name)
        return name


def _printable(text: str) -> str:
    return "".join(c for c in text[:64] if c.isprintable())


# ---- the callback server ------------------------------------------------------------------------


def callback_address(redirect_uri: str) -> tuple[str, int, str]:
    """(host to bind, port, path) of a redirect URI that points at this machine over http."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http":
        raise ConfigError(
            "QBO_REDIRECT_URI must be an http://localhost URL for `auth login`'s local callback "
            f"(Intuit accepts those for development keys); got {redirect_uri!r}"
        )
    host = parts.hostname or ""
    if host == "localhost":
        bind_host = "127.0.0.1"
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is None or not address.is_loopback:
            raise ConfigError(
                "QBO_REDIRECT_URI must point at this machine (localhost or a loopback address) "
                f"for `auth login`'s local callback; got {redirect_uri!r}"
            )
        bind_host = host
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"QBO_REDIRECT_URI has an invalid port: {redirect_uri!r}") from None
    return bind_host, port, parts.path or "/"


class CallbackServer:
    """Serves the redirect URI's path until one callback has been handled."""

    def __init__(self, flow: LoginFlow, *, path: str) -> None:
        self._flow = flow
        self._outcome: asyncio.Future[LoginResult] | None = None
        self.app = Starlette(routes=[Route(path, self._callback, methods=["GET"])])

    async def run(self, sock: socket.socket) -> LoginResult:
        """Serve on `sock` until a callback completes the login (or fails it), then stop.

        Callers bound the wait with `asyncio.timeout`; the server stops however this ends.
        """
        outcome: asyncio.Future[LoginResult] = asyncio.get_running_loop().create_future()
        self._outcome = outcome
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", log_config=None
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            pending: set[asyncio.Future[Any]] = {outcome, serving}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if not outcome.done():
                raise ConfigError("the sign-in callback server stopped unexpectedly")
            return outcome.result()
        finally:
            server.should_exit = True
            await serving

    async def _callback(self, request: Request) -> Response:
        params = dict(request.query_params)
        if not {"state", "code", "error"} & params.keys():
            return page("Nothing to do", "This address receives Intuit's sign-in answer.", 400)
        outcome = self._outcome
        if outcome is None or outcome.done():
            return page(
                "Sign-in already finished",
                "This sign-in link was already used. Run qb-mcp auth login again.",
                400,
            )
        try:
            result = await self._flow.complete(params)
        except QbMcpError as exc:
            return page(
                "Sign-in failed", str(exc), 400, background=BackgroundTask(_settle, outcome, exc)
            )
        name = result.company_name or f"realm {result.realm_id}"
        return page(
            "Connected",
            f"qb-mcp is connected to {name}. You can close this window.",
            200,
            background=BackgroundTask(_settle, outcome, result),
        )


async def _settle(outcome: asyncio.Future[LoginResult], value: LoginResult | Exception) -> None:
    # Runs after the page was sent, so the browser gets its answer before the server stops.
    if outcome.done():
        return
    if isinstance(value, Exception):
        outcome.set_exception(value)
    else:
        outcome.set_result(value)


def page(
    title: str, message: str, status: int, *, background: BackgroundTask | None = None
) -> HTMLResponse:
    """The small HTML page the browser is left on after a callback (never cached)."""
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>qb-mcp: {html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(
        body, status_code=status, headers={"Cache-Control": "no-store"}, background=background
    )


# ---- the whole login ----------------------------------------------------------------------------


def can_open_browser() -> bool:
    """True where `webbrowser` has somewhere to show a page."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def run_login_flow(
    flow: LoginFlow,
    *,
    redirect_uri: str,
    announce: Callable[[str], None],
    open_browser: bool,
) -> LoginResult:
    """Listen for the callback, show the authorize URL, and wait for the login to finish."""
    host, port, path = callback_address(redirect_uri)
    sock = listen(
        host,
        port,
        fix="free that port or set QBO_REDIRECT_URI to another (and register it with the app)",
    )
    server = CallbackServer(flow, path=path)
    url = flow.authorize_url()
    announce(url)
    if open_browser and can_open_browser():
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            log.info("could not open a browser; the URL above works in any browser")
    try:
        async with asyncio.timeout(STATE_TTL_SECONDS):
            return await server.run(sock)
    except TimeoutError:
        raise InvalidArgumentError(
            "no sign-in callback arrived within 10 minutes; run `qb-mcp auth login` again"
        ) from None
