"""The webhook listener: `POST /webhooks/intuit` and `GET /healthz`, and `qb-mcp webhooks`.

For each delivery, in this order (cheap refusals first, nothing parsed before it is verified):
1. Content-Length over 1 MiB: 413 without reading the body.
2. Content type not JSON (`application/json` or any `application/*+json`, e.g. CloudEvents'
   batch type): 415.
3. The body is read counting bytes; past 1 MiB (a chunked body, or a lying Content-Length): 413.
4. `intuit-signature` missing or not matching the raw bytes (constant-time): 401.
5. Parsed and normalised (`events.parse_body`); unusable: 400, reason logged (never the body).
6. Stored, all or nothing, through `store.events.EventWriter` (group commit: single-event
   deliveries arriving together share one INSERT; see its docstring for why and the rules); a
   database failure: 500, so Intuit retries. Only once committed: 200, with how many events
   were new and how many were duplicates.
Wrong method: 405 (Starlette's router). `on_stored` runs after the 200 has been sent, so a slow
subscriber never delays Intuit's acknowledgement.

Slow clients (`qb_mcp.http_serving`): a body that has not arrived whole within 10 s is answered
408 and its connection closed (`BodyDeadline`, part of `webhook_app` and of `serve`'s app); a
connection that delivers no complete request head within 10 s is closed, and past 200 connections
new requests get 503 at once (`server_config`, for `qb-mcp webhooks` and `serve --transport
http`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, QbMcpError
from qb_mcp.http_serving import BODY_TIMEOUT, BodyDeadline, server_config
from qb_mcp.sockets import listen
from qb_mcp.store import events as store
from qb_mcp.store.db import Database
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.events import MalformedNotification, parse_body
from qb_mcp.webhooks.signature import SIGNATURE_HEADER, verify

if TYPE_CHECKING:
    from qb_mcp.webhooks.catchup import CatchUp
    from qb_mcp.webhooks.forward import Forwarder
    from qb_mcp.webhooks.worker import Worker

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/intuit"
MAX_BODY = 1024 * 1024  # 1 MiB; Intuit's notifications are a few KB
TOKEN_MISSING = (
    "QBO_WEBHOOK_VERIFIER_TOKEN is not set: copy the verifier token from your app's Webhooks "
    "page at developer.intuit.com (the listener will not start without it)"
)

OnStored = Callable[[list[StoredEvent]], Awaitable[None]]


class _TooLarge(Exception):
    pass


def _json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class Listener:
    """The `POST /webhooks/intuit` endpoint over one database and verifier token."""

    def __init__(
        self,
        database: Database,
        verifier_token: str,
        *,
        on_stored: OnStored | None = None,
        clock: Callable[[], float] = time.time,
        max_body: int = MAX_BODY,
    ) -> None:
        if not verifier_token:
            raise ConfigError(TOKEN_MISSING)
        self._database = database
        self._writer = store.EventWriter(database)
        self._token = verifier_token
        self._on_stored = on_stored
        self._clock = clock
        self._max_body = max_body

    async def receive(self, request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return _refuse(400, "Content-Length is not a number")
            if int(declared) > self._max_body:
                return _refuse(413, f"body over {self._max_body} bytes")
        if not _json_content_type(request.headers.get("content-type", "")):
            return _refuse(415, "Content-Type must be application/json")
        try:
            body = await self._read(request)
        except _TooLarge:
            return _refuse(413, f"body over {self._max_body} bytes")
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening for an answer
        if not verify(body, request.headers.get(SIGNATURE_HEADER), self._token):
            return _refuse(401, "missing or invalid intuit-signature")
        try:
            events = parse_body(body)
        except MalformedNotification as exc:
            return _refuse(400, f"malformed notification: {exc.reason}")
        try:
            result = await self._writer.store(events, now=self._clock())
        except sqlite3.Error as exc:
            log.error("webhook not stored (%s); answering 500 so Intuit retries", exc)
            return JSONResponse({"error": "could not store the events; retry"}, status_code=500)
        background = None
        if result.stored and self._on_stored is not None:
            background = BackgroundTask(self._notify, result.stored)
        return JSONResponse(
            {"stored": len(result.stored), "duplicates": result.duplicates},
            background=background,
        )

    async def _read(self, request: Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def _notify(self, stored: list[StoredEvent]) -> None:
        assert self._on_stored is not None
        try:
            await self._on_stored(stored)
        except Exception:
            log.exception("on_stored callback failed (the events are stored)")


def _refuse(status: int, reason: str) -> Response:
    log.warning("webhook refused with %d: %s", status, reason)
    response = JSONResponse({"error": reason}, status_code=status)
    if status == 413:
        # Close the connection: kept alive, the server would go on reading (and discarding)
        # the rest of an oversized body to find the next request.
        response.headers["Connection"] = "close"
    return response


def webhook_routes(
    *,
    database: Database,
    verifier_token: str | None,
    on_stored: OnStored | None = None,
    clock: Callable[[], float] = time.time,
    healthz: bool = True,
) -> list[BaseRoute]:
    """`POST /webhooks/intuit` (+ `GET /healthz` unless the host app has its own).

    Raises ConfigError naming QBO_WEBHOOK_VERIFIER_TOKEN when no token is given, so an app that
    mounts these routes refuses to start rather than accept unverifiable deliveries.
    """
    listener = Listener(database, verifier_token or "", on_stored=on_stored, clock=clock)
    routes: list[BaseRoute] = [Route(WEBHOOK_PATH, listener.receive, methods=["POST"])]
    if healthz:

        async def health(request: Request) -> Response:
            try:
                await database.fetchone("SELECT 1")
            except sqlite3.Error:
                return JSONResponse({"status": "database unavailable"}, status_code=503)
            return JSONResponse({"status": "ok"})

        routes.append(Route("/healthz", health, methods=["GET"]))
    return routes


def webhook_app(
    *,
    database: Database,
    verifier_token: str | None,
    worker: Worker | None = None,
    catchup: CatchUp | None = None,
    forwarder: Forwarder | None = None,
    on_stored: OnStored | None = None,
    clock: Callable[[], float] = time.time,
    body_timeout: float = BODY_TIMEOUT,
) -> Starlette:
    """The standalone listener app; its lifespan runs the worker, the catch-up loop and the
    event forwarder if given.

    `body_timeout`: seconds a request body may take to arrive whole (`BodyDeadline`).
    """

    async def stored(events: list[StoredEvent]) -> None:
        if worker is not None:
            worker.wake()
        if forwarder is not None:
            forwarder.wake()
        if on_stored is not None:
            await on_stored(events)

    routes = webhook_routes(
        database=database, verifier_token=verifier_token, on_stored=stored, clock=clock
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if worker is not None:
                tasks.start_soon(worker.run)
            if catchup is not None:
                tasks.start_soon(catchup.run)
            if forwarder is not None:
                tasks.start_soon(forwarder.run)
            yield
            tasks.cancel_scope.cancel()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyDeadline, seconds=body_timeout)],
    )


# ---- qb-mcp webhooks ---------------------------------------------------------------------------


def run_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """`qb-mcp webhooks`: the listener alone under uvicorn, with the worker and catch-up."""
    if not settings.webhook_verifier_token:
        raise ConfigError(TOKEN_MISSING)
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1 to 65535; got {args.port}")
    sock = listen(args.host, args.port)
    try:
        return anyio.run(_serve, args, settings, sock)
    finally:
        sock.close()


async def _serve(args: argparse.Namespace, settings: Settings, sock: socket.socket) -> int:
    import uvicorn

    from qb_mcp.store import open_store, store_name
    from qb_mcp.webhooks.forward import forwarder_for, shown_url
    from qb_mcp.webhooks.worker import Worker

    async with contextlib.AsyncExitStack() as stack:
        database = await open_store(settings)
        stack.push_async_callback(database.close)
        catchup = await _catchup(settings, database, stack)
        forwarder = forwarder_for(settings, database)
        app = webhook_app(
            database=database,
            verifier_token=settings.webhook_verifier_token,
            worker=Worker(database),
            catchup=catchup,
            forwarder=forwarder,
        )
        if forwarder is not None and settings.events_forward_url:
            print(
                f"events forwarded to {shown_url(settings.events_forward_url)}",
                file=sys.stderr,
                flush=True,
            )
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(
            f"webhook listener at http://{host}:{args.port}{WEBHOOK_PATH} "
            f"(events in {store_name(settings)}; catch-up "
            f"{'on' if catchup is not None else 'off'})",
            file=sys.stderr,
            flush=True,
        )
        server = uvicorn.Server(server_config(app, lifespan="on"))
        await server.serve(sockets=[sock])
    return 0


async def _catchup(
    settings: Settings, database: Database, stack: contextlib.AsyncExitStack
) -> CatchUp | None:
    """Catch-up over the connected companies; None (said on stderr) when it cannot run."""
    from qb_mcp.auth.wiring import api_base_url, open_auth
    from qb_mcp.qbo.client import QBOClient
    from qb_mcp.webhooks.catchup import CatchUp, connected_realms

    if not await connected_realms(database):
        return None  # nothing connected: nothing to catch up (checked again on the next start)
    try:
        base_url = api_base_url(settings)
        auth = await stack.enter_async_context(open_auth(settings, create_key=False))
    except QbMcpError as exc:  # missing app credentials, an unreadable key, ...
        print(f"qb-mcp: catch-up is off: {exc}", file=sys.stderr, flush=True)
        return None

    def client_for(realm_id: str) -> Any:
        return QBOClient(
            realm_id=realm_id, token_source=auth.manager, base_url=base_url, database=database
        )

    return CatchUp(database, client_for)
