"""The MCP server: `build_server` (a fresh `MCPServer` per call) and `qb-mcp serve`.

The lifespan opens the database and the companies, once per process (`qb_mcp.companies`: every
connected company of the environment, each with its own client, a default one for calls that do
not name one; with none connected, the built-in emulator's demo company, in process, with its
state in `QBO_HOME/emulator-state.json`, but only while QBO_ENVIRONMENT is unset or `emulator`,
so fake books are never taken for real ones). Which companies are served is logged on stderr
(stdout carries MCP messages only).

Around the tools (separate modules): the `qbo://` resources (`server_resources`), prompts and
completions (`server_prompts`), MCP logging (`server_logging`), stdio that Ctrl-C stops
(`server_stdio`), authenticated HTTP (`server_http`). `serve --transport http` binds its socket
first, so a busy port or a bad host is one line and exit 2.

QuickBooks events (issue 6): resources `qbo://events/recent` and `qbo://events/{event_id}`, the
`recent_changes` tool, and resource-updated notifications in both protocol eras when events are
stored (`server_events`). Beside the companies, the lifespan runs:
- the event follower (always): announces events stored by this process or another one;
- serving connected companies, the webhook `Worker` (marks stored events handled, in order) and
  periodic CDC `CatchUp` of each connected realm. The built-in demo company is not caught up
  periodically: no webhook reaches it, and its changes are all made through this very server.
  `recent_changes` with `catch_up=true` still runs CDC on demand against the company it names
  (for the demo company, the in-process emulator), so the tool behaves the same on both.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import GetPromptResult, InputRequiredResult
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qb_mcp import __version__
from qb_mcp.companies import Companies, choose_connection, open_state
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, NotConnectedError, QbMcpError
from qb_mcp.server_events import EventFollower, EventPublisher
from qb_mcp.server_logging import install_logging
from qb_mcp.server_prompts import add_completions, build_prompts, check_prompt_request
from qb_mcp.server_resources import StateBox, add_resources
from qb_mcp.sockets import listen
from qb_mcp.texts import load
from qb_mcp.tools import all_specs
from qb_mcp.tools.base import AppState, build_tools, caller_policy

if TYPE_CHECKING:
    from qb_mcp.emulator import Emulator
    from qb_mcp.qbo.limiter import RealmLimiter
    from qb_mcp.store.events import StoredEvent
    from qb_mcp.webhooks.catchup import CatchUp

__all__ = ["AppState", "Companies", "build_server", "choose_connection", "open_state", "run_serve"]

log = logging.getLogger("qb_mcp.server")

SERVER_NAME = "qb-mcp"


class QbMcpServer(MCPServer[Companies]):
    """The SDK's server, with a bad `prompts/get` answered as invalid params (-32602)."""

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[Companies, Any] | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        # The SDK turns both mistakes into a ValueError: JSON-RPC error 0 (or -32603 "Internal
        # server error" on newer connections) and a traceback in the log, as if it were a bug.
        check_prompt_request(self._prompt_manager.list_prompts(), name, arguments)
        return await super().get_prompt(name, arguments, context)


def build_server(
    settings: Settings,
    *,
    emulator: Emulator | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    limiter: RealmLimiter | None = None,
    clock: Callable[[], float] = time.time,
    event_poll_interval: float = 1.0,
    catch_up_interval: float = 300.0,
) -> MCPServer[Companies]:
    """A new server for `settings`; nothing is opened until its lifespan runs.

    `emulator`: serve this emulator's demo company (tests and the demo) whatever is connected.
    `transport`: the HTTP transport for a connected company's API and OAuth calls (tests).
    `limiter`: one request budget for every company (tests; default: each realm's own
    process-wide one, QuickBooks' limits).
    With `settings.read_only` no write tool exists at all, whatever else is set.
    `event_poll_interval`: how often to look for events stored by other processes (seconds).
    `catch_up_interval`: how often a connected company is caught up by CDC (seconds).
    """

    # Static resources get no Context in this SDK, so they reach the state through this box;
    # the lifespan fills it (once per process under `serve`; per connection in memory).
    box = StateBox()
    publisher = EventPublisher()

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Companies]) -> AsyncIterator[Companies]:
        async with (
            open_state(
                settings, emulator=emulator, transport=transport, limiter=limiter, clock=clock
            ) as companies,
            run_event_loops(
                companies,
                publisher,
                poll_interval=event_poll_interval,
                catch_up_interval=catch_up_interval,
            ) as on_stored,
        ):
            box.opened.append(companies)
            box.on_stored.append(on_stored)
            try:
                yield companies
            finally:
                box.opened.remove(companies)
                box.on_stored.remove(on_stored)

    specs = all_specs(read_only=settings.read_only)
    server: MCPServer[Companies] = QbMcpServer(
        SERVER_NAME,
        version=__version__,
        instructions=load("instructions.md"),
        lifespan=lifespan,
        tools=build_tools(specs),
        log_level=settings.log_level,  # type: ignore[arg-type]
        subscriptions=publisher.bus,
    )
    # Over HTTP: a read-only token sees no write tools; a token limited to some companies sees
    # only theirs (qb_mcp.companies).
    server.middleware.append(caller_policy(specs))
    publisher.install(server)
    add_resources(server, box)
    for prompt in build_prompts():
        server.add_prompt(prompt)
    add_completions(server, box.any)
    install_logging(
        server,
        secrets=(
            settings.client_secret or "",
            settings.webhook_verifier_token or "",
            *(key.hex() for key in settings.token_keys),
        ),
    )

    @server.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "name": SERVER_NAME, "version": __version__})

    if settings.webhook_verifier_token:
        _add_webhook_listener(server, box, settings.webhook_verifier_token, clock)
    _add_login_callback(server, box, settings, transport, clock)
    return server


