"""`qb-mcp auth login` end to end: a real subprocess, the emulator under uvicorn, a browser step
driven over HTTP, then API calls through QBOClient with the stored connection."""

import asyncio
import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from qb_mcp.auth.wiring import open_auth
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store import connections
from tests.auth.live import serve
from tests.auth.secrets_check import database_bytes, leaks
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def login_env(home: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env.update(
        QBO_HOME=str(home),
        QBO_ENVIRONMENT="emulator",
        QBO_OAUTH_BASE_URL=base_url,
        QBO_REDIRECT_URI=f"http://127.0.0.1:{free_port()}/callback",
        QBO_TOKEN_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        QBO_LOG_LEVEL="DEBUG",
    )
    return env


def start_login(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Run `qb-mcp auth login --no-browser`; return it and the authorize URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qb_mcp", "auth", "login", "--no-browser"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("http"):
            return process, line.strip()
    process.kill()
    raise AssertionError(f"auth login printed no URL: {''.join(seen)}")


def test_auth_login_then_api_calls_with_the_stored_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator = Emulator()
    home = tmp_path / "home"
    with serve(emulator.app) as base_url:
        env = login_env(home, base_url)
        process, url = start_login(env)
        # The browser step: the emulator consents and redirects to the login's callback server.
        # What the "browser" (httpx2 here) logs is not ours: it sees the code in the redirect.
        with caplog.at_level(logging.WARNING):
            page = httpx2.get(url, follow_redirects=True, timeout=10)
        assert page.status_code == 200 and "Connected" in page.text
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert f"Connected Craig's Design and Landscaping Services (realm {DEMO_REALM_ID}" in out

        settings = Settings.from_env(env)

        async def use_it() -> tuple[str, int, list[str]]:
            async with open_auth(settings) as auth:
                async with QBOClient(
                    realm_id=DEMO_REALM_ID,
                    token_source=auth.manager,
                    base_url=base_url,
                    database=auth.database,
                ) as client:
                    info = await client.company_info()
                    customers = await client.query("select * from Customer maxresults 5")
                row = await connections.get(auth.database, DEMO_REALM_ID)
                assert row is not None
                tokens = auth.manager.decrypt(row)
            count = len(customers["Customer"])
            return info["CompanyName"], count, [tokens.access_token, tokens.refresh_token]

        name, count, known = asyncio.run(use_it())
    assert name == "Craig's Design and Landscaping Services" and count == 5
    assert leaks(database_bytes(settings.database_path), known) == []
    assert "stored the tokens of realm" in err  # the login's own logs were captured
    assert leaks(out + err, known) == []
    bad = [f"{r.name}: {r.getMessage()}" for r in caplog.records if leaks(r.getMessage(), known)]
    assert bad == []


def test_auth_login_refused_consent_stores_nothing(tmp_path: Path) -> None:
    emulator = Emulator()
    emulator.oauth.consent = "deny"
    home = tmp_path / "home"
    with serve(emulator.app) as base_url:
        process, url = start_login(login_env(home, base_url))
        page = httpx2.get(url, follow_redirects=True, timeout=10)
        assert page.status_code == 400 and "declined" in page.text
        _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "access_denied" in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("qb-mcp: ")

    async def count() -> int:
        async with open_auth(
            Settings(home=home, environment="emulator", oauth_base_url=base_url)
        ) as auth:
            return len(await connections.list_all(auth.database))

    assert asyncio.run(count()) == 0
