"""`qb-mcp webhooks`: the listener alone, in its own process, seen by others through the database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
import pytest

from qb_mcp.cli import main
from qb_mcp.store import Database, open_database
from qb_mcp.webhooks.feed import recent_events
from tests.ports import free_port
from tests.webhooks.conftest import TOKEN, post_signed

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


async def test_the_command_catches_up_connected_companies_through_the_auth_layer(
    tmp_path: Path,
) -> None:
    import base64
    import contextlib
    import os as _os

    from qb_mcp.auth.intuit import TokenGrant
    from qb_mcp.auth.wiring import open_auth
    from qb_mcp.config import Settings
    from qb_mcp.emulator import DEMO_REALM_ID, Emulator
    from qb_mcp.webhooks.app import _catchup
    from tests.emulator.conftest import served

    emulator = Emulator()  # real clock: its demo company was seeded a moment ago
    with served(emulator) as url:
        key = base64.urlsafe_b64encode(_os.urandom(32)).decode()
        settings = Settings.from_env(
            {
                "QBO_ENVIRONMENT": "emulator",
                "QBO_API_BASE_URL": url,
                "QBO_OAUTH_BASE_URL": url,
                "QBO_HOME": str(tmp_path / "home"),
                "QBO_TOKEN_KEYS": key,
                "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
            }
        )
        pair = emulator.issue_tokens(DEMO_REALM_ID)
        async with open_auth(settings) as auth:
            grant = TokenGrant(
                access_token=pair.access_token,
                refresh_token=pair.refresh_token,
                expires_in=pair.expires_in,
                refresh_expires_in=pair.x_refresh_token_expires_in,
            )
            await auth.manager.save_login(DEMO_REALM_ID, grant, received_at=time.time())
        database = await open_database(settings.database_path)
        try:
            async with contextlib.AsyncExitStack() as stack:
                catchup = await _catchup(settings, database, stack)
                assert catchup is not None
                [result] = await catchup.run_once()
            assert result.realm_id == DEMO_REALM_ID and result.error is None
            # The seeding is inside the first run's 5-minute overlap: it comes back as CDC events.
            assert result.stored and {e.source for e in result.stored} == {"cdc"}
            assert await recent_events(database, entity="Customer", limit=1)
        finally:
            await database.close()


async def test_without_connections_there_is_no_catch_up(database: Database) -> None:
    import contextlib

    from qb_mcp.config import Settings
    from qb_mcp.webhooks.app import _catchup

    async with contextlib.AsyncExitStack() as stack:
        assert await _catchup(Settings(), database, stack) is None