def _add_login_callback(
    server: MCPServer[Companies],
    box: StateBox,
    settings: Settings,
    transport: httpx2.AsyncBaseTransport | None,
    clock: Callable[[], float],
) -> None:
    """`GET /auth/intuit/callback` beside `/mcp` (HTTP transport only): a hosted
    `qb-mcp auth login --hosted` completes here, and the new company is served at once
    (`qb_mcp.auth.hosted`; the OAuth code is loaded on the first callback)."""
    handlers: list[Callable[[Request], Awaitable[Response]]] = []

    @server.custom_route("/auth/intuit/callback", methods=["GET"])  # type: ignore[untyped-decorator]
    async def intuit_callback(request: Request) -> Response:
        if not handlers:
            from qb_mcp.auth.hosted import HostedCallback

            handlers.append(
                HostedCallback(
                    settings,
                    database=lambda: box.get().database,
                    on_connected=lambda: box.get().reload(),
                    transport=transport,
                    clock=clock,
                )
            )
        return await handlers[0](request)


def _add_webhook_listener(
    server: MCPServer[Companies], box: StateBox, verifier_token: str, clock: Callable[[], float]
) -> None:
    """`POST /webhooks/intuit` beside `/mcp` (HTTP transport only): Intuit's notifications are
    verified and stored in this server's database, where `qbo://events/recent` reads them.

    The listener is built on the first delivery, from the database the lifespan opened (under
    streamable HTTP the lifespan is entered once, when the app starts).
    """
    endpoints: list[Callable[[Request], Awaitable[Response]]] = []

    @server.custom_route("/webhooks/intuit", methods=["POST"])  # type: ignore[untyped-decorator]
    async def intuit_webhooks(request: Request) -> Response:
        if not endpoints:
            from starlette.routing import Route

            from qb_mcp.webhooks.app import webhook_routes

            routes = webhook_routes(
                database=box.get().database,
                verifier_token=verifier_token,
                on_stored=box.on_stored[-1],
                clock=clock,
                healthz=False,
            )
            route = routes[0]
            assert isinstance(route, Route)
            endpoints.append(route.endpoint)
        return await endpoints[0](request)


# ---- the lifespan --------------------------------------------------------------------------------


@asynccontextmanager
async def run_event_loops(
    companies: Companies,
    publisher: EventPublisher,
    *,
    poll_interval: float = 1.0,
    catch_up_interval: float = 300.0,
) -> AsyncIterator[Callable[[list[StoredEvent]], Awaitable[None]]]:
    """Follow the event store (and, serving connected companies, run the worker and periodic
    catch-up of each; with QBO_EVENTS_FORWARD_URL, forward events to the CRM) while the server
    runs; yields the `on_stored` callback for in-process sources."""
    from qb_mcp.webhooks.forward import forwarder_for
    from qb_mcp.webhooks.worker import Worker

    follower = EventFollower(companies.database, publisher, interval=poll_interval)
    await follower.start()
    worker = Worker(companies.database, clock=companies.clock)
    forwarder = forwarder_for(companies.settings, companies.database, clock=companies.clock)

    async def on_stored(events: list[StoredEvent]) -> None:
        for event in events:
            state = companies.known(event.realm_id)
            if state is not None:
                state.directory_changed(event.entity)
        follower.wake()
        worker.wake()
        if forwarder is not None:
            forwarder.wake()

    catch_up = companies.catch_up = served_catch_up(
        companies, on_stored, interval=catch_up_interval
    )
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(follower.run)
        if companies.serves_connections:
            tasks.start_soon(worker.run)
            tasks.start_soon(catch_up.run)
        if forwarder is not None:
            tasks.start_soon(forwarder.run)
        try:
            yield on_stored
        finally:
            tasks.cancel_scope.cancel()
            companies.catch_up = None


