"""A free loopback port, for tests that start a server in another process (which must be told a
port before it binds; in-process servers bind port 0 themselves)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
