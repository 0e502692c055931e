"""Issue 10 item 7: slow clients (a byte every 0.5 s, in the head or in the body) are cut off by
the deadlines of `qb_mcp.http_serving`, while signed deliveries keep being answered in time.

Over real loopback: the listener under uvicorn with `server_config` (scaled-down deadlines, in
the test's own loop), and once as the real `qb-mcp webhooks` process with its real deadlines.
Every loop here is bounded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from qb_mcp.http_serving import BodyDeadline, server_config
from qb_mcp.store import Database
from qb_mcp.webhooks.app import webhook_app
from tests.ports import free_port
from tests.webhooks.conftest import TOKEN, listening_socket, post_signed

pytestmark = pytest.mark.anyio

BODY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":'
    b'"Invoice","id":"%d","operation":"Update","lastUpdated":"2026-01-15T04:00:00.123-0800"}]}}]}'
)
HEAD = (
    b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n"
)
DRIP = 0.5  # seconds between the bytes of a slow client


@contextlib.asynccontextmanager
async def bounded_server(app: ASGIApp, *, head_timeout: float) -> AsyncIterator[int]:
    """`app` under uvicorn with our bounds, on a free loopback port (yielded)."""
    sock = listening_socket()
    config = server_config(
        app,
        log_level="critical",
        head_timeout=head_timeout,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            try:
                yield int(sock.getsockname()[1])
            finally:
                server.should_exit = True
    finally:
        sock.close()


@dataclass
class Slow:
    """What one slow client saw: when the server closed on it (None: never, within the limit)."""

    closed_after: float | None = None
    answer: bytes = b""


async def slow_client(
    port: int, *, in_head: bool, limit: float, seen: Slow, path: bytes = b"/webhooks/intuit"
) -> None:
    """Send a request a byte every DRIP seconds (its head, or its body after a whole head) until
    the server closes the connection or `limit` seconds pass."""
    started = anyio.current_time()
    stream = await anyio.connect_tcp("127.0.0.1", port)
    head = HEAD % path
    drip = head if in_head else b"x" * 100_000
    async with stream, anyio.create_task_group() as tasks:

        async def read() -> None:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                while True:
                    seen.answer += await stream.receive()
            seen.closed_after = anyio.current_time() - started
            tasks.cancel_scope.cancel()

        tasks.start_soon(read)
        if not in_head:
            await stream.send(head)
        for index in range(int(limit / DRIP)):
            try:
                await stream.send(drip[index : index + 1])
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                break
            await anyio.sleep(DRIP)
        with anyio.move_on_after(2):  # the close may still be on its way
            await anyio.sleep_forever()
        tasks.cancel_scope.cancel()


async def deliveries(url: str, *, seconds: float, every: float = 0.25) -> list[tuple[int, float]]:
    """Signed deliveries, one every `every` seconds for `seconds`: (status, latency) each."""
    results: list[tuple[int, float]] = []
    async with httpx2.AsyncClient(timeout=10) as http:
        for number in range(int(seconds / every)):
            started = time.monotonic()
            response = await post_signed(http, f"{url}/webhooks/intuit", BODY % (1000 + number))
            results.append((response.status_code, time.monotonic() - started))
            await anyio.sleep(every)
    return results


async def test_slow_heads_and_bodies_are_cut_off_while_deliveries_are_answered(
    database: Database,
) -> None:
    deadline = 1.5
    app = webhook_app(database=database, verifier_token=TOKEN, body_timeout=deadline)
    slow = [Slow() for _ in range(150)]
    answered: list[tuple[int, float]] = []
    async with bounded_server(app, head_timeout=deadline) as port:
        url = f"http://127.0.0.1:{port}"
        async with anyio.create_task_group() as tasks:
            for number, seen in enumerate(slow):
                tasks.start_soon(
                    lambda s=seen, n=number: slow_client(port, in_head=n % 2 == 0, limit=12, seen=s)
                )

            async def deliver() -> None:
                await anyio.sleep(0.5)  # the slow ones are connected and dripping by now
                answered.extend(await deliveries(url, seconds=4))

            tasks.start_soon(deliver)
    assert answered and all(status == 200 for status, _ in answered), answered
    assert max(latency for _, latency in answered) < 3.0, answered
    closed = [seen.closed_after for seen in slow]
    assert all(after is not None for after in closed), closed
    # Closed at the deadline (plus the scheduling of a loaded machine), far before the limit.
    assert max(after for after in closed if after is not None) < deadline + 4, closed
    bodies = slow[1::2]
    assert all(b"408" in seen.answer.split(b"\r\n", 1)[0] for seen in bodies)


async def test_a_slow_answer_and_a_kept_alive_connection_are_not_cut() -> None:
    async def slow(request: Request) -> PlainTextResponse:
        await anyio.sleep(2.0)
        return PlainTextResponse("done")

    async def quick(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = BodyDeadline(
        Starlette(routes=[Route("/slow", slow), Route("/quick", quick)]), seconds=1.0
    )
    async with (
        bounded_server(app, head_timeout=1.0) as port,
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        assert (await http.get("/slow")).text == "done"  # the app may take its time
        for _ in range(3):  # one connection, requests 0.5 s apart: under every deadline
            assert (await http.get("/quick")).text == "ok"
            await anyio.sleep(0.5)


async def test_past_the_connection_limit_new_requests_get_503_at_once(database: Database) -> None:
    app = webhook_app(database=database, verifier_token=TOKEN)
    sock = listening_socket()
    config = server_config(app, log_level="critical", max_connections=5, lifespan="on")
    server = uvicorn.Server(config)
    streams = []
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            port = int(sock.getsockname()[1])
            for _ in range(5):
                stream = await anyio.connect_tcp("127.0.0.1", port)
                await stream.send(b"POST /webhooks/intuit HTTP/1.1\r\n")
                streams.append(stream)
            await anyio.sleep(0.3)
            async with httpx2.AsyncClient(timeout=5) as http:
                started = time.monotonic()
                response = await post_signed(
                    http, f"http://127.0.0.1:{port}/webhooks/intuit", BODY % 1
                )
            assert response.status_code == 503
            assert time.monotonic() - started < 2
            server.should_exit = True
    finally:
        for stream in streams:
            await stream.aclose()
        sock.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
async def test_the_webhooks_command_cuts_off_150_slow_clients(tmp_path: Path) -> None:
    """The issue's own scenario against `qb-mcp webhooks` and its real 10 s deadlines."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env.update(
        QBO_HOME=str(tmp_path / "home"),
        QBO_WEBHOOK_VERIFIER_TOKEN=TOKEN,
        QBO_LOG_LEVEL="ERROR",
    )
    process = await anyio.open_process(
        [sys.executable, "-m", "qb_mcp", "webhooks", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(timeout=5) as http:
            for _ in range(100):  # until it listens (bounded)
                with contextlib.suppress(httpx2.TransportError):
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                await anyio.sleep(0.1)
        before = rss_mib(process.pid)
        slow = [Slow() for _ in range(150)]
        answered: list[tuple[int, float]] = []
        peak = before
        async with anyio.create_task_group() as tasks:
            for seen in slow:
                tasks.start_soon(lambda s=seen: slow_client(port, in_head=False, limit=20, seen=s))

            async def deliver() -> None:
                nonlocal peak
                await anyio.sleep(1)
                answered.extend(await deliveries(url, seconds=6, every=0.5))
                peak = max(peak, rss_mib(process.pid))

            tasks.start_soon(deliver)
        after = rss_mib(process.pid)
    finally:
        process.terminate()
        with anyio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
    closed = [seen.closed_after for seen in slow]
    assert all(after is not None and after < 15 for after in closed), closed
    assert all(status == 200 for status, _ in answered) and answered
    assert max(latency for _, latency in answered) < 3.0, answered
    print(f"RSS {before:.1f} MiB before, {peak:.1f} at the peak, {after:.1f} after")


@pytest.mark.slow
async def test_serve_over_http_cuts_off_slow_bodies_on_every_route(tmp_path: Path) -> None:
    """`qb-mcp serve --transport http` (webhooks mounted beside /mcp), real 10 s deadlines."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env.update(
        QBO_HOME=str(tmp_path / "home"), QBO_WEBHOOK_VERIFIER_TOKEN=TOKEN, QBO_LOG_LEVEL="ERROR"
    )
    # --no-auth (loopback): what is measured is the body deadline, which a 401 answered before
    # the body is read would hide on /mcp.
    process = await anyio.open_process(
        [
            *(sys.executable, "-m", "qb_mcp", "serve", "--transport", "http"),
            *("--port", str(port), "--no-auth"),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    slow = [Slow() for _ in range(20)]
    answered: list[tuple[int, float]] = []
    try:
        async with httpx2.AsyncClient(timeout=5) as http:
            for _ in range(150):  # until it listens (bounded)
                with contextlib.suppress(httpx2.TransportError):
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                await anyio.sleep(0.1)
        async with anyio.create_task_group() as tasks:
            for number, seen in enumerate(slow):
                path = b"/mcp" if number % 2 else b"/webhooks/intuit"
                tasks.start_soon(
                    lambda s=seen, p=path: slow_client(
                        port, in_head=False, limit=20, seen=s, path=p
                    )
                )

            async def deliver() -> None:
                await anyio.sleep(1)
                answered.extend(await deliveries(url, seconds=4, every=0.5))

            tasks.start_soon(deliver)
    finally:
        process.terminate()
        with anyio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
    closed = [seen.closed_after for seen in slow]
    assert all(after is not None and after < 15 for after in closed), closed
    assert all(b"408" in seen.answer.split(b"\r\n", 1)[0] for seen in slow)
    assert answered and all(status == 200 for status, _ in answered), answered
    assert max(latency for _, latency in answered) < 3.0, answered
