"""`qb-mcp serve` on stdio, stoppable with Ctrl-C.

The SDK reads stdin on an anyio worker thread and waits for that read on shutdown, so a SIGINT
(which cancels everything else: the lifespan closes the database and saves the demo company)
leaves the process alive until the client writes another line or closes the pipe. Here stdin is
read by a daemon thread that the shutdown does not wait for; the lines reach the SDK's stdio
transport through a memory stream, and stdout stays the SDK's (it still diverts fd 1 to stderr,
so a stray print cannot corrupt the wire). fd 0 is pointed at the null device while serving, as
the SDK does, so a child process cannot read the client's messages.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.stdio import stdio_server

from qb_mcp.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer

# Lines read ahead of the server (the reader waits when they are not taken).
BUFFERED_LINES = 16


def _read_lines(
    source: BinaryIO, send: MemoryObjectSendStream[str], token: anyio.lowlevel.EventLoopToken
) -> None:
    try:
        for raw in iter(source.readline, b""):
            anyio.from_thread.run(send.send, raw.decode("utf-8", errors="replace"), token=token)
    except (RuntimeError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        return  # the server is gone: nothing to hand the line to
    finally:
        with suppress(RuntimeError):  # the loop is gone already
            anyio.from_thread.run_sync(send.close, token=token)


@asynccontextmanager
async def stdin_lines() -> AsyncIterator[MemoryObjectReceiveStream[str]]:
    """The lines of stdin, read by a daemon thread; fd 0 is /dev/null meanwhile."""
    private = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # closefd=False: the abandoned reader may still block on the descriptor at exit.
    source = os.fdopen(private, "rb", closefd=False)
    send, receive = anyio.create_memory_object_stream[str](BUFFERED_LINES)
    reader = threading.Thread(
        target=_read_lines,
        args=(source, send, anyio.lowlevel.current_token()),
        name="qb-mcp stdin",
        daemon=True,
    )
    reader.start()
    try:
        async with receive:
            yield receive
    finally:
        os.dup2(private, 0)


def check_stdin() -> None:
    """Refuse to start without a stdin (closed, as `<&-` does), before the event loop exists:
    its own descriptors would take fd 0 and break it."""
    try:
        os.fstat(0)
    except OSError:
        raise ConfigError(
            "stdin is closed: `qb-mcp serve` reads the client's MCP messages from stdin (an MCP "
            "client starts it), or use `--transport http`"
        ) from None


async def run_stdio(server: MCPServer[Any]) -> None:
    """Serve `server` over stdin and stdout until the client closes stdin or a SIGINT."""
    lowlevel = server._lowlevel_server  # as MCPServer.run_stdio_async, with our stdin
    async with (
        stdin_lines() as lines,
        stdio_server(stdin=lines) as (read_stream, write_stream),  # type: ignore[arg-type]
    ):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
