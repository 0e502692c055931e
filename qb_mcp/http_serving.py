"""How our HTTP servers (`qb-mcp webhooks`, `qb-mcp serve --transport http`) treat slow clients.

A client that opens a connection and then sends a byte now and then (slowloris) costs a
connection, a task and buffers for as long as it keeps going; enough of them and memory grows and
real deliveries wait. Three bounds, all on by default (`server_config`):
- a connection must deliver a complete request head within `HEAD_TIMEOUT` (10 s) of connecting,
  or of the answer to its previous request, or it is closed (`_head_deadline`; uvicorn has no
  such timeout of its own: its keep-alive timer stops at the first byte of a new request);
- a request body must arrive whole within `BODY_TIMEOUT` (10 s) of the request's start, or the
  request is answered 408 with `Connection: close` (`BodyDeadline`, an ASGI middleware, so it
  works the same under any server and in tests; a body that is done is not timed, so long-lived
  answers such as MCP's event streams are unaffected);
- at most `MAX_CONNECTIONS` (200) connections at once: past that, uvicorn answers 503 at once and
  closes (`limit_concurrency`); idle keep-alive connections close after `KEEP_ALIVE` (5 s).
Intuit's notifications are a few KB sent at once, so honest deliveries never come near these.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
KEEP_ALIVE = 5
MAX_CONNECTIONS = 200


TOO_SLOW = b'{"error": "the request body did not arrive in time"}'


class BodyDeadline:
    """ASGI middleware: the whole request body must arrive within `seconds` of the request's
    start; otherwise the request is answered 408 with `Connection: close`.

    When time runs out the app is told the client disconnected (what it already handles), and
    whatever it answers then (a 400, or the 500 of an error middleware) is replaced by the 408,
    so the connection is closed whichever layer the app's own handling ends in. An app that
    answered before reading its whole body keeps its answer.
    """

    def __init__(self, app: ASGIApp, seconds: float = BODY_TIMEOUT) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False
        answered = False  # the app's own answer went out
        timed_out = False
        replaced = False  # our 408 went out

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done or timed_out:
                return await receive()  # waiting for a disconnect: not the body's time
            message: Message | None = None
            # asyncio's own timeout, not an anyio cancel scope: this runs for every request, and
            # the scope's bookkeeping was a tenth of the listener's time per delivery (profiled
            # with bench/webhooks.py). The servers run on asyncio (uvicorn).
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                message = None
            if message is None:
                timed_out = True
                client = scope.get("client")
                log.warning(
                    "%s %s: the request body did not arrive within %g s; answering 408 and "
                    "closing the connection (client %s)",
                    scope.get("method"),
                    scope.get("path"),
                    self.seconds,
                    client[0] if client else "?",
                )
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def answer_too_slow() -> None:
            nonlocal replaced
            replaced = True
            await send(
                {
                    "type": "http.response.start",
                    "status": 408,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(TOO_SLOW)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": TOO_SLOW})

        async def watched_send(message: Message) -> None:
            nonlocal answered
            if timed_out and not answered:
                if not replaced and message["type"] == "http.response.start":
                    await answer_too_slow()
                return  # the app's answer to a request we gave up on goes nowhere
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except Exception:
            if not timed_out or answered:
                raise
            # The app's way of failing on the disconnect we made up: already logged above.
        if timed_out and not answered and not replaced:
            await answer_too_slow()


def _head_deadline(base: type[asyncio.Protocol], seconds: float) -> type[asyncio.Protocol]:
    """`base` (uvicorn's HTTP protocol), closing connections that take longer than `seconds` to
    deliver a complete request head.

    Relies on what uvicorn's own graceful shutdown relies on: `cycle` is the current request
    (None before the first), with `response_complete`. If a uvicorn release drops either, the
    deadline turns itself off rather than cut requests short (tests/webhooks/test_slow_clients.py
    then fails).
    """

    class HeadDeadlineProtocol(base):  # type: ignore[valid-type, misc]
        _deadline_timer: asyncio.TimerHandle | None = None
        _deadline_cycle: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
            self._deadline_cycle = getattr(self, "cycle", None)
            self._deadline_timer = asyncio.get_running_loop().call_later(
                seconds, self._head_deadline_passed
            )

        def _head_deadline_passed(self) -> None:
            self._deadline_timer = None
            if not hasattr(self, "cycle"):
                return
            cycle = self.cycle
            waiting = cycle is None or getattr(cycle, "response_complete", False)
            if cycle is self._deadline_cycle and waiting:
                transport = getattr(self, "transport", None)
                if transport is not None and not transport.is_closing():
                    log.info("closing a connection that sent no complete request in %g s", seconds)
                    transport.close()

    HeadDeadlineProtocol.__name__ = f"HeadDeadline{base.__name__}"
    return HeadDeadlineProtocol


def server_config(
    app: ASGIApp,
    *,
    log_level: str = "warning",
    head_timeout: float = HEAD_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    max_connections: int = MAX_CONNECTIONS,
    **options: Any,
) -> Any:
    """A `uvicorn.Config` for `app` with the bounds above (`options` go to uvicorn as they are).

    The body deadline is the app's own (`BodyDeadline`); this adds the connection-level ones.
    """
    import uvicorn
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    # uvicorn types the table's keys as a Literal in older releases (0.31) and as str in newer
    # ones; the lookup itself refuses an unknown name, so the name is left untyped for both.
    name: Any = str(options.pop("http", "auto"))
    protocol = import_from_string(HTTP_PROTOCOLS[name])
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        http=_head_deadline(protocol, head_timeout),
        timeout_keep_alive=keep_alive,
        limit_concurrency=max_connections,
        **options,
    )
