"""Fixtures for emulator tests, reusable by anyone who needs a QuickBooks to talk to.

- `clock`: a fake clock (epoch seconds) every emulator component reads; `clock.advance(s)`.
- `emulator_config`: the `EmulatorConfig` the `emulator` fixture is built from (override the
  fixture in a module to change limits, token lifetimes, ...).
- `emulator`: an `Emulator` on the fake clock, serving the demo company.
- `client`: an `httpx2.AsyncClient` talking to it in process, with a valid bearer token for the
  demo company and `Accept: application/json`; `base` is the company's API path.
- `in_process_client(emulator, token)`, `served(emulator)` (uvicorn on a loopback port) and
  `state_of(emulator)` (the business state as text, to check that a request changed nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx2
import pytest

if TYPE_CHECKING:
    from qb_mcp.emulator import Emulator, EmulatorConfig

# The emulator is imported inside the fixtures, so that tests of single emulator modules (the
# query language, faults, ...) run even while another module is being rebuilt.

# 2026-01-15T12:00:00Z: inside any CDC window a test cares about, and not near a DST change.
START = 1_768_478_400.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self._break_next = False

    def __call__(self) -> float:
        if self._break_next:
            self._break_next = False
            raise RuntimeError("clock failure injected by a test")
        return self.now

    def break_next_read(self) -> None:
        """Make the next reading raise: a way to force an unexpected error inside the emulator."""
        self._break_next = True

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    from qb_mcp.emulator import EmulatorConfig

    return EmulatorConfig()


@pytest.fixture
def emulator(clock: FakeClock, emulator_config: EmulatorConfig) -> Emulator:
    from qb_mcp.emulator import Emulator

    return Emulator(emulator_config, clock=clock)


@pytest.fixture
def realm_id() -> str:
    from qb_mcp.emulator import DEMO_REALM_ID

    return str(DEMO_REALM_ID)


@pytest.fixture
def base(realm_id: str) -> str:
    """The demo company's API path: `f"{base}/customer/1"`."""
    return f"/v3/company/{realm_id}"


def in_process_client(emulator: Emulator, token: str | None = None) -> httpx2.AsyncClient:
    """A client for the emulator through ASGITransport (with a bearer token when given)."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emulator.app),
        base_url="http://emulator",
        headers=headers,
    )


@pytest.fixture
async def client(emulator: Emulator, realm_id: str) -> AsyncIterator[httpx2.AsyncClient]:
    token = emulator.issue_tokens(realm_id).access_token
    async with in_process_client(emulator, token) as client:
        yield client


def state_of(emulator: Emulator) -> str:
    """The emulator's whole business state, frozen as text (to check a request changed nothing)."""
    import json

    return json.dumps(emulator.backend.snapshot(), sort_keys=True, default=str)


@contextlib.contextmanager
def served(emulator: Emulator) -> Iterator[str]:
    """Run the emulator under uvicorn on a free loopback port (in a thread); yields its base URL.

    The socket is bound and listening before the thread starts, so clients can connect at once
    (the kernel queues them until uvicorn accepts): no waiting for start-up.
    """
    import threading

    import uvicorn

    from qb_mcp.sockets import listen as bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            emulator.app,
            log_level="critical",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