def served_catch_up(
    companies: Companies,
    on_stored: Callable[[list[StoredEvent]], Awaitable[None]] | None = None,
    *,
    interval: float = 300.0,
) -> CatchUp:
    """Change data capture of the served companies, each through its own client
    (`recent_changes` with catch_up=true, and the periodic catch-up of the connected ones)."""
    from qb_mcp.webhooks.catchup import CatchUp

    @asynccontextmanager
    async def client_for(realm_id: str) -> AsyncIterator[Any]:
        # The company's own client (opened on first use, closed by open_state).
        state = companies.known(realm_id)
        if state is None:
            raise NotConnectedError(f"realm {realm_id} is not served here")
        yield await state.qbo()

    async def connected_realms() -> list[str]:
        # The periodic run: connected companies only (the demo company hears no webhook, and
        # all its changes are made through this very server).
        if companies.serves_connections:
            await companies.reload()
        return [
            state.realm_id
            for state in companies.listed()
            if state.source == "connection" and state.realm_id is not None
        ]

    return CatchUp(
        companies.database,
        client_for,
        realms=connected_realms,
        interval=interval,
        clock=companies.clock,
        on_stored=on_stored,
    )


# ---- qb-mcp serve ---------------------------------------------------------------------------------


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`qb-mcp serve`: stdio by default, `--transport http` for streamable HTTP on `/mcp`."""
    transport = getattr(args, "transport", "stdio")
    try:
        if transport == "http":
            host = getattr(args, "host", "127.0.0.1")
            port = int(getattr(args, "port", 8000))
            if not 0 < port < 65536:
                raise ConfigError(f"--port must be 1 to 65535; got {port}")
            no_auth = bool(getattr(args, "no_auth", False))
            # Refused before anything is bound: serving HTTP without authentication is a
            # setup mistake whatever the port (qb_mcp.server_http).
            from qb_mcp.server_http import check_auth

            anyio.run(lambda: check_auth(settings, host=host, no_auth=no_auth))
            # Bound before anything else: a busy port or a bad --host is one line and exit 2,
            # not a "serving" line followed by uvicorn's error.
            sock = listen(host, port)
            try:
                anyio.run(_serve_http, build_server(settings), settings, sock, host, port, no_auth)
            finally:
                sock.close()
        else:
            from qb_mcp.server_stdio import check_stdin, run_stdio

            check_stdin()
            anyio.run(run_stdio, build_server(settings))
    except BaseExceptionGroup as group:
        # The lifespan's one-line errors (a bad QBO_REALM_ID, say) arrive wrapped by the task
        # groups; unwrap them so the CLI prints the line instead of a traceback.
        raise _first_expected(group) or group from None
    return 0


async def _serve_http(
    server: MCPServer[Companies],
    settings: Settings,
    sock: socket.socket,
    host: str,
    port: int,
    no_auth: bool,
) -> None:
    """Streamable HTTP on `/mcp` under uvicorn, on the socket bound already: authenticated
    (`qb_mcp.server_http`), with the slow-client bounds of `qb_mcp.http_serving` (the SDK's own
    runner sets none)."""
    import uvicorn

    from qb_mcp.http_serving import server_config
    from qb_mcp.server_http import accepted_hosts_line, http_app, prepare_auth, wildcard_hint

    auth = await prepare_auth(settings, host=host, no_auth=no_auth)
    try:
        app = http_app(server, settings, host=host, auth=auth)
        shown = f"[{host}]" if ":" in host else host
        print(f"qb-mcp: MCP at http://{shown}:{port}/mcp (health: /healthz)", file=sys.stderr)
        print(
            f"qb-mcp: Host names accepted: {accepted_hosts_line(settings, host)}; "
            f"authentication: {'; '.join(auth.notes) or 'none (--no-auth)'}",
            file=sys.stderr,
        )
        hint = wildcard_hint(settings, host)
        if hint is not None:
            print(f"qb-mcp: WARNING: {hint}", file=sys.stderr)
        if settings.webhook_verifier_token:
            print(
                f"qb-mcp: QuickBooks webhooks at http://{shown}:{port}/webhooks/intuit",
                file=sys.stderr,
            )
        else:
            log.info("no QBO_WEBHOOK_VERIFIER_TOKEN: the webhook listener is off")
        config = server_config(app, log_level=settings.log_level.lower())
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        await auth.aclose()


def _first_expected(group: BaseExceptionGroup[Any]) -> QbMcpError | None:
    for exc in group.exceptions:
        if isinstance(exc, QbMcpError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_expected(exc)
            if found is not None:
                return found
    return None
