"""Helpers for the client-pipeline tests: the emulator in process, a client on it, and a
transport wrapper that records what went over the wire (it changes nothing)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import uvicorn

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource, TokenSource
from qb_mcp.store.db import Database

REALM = DEMO_REALM_ID
# Generous limits for tests that are not about limits: the emulator's real ones are per minute
# of wall-clock time.
ROOMY = Limits(requests_per_window=1_000_000, max_in_flight=50, batch_per_window=1_000_000)


def roomy_emulator(**config: Any) -> Emulator:
    defaults: dict[str, Any] = {
        "requests_per_window": 1_000_000,
        "max_in_flight": 50,
        "batch_per_window": 1_000_000,
    }
    defaults.update(config)
    return Emulator(EmulatorConfig(**defaults))


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    content: bytes


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes every request to the emulator's ASGI app and keeps a copy of it."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx2.ASGITransport(app=emulator.app)
        self.sent: list[Sent] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        content = await request.aread()
        url = urlsplit(str(request.url))
        self.sent.append(
            Sent(
                request.method,
                url.path,
                parse_qs(url.query, keep_blank_values=True),
                {k.lower(): v for k, v in request.headers.items()},
                content,
            )
        )
        return await self._inner.handle_async_request(request)

    def writes(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "POST"]


@dataclass
class Sleeps:
    """An injected sleep that records the delays and returns at once."""

    delays: list[float] = field(default_factory=list)
    hook: Callable[[float], None] | None = None

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hook is not None:
            self.hook(seconds)


class Clock:
    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_client(
    emulator: Emulator,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    token_source: TokenSource | None = None,
    database: Database | None = None,
    sleeps: Sleeps | None = None,
    retry: RetryPolicy | None = None,
    limiter: RealmLimiter | None = None,
    realm_id: str = REALM,
    **options: Any,
) -> QBOClient:
    """A client on the in-process emulator, with its own roomy limiter and instant retries."""
    if token_source is None:
        token_source = StaticTokenSource({realm_id: emulator.issue_tokens(realm_id).access_token})
    if retry is None:
        retry = RetryPolicy(jitter=lambda: 1.0, sleep=sleeps or Sleeps())
    return QBOClient(
        realm_id=realm_id,
        token_source=token_source,
        base_url="http://emulator",
        transport=transport or httpx2.ASGITransport(app=emulator.app),
        database=database,
        retry=retry,
        limiter=limiter or RealmLimiter(ROOMY),
        **options,
    )


@contextmanager
def served(emulator: Emulator) -> Iterator[str]:
    """The emulator under uvicorn on a loopback port, in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        emulator.app, host="127.0.0.1", port=port, log_level="critical", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the emulator did not start under uvicorn")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
