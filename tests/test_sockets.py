import socket

import pytest

from qb_mcp.errors import ConfigError
from qb_mcp.sockets import listen


def test_listens_on_a_free_port() -> None:
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] > 0
        assert sock.getblocking() is False
    finally:
        sock.close()


def test_port_in_use_is_one_line_with_the_fix() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(ConfigError) as caught:
            listen("127.0.0.1", taken.getsockname()[1], fix="set QBO_REDIRECT_URI to another")
        message = str(caught.value)
        assert "already in use" in message and message.endswith("set QBO_REDIRECT_URI to another")
        assert "\n" not in message
    finally:
        taken.close()


def test_unresolvable_host_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not resolve"):
        listen("no-such-host.invalid", 0)
