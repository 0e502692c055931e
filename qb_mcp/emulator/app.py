"""The emulator facade: one object that composes the backend, OAuth, limits, chaos and webhooks,
and the Starlette app that serves them (in process through `httpx2.ASGITransport`, or under
uvicorn as `qb-mcp emulator`).

Routes:
- `/v3/company/{realmId}/...`: the QBO API (`api.ApiHandler`).
- Intuit's OAuth paths (`OAuthServer.routes()`).
- `/_emulator/...`: the admin API (`admin.routes`), JSON in and out, no auth.
- Anything else: 400 with QBO's code-500 "Unsupported Operation" fault.

Every answer carries an `intuit_tid` header, a fresh random id per request, as Intuit's do.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qb_mcp.emulator import admin
from qb_mcp.emulator.api import ApiHandler, unsupported_path
from qb_mcp.emulator.api import _Request as ApiRequest
from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.chaos import Chaos
from qb_mcp.emulator.faults import render
from qb_mcp.emulator.limits import Limiter
from qb_mcp.emulator.oauth import OAuthServer, TokenPair
from qb_mcp.emulator.replay import RequestIds
from qb_mcp.emulator.seed import DEMO_REALM_ID
from qb_mcp.emulator.statefile import StateFileError, StateSaver, read_state
from qb_mcp.emulator.webhooks import WebhookSender


@dataclass
class EmulatorConfig:
    """How the emulator behaves; the defaults are QBO's own limits and token lifetimes."""

    requests_per_window: int = 500
    window_seconds: float = 60.0
    max_in_flight: int = 10
    batch_per_window: int = 40
    access_token_ttl: float = 3600.0
    rotate_refresh_after: float = 86_400.0
    client_id: str | None = None
    client_secret: str | None = None
    webhook_url: str | None = None
    webhook_verifier_token: str | None = None
    webhook_format: Literal["legacy", "cloudevents"] = "legacy"
    webhook_retry_scale: float = 1.0
    state_path: Path | None = None
    require_auth: bool = True


def new_intuit_tid() -> str:
    """An id shaped like Intuit's, e.g. `1-5f3b2c4a-6d9e0f1a2b3c4d5e6f7a8b9c`."""
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


class _Stamp:
    """ASGI middleware: adds `intuit_tid` to every answer and notes POSTs for the state saver."""

    def __init__(self, app: ASGIApp, after_post: Callable[[], None]) -> None:
        self.app = app
        self.after_post = after_post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tid = new_intuit_tid().encode()

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"intuit_tid"]
                message = {**message, "headers": [*headers, (b"intuit_tid", tid)]}
            await send(message)

        try:
            await self.app(scope, receive, send_stamped)
        finally:
            # Token grants and admin changes are state too; writes also announce themselves
            # through the backend's listener. Saving is paced, so marking often is cheap.
            if scope["method"] == "POST":
                self.after_post()


class Emulator:
    """A fake QuickBooks Online: companies, OAuth, limits, faults on demand, signed webhooks."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        webhook_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config = config or EmulatorConfig()
        self.clock = clock
        self.backend = Backend(clock=clock)
        self.oauth = OAuthServer(
            clock=clock,
            access_token_ttl=config.access_token_ttl,
            rotate_refresh_after=config.rotate_refresh_after,
            client_id=config.client_id,
            client_secret=config.client_secret,
            default_realm=self.default_realm,
            has_realm=self.backend.has_company,
        )
        self.chaos = Chaos()
        self.limiter = Limiter(
            requests_per_window=config.requests_per_window,
            window_seconds=config.window_seconds,
            max_in_flight=config.max_in_flight,
            batch_per_window=config.batch_per_window,
            clock=clock,
        )
        self.request_ids = RequestIds()
        self.webhooks: WebhookSender | None = None
        if config.webhook_url:
            if not config.webhook_verifier_token:
                raise ValueError("webhook_verifier_token is required when webhook_url is set")
            self.webhooks = WebhookSender(
                url=config.webhook_url,
                verifier_token=config.webhook_verifier_token,
                format=config.webhook_format,
                clock=clock,
                retry_scale=config.webhook_retry_scale,
                transport=webhook_transport,
            )
            self.backend.subscribe(self.webhooks.notify)
        self.saver: StateSaver | None = None
        restored = False
        if config.state_path is not None:
            restored = self._load_state(config.state_path)
            self.saver = StateSaver(config.state_path, self._snapshot)
            self.backend.subscribe(lambda _event: self._mark_dirty())
        if not restored:
            self.backend.add_company(DEMO_REALM_ID, seed="demo")
        self._api = ApiHandler(self)
        self.app = Starlette(
            routes=[
                *self.oauth.routes(),
                Mount("/_emulator", routes=admin.routes(self)),
                # An ASGI endpoint (not a function) gets every method and the untouched path.
                Route("/v3/{rest:path}", self._api),
            ],
            middleware=[Middleware(_Stamp, after_post=self._mark_dirty)],
            exception_handlers={404: self._not_found},
            lifespan=self._lifespan,
        )

    # ---- the public facade ---------------------------------------------------------------------

    def issue_tokens(self, realm_id: str = DEMO_REALM_ID) -> TokenPair:
        """Tokens for a company, skipping the browser step (tests and demos)."""
        if not self.backend.has_company(realm_id):
            raise ValueError(f"no company with realm id {realm_id}")
        return self.oauth.issue_tokens(realm_id)

    def reset(self) -> None:
        """Companies back to their seed; requestids, limit windows and faults forgotten.

        OAuth grants survive a reset, so a test's client keeps its token.
        """
        self.backend.reset()
        self.request_ids.clear()
        self.limiter.reset()
        self.chaos.clear()
        self._mark_dirty()

    def now(self) -> datetime:
        """The emulator's current time (from its clock), timezone-aware."""
        return datetime.fromtimestamp(self.clock(), UTC)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Emulator]:
        """Start the webhook sender and the state saver; stop them and save on exit.

        The app's lifespan does this under uvicorn. `httpx2.ASGITransport` sends no lifespan
        events, so in-process tests that need webhooks use `async with emulator.running():`.
        """
        async with anyio.create_task_group() as tasks:
            if self.webhooks is not None:
                await self.webhooks.start()
            if self.saver is not None:
                tasks.start_soon(self.saver.run)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    if self.webhooks is not None:
                        await self.webhooks.stop()
                    if self.saver is not None:
                        self.saver.save()

    # ---- internals -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with self.running():
            yield

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        # QBO answers an unknown path with 400 and its code-500 fault, not 404.
        fault = unsupported_path(ApiRequest(request.scope))
        status, content_type, body = render(fault, self.now())
        return Response(body, status_code=status, media_type=content_type)

    def default_realm(self) -> str:
        """The company the authorize step and `/_emulator/tokens` pick when none is named."""
        if self.backend.has_company(DEMO_REALM_ID):
            return DEMO_REALM_ID
        realms = self.backend.realm_ids()
        return realms[0] if realms else DEMO_REALM_ID

    def _mark_dirty(self) -> None:
        if self.saver is not None:
            self.saver.mark_dirty()

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.backend.snapshot(), self.oauth.snapshot()

    def _load_state(self, path: Path) -> bool:
        data = read_state(path)
        if data is None:
            return False
        try:
            self.backend.restore(data["backend"])
            self.oauth.restore(data["oauth"])
        except Exception as exc:
            raise StateFileError(
                f"the emulator state file {path} cannot be restored: {exc}"
            ) from None
        return True
