"""`qb-mcp auth login --hosted` end to end over real HTTP: the emulator under uvicorn stands in
for Intuit, `serve --transport http`'s app (authenticated) under uvicorn answers the callback
as it would behind a reverse proxy, and the new company is served without a restart."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from qb_mcp.cli import main
from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from qb_mcp.server_http import http_app, prepare_auth
from qb_mcp.store import connections, open_database
from tests.server.conftest import TEST_LIMITS, error_text
from tests.server.http_auth_support import client
from tests.server.test_http_auth import add_token
from tests.webhooks.conftest import serving

pytestmark = pytest.mark.anyio

REALM = "4620816365098765"
NAME = "Hosted Hardware Ltd"
# The public name a reverse proxy forwards to the server; the test plays the browser and the
# proxy, sending the callback's query to the server's loopback address.
PUBLIC_CALLBACK = "https://qb.example.com/auth/intuit/callback"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("QBO_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("QBO_HOME", str(home))
    monkeypatch.setenv("QBO_ENVIRONMENT", "emulator")
    monkeypatch.setenv("QBO_REDIRECT_URI", PUBLIC_CALLBACK)
    monkeypatch.setenv("QBO_TOKEN_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())
    return home


@asynccontextmanager
async def hosted(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    """The emulator (with a second company) and the hosted server, both over real HTTP; yields
    (emulator URL, server URL)."""
    emulator = Emulator()
    emulator.backend.add_company(REALM, seed="empty", company_name=NAME)
    async with serving(emulator.app) as intuit:
        monkeypatch.setenv("QBO_OAUTH_BASE_URL", intuit)
        settings = Settings.from_env()
        server = build_server(settings, limiter=RealmLimiter(TEST_LIMITS))
        auth = await prepare_auth(settings, host="127.0.0.1", no_auth=False)
        try:
            async with serving(http_app(server, settings, host="127.0.0.1", auth=auth)) as base:
                yield intuit, base
        finally:
            await auth.aclose()


async def consent_url(capsys: pytest.CaptureFixture[str]) -> str:
    code = await asyncio.to_thread(main, ["auth", "login", "--hosted"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "qb.example.com" in err
    return out.strip()


async def browser(http: httpx2.AsyncClient, url: str, base: str) -> httpx2.Response:
    """Consent at the emulator, then follow its redirect to the public callback (via the
    'proxy': the server's loopback address)."""
    consent = await http.get(url + f"&realmId={REALM}")
    assert consent.status_code in (302, 303), consent.text
    location = urlsplit(consent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == PUBLIC_CALLBACK
    return await http.get(f"{base}{location.path}?{location.query}")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_hosted_login_connects_a_company_the_server_serves_at_once(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    token = await add_token(env, "crm", "write")
    async with hosted(monkeypatch) as (_intuit, base), httpx2.AsyncClient() as http:
        async with client(base, token, mode=mode) as mcp:
            before = await mcp.call_tool("list_companies", {})
        url = await consent_url(capsys)
        answer = await browser(http, url, base)
        async with client(base, token, mode=mode) as mcp:
            after = await mcp.call_tool("list_companies", {})
            found = await mcp.call_tool("find_customer", {"name": "Amy", "company": NAME})
    assert before.structured_content is not None
    assert [c["source"] for c in before.structured_content["companies"]] == ["emulator"]
    assert answer.status_code == 200, answer.text
    assert NAME in answer.text and answer.headers["cache-control"] == "no-store"
    assert after.structured_content is not None
    assert [
        (c["realm_id"], c["company_name"], c["health"], c["default"])
        for c in after.structured_content["companies"]
    ] == [(REALM, NAME, "OK", True)]
    assert not found.is_error, error_text(found)  # its own (empty) books, through its tokens
    database = await open_database(env / "qb-mcp.sqlite3")
    try:
        row = await connections.get(database, REALM)
    finally:
        await database.close()
    assert row is not None and row.company_name == NAME


async def test_a_replayed_or_forged_callback_stores_nothing(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_token(env, "crm", "write")
    async with hosted(monkeypatch) as (_intuit, base), httpx2.AsyncClient() as http:
        forged = await http.get(
            f"{base}/auth/intuit/callback?code=abc&state=not-issued&realmId={REALM}"
        )
        empty = await http.get(f"{base}/auth/intuit/callback")
        url = await consent_url(capsys)
        first = await browser(http, url, base)
        replayed = await http.get(f"{base}/auth/intuit/callback?{first.url.query.decode()}")
        # A second exchange of the code would have made the emulator revoke the grant: the
        # connection still works after the replay.
        token = await add_token(env, "after", "read")
        async with client(base, token) as mcp:
            found = await mcp.call_tool("find_customer", {"name": "Amy", "company": REALM})
    assert forged.status_code == 400 and "stale or forged" in forged.text
    assert empty.status_code == 400
    assert first.status_code == 200
    assert replayed.status_code == 400 and "already used" in replayed.text
    assert not found.is_error, error_text(found)


def test_hosted_login_wants_the_servers_callback_path(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for uri, said in (
        ("https://qb.example.com/callback", "/auth/intuit/callback"),
        ("http://qb.example.com/auth/intuit/callback", "https://"),
        ("https://203.0.113.7/auth/intuit/callback", "no IP address"),
    ):
        monkeypatch.setenv("QBO_REDIRECT_URI", uri)
        code = main(["auth", "login", "--hosted"])
        out, err = capsys.readouterr()
        assert code == 2
        assert out == ""
        assert said in err and len(err.strip().splitlines()) == 1
    assert not (env / "qb-mcp.sqlite3").exists()


async def test_a_state_is_good_once_and_for_ten_minutes(tmp_path: Path) -> None:
    from qb_mcp.errors import InvalidArgumentError
    from qb_mcp.store import login_states

    database = await open_database(tmp_path / "db.sqlite3")
    try:
        fresh = await login_states.issue(database, environment="sandbox", now=1000.0)
        old = await login_states.issue(database, environment="sandbox", now=1000.0)
        assert await login_states.consume(database, fresh, now=1599.0) == "sandbox"
        with pytest.raises(InvalidArgumentError, match="already used"):
            await login_states.consume(database, fresh, now=1599.0)
        with pytest.raises(InvalidArgumentError, match="expired"):
            await login_states.consume(database, old, now=1600.0)
        with pytest.raises(InvalidArgumentError, match="no state"):
            await login_states.consume(database, None, now=1000.0)
        rows = await database.fetchall("SELECT state_hash FROM login_states")
        assert fresh not in {row["state_hash"] for row in rows}  # only its hash is kept
    finally:
        await database.close()
