"""`qb-mcp emulator`: one-line errors for bad setups, and a real server that saves its state."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from qb_mcp.cli import main
from tests.ports import free_port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, qbo_home: Path) -> None:
    for name in list(os.environ):
        if name.startswith("QBO_") and name != "QBO_HOME":
            monkeypatch.delenv(name)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_a_port_in_use_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(port) in line
    assert "in use" in line


def test_a_webhook_url_needs_the_verifier_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--port", "1", "--webhook-url", "http://127.0.0.1:9/hook"]) == 2
    assert "QBO_WEBHOOK_VERIFIER_TOKEN" in one_line(capsys.readouterr().err)


def test_a_corrupt_state_file_is_named_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "emulator.json"
    state.write_text("not json at all")
    assert main(["emulator", "--port", "1", "--state", str(state)]) == 2
    assert str(state) in one_line(capsys.readouterr().err)
    assert state.read_text() == "not json at all"


@pytest.mark.slow
def test_the_command_serves_the_demo_company_and_saves_on_exit(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qb_mcp", "emulator", "--port", str(port), "--state", str(state)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QBO_LOG_LEVEL": "WARNING"},
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()  # printed once the port is listening
        assert f"http://127.0.0.1:{port}" in banner
        assert "9341453050298" in banner
        assert "/_emulator/tokens" in banner
        base = f"http://127.0.0.1:{port}"
        token = httpx2.post(f"{base}/_emulator/tokens", timeout=10).json()["access_token"]
        created = httpx2.post(
            f"{base}/v3/company/9341453050298/customer",
            json={"DisplayName": "Command Line Co"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=10,
        )
        assert created.status_code == 200, created.text
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert process.returncode == 130  # Ctrl-C, after a clean shutdown (uvicorn re-raises it)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert "Command Line Co" in json.dumps(json.loads(state.read_text()))
