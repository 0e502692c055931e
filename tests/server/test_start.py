"""Safety at start: no demo company standing in for a chosen real environment, a wrong
QBO_TOKEN_KEYS refused, a busy port or a bad host refused before serving, and Ctrl-C stopping
a stdio server promptly."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.server import build_server
from tests.server.conftest import connect_demo_company, error_text

pytestmark = pytest.mark.anyio


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    env.update(settings)
    return env


@pytest.mark.parametrize("environment", ["production", "sandbox"])
async def test_a_chosen_real_environment_with_nothing_connected_serves_no_demo_company(
    tmp_path: Path, environment: str
) -> None:
    settings = Settings.from_env({"QBO_HOME": str(tmp_path), "QBO_ENVIRONMENT": environment})
    async with Client(build_server(settings)) as client:
        status = await client.call_tool("connection_status", {})
        found = await client.call_tool("find_customer", {"name": "Amy"})
        written = await client.call_tool("upsert_customer", {"display_name": "Amy's Bird"})
    assert not status.is_error
    assert status.structured_content["source"] == "none"  # type: ignore[index]
    assert "qb-mcp auth login" in status.structured_content["problem"]  # type: ignore[index]
    for result in (found, written):
        assert result.is_error
        assert "no company connected" in error_text(result)
        assert "qb-mcp auth login" in error_text(result)
    assert not (tmp_path / "emulator-state.json").exists()


@pytest.mark.parametrize("variables", [{}, {"QBO_ENVIRONMENT": "emulator"}])
async def test_the_demo_company_is_served_when_no_environment_or_the_emulator_is_chosen(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    settings = Settings.from_env({"QBO_HOME": str(tmp_path), **variables})
    async with Client(build_server(settings)) as client:
        status = await client.call_tool("connection_status", {})
    assert status.structured_content["source"] == "emulator"  # type: ignore[index]


async def _connect_demo_company(settings: Settings, emulator: Emulator) -> None:
    await connect_demo_company(settings, emulator, transport=httpx2.ASGITransport(app=emulator.app))


def _key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode().rstrip("=")


def test_a_wrong_qbo_token_keys_is_refused_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    right = Settings.from_env(
        {"QBO_HOME": str(home), "QBO_ENVIRONMENT": "emulator", "QBO_TOKEN_KEYS": _key(1)}
    )
    anyio.run(
        _connect_demo_company,
        dataclasses.replace(right, oauth_base_url="http://emulator"),
        Emulator(),
    )
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve"],
        env=_env(home, QBO_ENVIRONMENT="emulator", QBO_TOKEN_KEYS=_key(2)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "QBO_TOKEN_KEYS" in lines[0] and "qb-mcp doctor" in lines[0]
    assert _key(1) not in done.stderr and _key(2) not in done.stderr


def _serve_http(home: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # With a bearer token, so that what is tested is the listening, not the refusal to serve
    # unauthenticated (tests/server/test_http_auth.py).
    subprocess.run(
        [sys.executable, "-m", "qb_mcp", "tokens", "add", "start-test"],
        env=_env(home),
        capture_output=True,
        timeout=60,
        check=True,
    )
    return subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve", "--transport", "http", *options],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_http(tmp_path, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"qb-mcp: cannot listen on 127.0.0.1:{port} (the port is already in use); "
        "pick another with --port"
    ]


def test_serve_on_an_unresolvable_host_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _serve_http(tmp_path, "--host", "no-such-host.invalid", "--port", "8000")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "cannot listen on no-such-host.invalid:8000" in line


@pytest.mark.slow
def test_ctrl_c_stops_a_stdio_server_promptly(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "qb_mcp", "serve"],
        env=_env(tmp_path / "home"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        for message in (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "find_customer", "arguments": {"name": "Amy"}},
            },
        ):
            server.stdin.write(json.dumps(message).encode() + b"\n")
            server.stdin.flush()
            if "id" in message:
                assert b'"result"' in server.stdout.readline()
        # The demo company is open now (its state saver running), and stdin stays open.
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert code == 130
    assert (tmp_path / "home" / "emulator-state.json").exists()  # saved on the way out


def test_stdio_serve_without_a_stdin_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve"],
        env=_env(tmp_path / "home"),
        preexec_fn=lambda: os.close(0),  # as `qb-mcp serve <&-`
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "stdin is closed" in line
