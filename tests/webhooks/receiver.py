"""A real HTTP receiver standing in for the CRM: uvicorn and Starlette on a free loopback port,
in a thread of its own (so tests that block, and other processes, can deliver to it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the CRM's endpoint saw; `answers` are the statuses it gives first (then 200), and
    while `hold` is clear, requests wait before answering."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    retry_after: str | None = None
    hold: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.hold.set()

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append(Received(dict(request.headers), body))
        if not self.hold.is_set():
            await anyio.to_thread.run_sync(self.hold.wait)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
        headers = {"Retry-After": self.retry_after} if self.retry_after and status >= 400 else {}
        return Response(status_code=status, headers=headers)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` requests arrived (generous: the machine is shared)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.received)} of {count} deliveries arrived")
            time.sleep(0.02)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/qb-events", receiver.endpoint, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/qb-events"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the receiver did not start")
        time.sleep(0.01)
    try:
        yield receiver
    finally:
        receiver.hold.set()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
