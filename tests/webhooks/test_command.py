"""`qb-mcp webhooks`: the listener alone, in its own process, seen by others through the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest

from qb_mcp.cli import main
from qb_mcp.store import open_database
from qb_mcp.webhooks.feed import recent_events
from tests.webhooks.conftest import TOKEN, free_port, post_signed

pytestmark = pytest.mark.anyio

BODY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":'
    b'"Invoice","id":"130","operation":"Void","lastUpdated":"2026-01-15T04:00:00.123-0800"}]}}]}'
)


def test_without_a_verifier_token_it_refuses_to_start_naming_the_variable(
    qbo_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QBO_WEBHOOK_VERIFIER_TOKEN", raising=False)
    assert main(["webhooks", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "QBO_WEBHOOK_VERIFIER_TOKEN" in err
    assert not qbo_home.exists()  # refused before anything was created


def test_a_bad_port_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QBO_WEBHOOK_VERIFIER_TOKEN", TOKEN)
    assert main(["webhooks", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


async def test_the_standalone_listener_stores_what_another_process_then_reads(
    tmp_path: Path,
) -> None:
    port = free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "QBO_HOME": str(home),
        "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
        "QBO_LOG_LEVEL": "WARNING",
    }
    process = await anyio.open_process(
        [sys.executable, "-m", "qb_mcp", "webhooks", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        # It prints this once its socket is listening (and the database is open).
        banner = b""
        while b"\n" not in banner:
            banner += await process.stderr.receive()
        assert f"127.0.0.1:{port}/webhooks/intuit".encode() in banner
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await post_signed(http, "/webhooks/intuit", BODY)).status_code == 200
            assert (await post_signed(http, "/webhooks/intuit", BODY, token="x")).status_code == 401
            assert (await http.get("/healthz")).json() == {"status": "ok"}
        database = await open_database(home / "qb-mcp.sqlite3")
        try:
            [event] = await recent_events(database)
        finally:
            await database.close()
        assert (event.entity, event.entity_id, event.operation) == ("Invoice", "130", "Void")
    finally:
        process.terminate()
        with anyio.fail_after(10):
            await process.wait()
    assert process.returncode in (0, -15)
