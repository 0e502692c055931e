"""MCP logging: the server's own log records, sent to the client as `notifications/message`.

A developer debugging an integration sees what the server did for each request: every QuickBooks
request with its status and `intuit_tid`, retries and their waits, token refreshes. Both
protocol eras, as the SDK defines them:
- handshake connections (up to 2025-11-25) choose a level with `logging/setLevel`, kept per
  connection; until then nothing is sent;
- 2026-07-28 connections opt in per request with the `io.modelcontextprotocol/logLevel` `_meta`
  key (there is no `logging/setLevel`); the SDK's session drops what was not asked for.

Records are forwarded only while a request is being handled, on that request's own stream
(`RequestLogs`, a middleware): records of background work (the event follower, periodic CDC)
stay on stderr. Only `qb_mcp.*` loggers are forwarded, never the SDK's or a library's, and every
message goes through `redact` first: no token, secret or Authorization header reaches the client.
Text from QuickBooks inside a message stays data: the message is sent as `data.message`, and a
wait as `data.wait_seconds` and `data.wait` (its reason: retry, throttled, budget).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections import deque
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import LOG_LEVEL_META_KEY, EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from qb_mcp.redaction import redact

if TYPE_CHECKING:
    from mcp.server import MCPServer

# The SDK marks MCP logging deprecated as of 2026-07-28 (SEP-2577) but keeps it; so do we, and
# the warning would only repeat that on every message.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning, module=__name__)

ROOT_LOGGER = "qb_mcp"
# The per-connection scratch state key of the level a handshake client set.
STATE_KEY = "qb_mcp.log_level"

# MCP (RFC 5424) levels to Python's, and back.
PYTHON_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO + 5,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL + 5,
    "emergency": logging.CRITICAL + 10,
}


def mcp_level(levelno: int) -> LoggingLevel:
    """The MCP level of a Python record level."""
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


@dataclass(slots=True)
class _Sink:
    """One request's records waiting to be sent (appended from any thread)."""

    threshold: int
    loop_thread: int = field(default_factory=threading.get_ident)
    records: deque[logging.LogRecord] = field(default_factory=deque)
    wake: anyio.Event = field(default_factory=anyio.Event)
    closed: bool = False


_SINK: ContextVar[_Sink | None] = ContextVar("qb_mcp_log_sink", default=None)


class _Forwarder(logging.Handler):
    """Hands `qb_mcp.*` records at the requested level to the current request's sink."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = _SINK.get()
        if sink is None or sink.closed or record.levelno < sink.threshold:
            return
        sink.records.append(record)
        if threading.get_ident() == sink.loop_thread:
            # From a worker thread the record waits for the end of the request instead
            # (an anyio Event is not thread-safe).
            sink.wake.set()


_FORWARDER = _Forwarder()


def _install_forwarder() -> None:
    logger = logging.getLogger(ROOT_LOGGER)
    if _FORWARDER not in logger.handlers:
        logger.addHandler(_FORWARDER)


def _let_through(threshold: int) -> None:
    """Make `qb_mcp` loggers create records down to `threshold` (stderr keeps its own level:
    `configure_logging` puts it on the handler)."""
    logger = logging.getLogger(ROOT_LOGGER)
    if logger.getEffectiveLevel() > threshold:
        logger.setLevel(threshold)


class RequestLogs:
    """The middleware: forwards the records made while a request is handled, on its stream."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in secrets if s)

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        threshold = requested_threshold(ctx)
        if threshold is None or ctx.request_id is None:
            return await call_next(ctx)
        _let_through(threshold)
        sink = _Sink(threshold)
        token = _SINK.set(sink)
        failure: Exception | None = None
        outcome: HandlerResult = None
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._drain, ctx, sink)
                try:
                    outcome = await call_next(ctx)
                except Exception as exc:
                    # Raised outside the task group, so that it is not wrapped in an exception
                    # group: an MCPError must keep its code (-32602 for a bad prompts/get).
                    failure = exc
                finally:
                    sink.closed = True
                    sink.wake.set()
        finally:
            _SINK.reset(token)
        if failure is not None:
            raise failure
        return outcome

    async def _drain(self, ctx: ServerRequestContext[Any, Any], sink: _Sink) -> None:
        _SINK.set(None)  # what sending logs is not sent again
        while True:
            await sink.wake.wait()
            sink.wake = anyio.Event()
            while sink.records:
                await self._send(ctx, sink.records.popleft())
            if sink.closed:
                while sink.records:  # appended from worker threads meanwhile
                    await self._send(ctx, sink.records.popleft())
                return

    async def _send(self, ctx: ServerRequestContext[Any, Any], record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage(), self._secrets)
        except Exception:  # a record whose arguments do not fit its format
            message = redact(str(record.msg), self._secrets)
        data: dict[str, Any] = {"message": message}
        # A wait (a retry's backoff, QuickBooks' throttling, the shared request budget) comes
        # as data too, so a client can show "waiting 60 s" instead of a call that looks hung.
        for attribute, key in (("qbo_wait_seconds", "wait_seconds"), ("qbo_wait_reason", "wait")):
            value = getattr(record, attribute, None)
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                data[key] = value
        try:
            await ctx.session.send_log_message(
                mcp_level(record.levelno),
                data,
                logger=record.name,
                related_request_id=ctx.request_id,
            )
        except Exception:  # the client went away; the request's own answer says the rest
            return


def requested_threshold(ctx: ServerRequestContext[Any, Any]) -> int | None:
    """The Python level the client asked for on this request, or None (nothing to send)."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        wanted = (ctx.meta or {}).get(LOG_LEVEL_META_KEY)
        return PYTHON_LEVELS.get(wanted) if isinstance(wanted, str) else None
    state = _connection_state(ctx)
    level = state.get(STATE_KEY) if state is not None else None
    return PYTHON_LEVELS.get(level) if isinstance(level, str) else None


def _connection_state(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any] | None:
    # The SDK keeps per-connection scratch state on its Connection, which the request's session
    # holds; there is no public accessor from a request context yet.
    connection = getattr(ctx.session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else None


def install_logging(server: MCPServer[Any], *, secrets: Iterable[str] = ()) -> None:
    """`logging/setLevel` (handshake era) and the per-request forwarding (both eras)."""
    _install_forwarder()

    async def set_level(
        ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        state = _connection_state(ctx)
        if state is not None:
            state[STATE_KEY] = params.level
        _let_through(PYTHON_LEVELS[params.level])
        return EmptyResult()

    lowlevel = server._lowlevel_server  # MCPServer has no public hook for logging/setLevel
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    server.middleware.append(RequestLogs(secrets))
