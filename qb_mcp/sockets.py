"""Listening sockets for the commands that serve HTTP (emulator, webhooks, the OAuth callback).

Binding ourselves, before uvicorn starts, turns "port in use" and "bad host" into a one-line
`ConfigError` that says what to do, instead of uvicorn's log line and exit.
"""

from __future__ import annotations

import errno
import socket

from qb_mcp.errors import ConfigError


def listen(
    host: str, port: int, *, fix: str = "pick another with --port", backlog: int = 1024
) -> socket.socket:
    """A non-blocking listening socket on host:port, or a one-line `ConfigError` ending in `fix`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: the host does not resolve ({exc.strerror})"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ConfigError(f"cannot listen on {host}:{port} ({reason}); {fix}") from None
    sock.setblocking(False)
    return sock
