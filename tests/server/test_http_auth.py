"""Issue 13, Authentication: `qb-mcp tokens`, and `serve --transport http` over real loopback HTTP
with mcp.Client's streamable HTTP client carrying the bearer header, in both protocol eras."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import httpx2
import pytest
from mcp import MCPError

from qb_mcp.auth.bearer import new_token
from qb_mcp.cli import main
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.store import audit, bearer_tokens, open_database
from tests.server.conftest import error_text
from tests.server.http_auth_support import INITIALIZE, MCP_HEADERS, client, serve_http
from tests.server.test_tools import CONTACT

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {
    "upsert_customer",
    "upsert_customers",
    "create_estimate",
    "convert_estimate",
    "record_payment",
}


def tokens(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`qb-mcp tokens ARGS` in process: exit code, stdout, stderr."""
    code = main(["tokens", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("QBO_ENVIRONMENT", "QBO_REALM_ID", "QBO_AUTH_ISSUER", "QBO_AUTH_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QBO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make(capsys: pytest.CaptureFixture[str], name: str, *args: str) -> str:
    code, out, err = tokens(capsys, "add", name, *args)
    assert code == 0, err
    return out.strip()


def stored_rows(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "qb-mcp.sqlite3") as db:
        return list(db.execute("SELECT * FROM bearer_tokens ORDER BY name"))


# ---- qb-mcp tokens ---------------------------------------------------------------------------


def test_add_prints_the_token_once_and_stores_only_its_hash(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = tokens(capsys, "add", "crm-bot", "--scope", "write")
    token = out.strip()
    assert code == 0 and out == token + "\n"  # stdout holds the token alone
    assert token.startswith("qbm_") and len(token) > 40
    assert "shown only this once" in err and token not in err
    database = (home / "qb-mcp.sqlite3").read_bytes()
    assert token.encode() not in database
    assert bearer_tokens.token_hash(token).encode() in database
    code, listed, _ = tokens(capsys, "list")
    assert code == 0 and "crm-bot" in listed and "write, every company" in listed
    assert token not in listed
    assert make(capsys, "reader") != token  # a fresh random token each time


def test_default_scope_is_read(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(capsys, "viewer")
    _, listed, _ = tokens(capsys, "list")
    assert "viewer  read, every company" in listed


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "crm-bot"), "exists already"),
        (("add", "other", "--scope", "admin"), "--scope must be read or write"),
        (("add", "has space"), "is not allowed"),
        (("add", "bidi\u202e"), "is not allowed"),
        (("add", "other", "--company", "123"), "not a company this server can serve"),
        (("add", "other", "--company", "abc"), "numeric realm id"),
        (("revoke", "nobody"), "no token named 'nobody'"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    make(capsys, "crm-bot", "--scope", "write")
    before = stored_rows(home)
    code, out, err = tokens(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and says in err, err
    assert stored_rows(home) == before


def test_a_company_limit_names_a_servable_company(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No company is connected: the demo company is the one that would be served.
    make(capsys, "demo-only", "--company", DEMO_REALM_ID)
    _, listed, _ = tokens(capsys, "list")
    assert f"demo-only  read, {DEMO_REALM_ID}" in listed


def test_revoke_forgets_the_token(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(capsys, "old")
    code, out, _ = tokens(capsys, "revoke", "old")
    assert code == 0 and "Revoked token 'old'" in out
    assert stored_rows(home) == []
    _, listed, _ = tokens(capsys, "list")
    assert "No bearer tokens" in listed


# ---- serve --transport http ------------------------------------------------------------------


async def add_token(
    home: Path,
    name: str,
    scope: bearer_tokens.Scope = "read",
    companies: tuple[str, ...] | None = None,
) -> str:
    """What `qb-mcp tokens add` does, for tests already inside an event loop."""
    token = new_token()
    database = await open_database(home / "qb-mcp.sqlite3")
    try:
        await bearer_tokens.add(
            database,
            name=name,
            token=token,
            scope=scope,
            companies=companies,
            created_at=time.time(),
        )
    finally:
        await database.close()
    return token


def settings_for(home: Path, **overrides: object) -> Settings:
    return Settings(home=home, environment="emulator").with_overrides(**overrides)


async def test_no_token_is_401_with_a_bearer_challenge(home: Path) -> None:
    await add_token(home, "someone")
    async with serve_http(settings_for(home)) as base, httpx2.AsyncClient() as http:
        bare = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        wrong = await http.post(
            f"{base}/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "authorization": "Bearer qbm_not-a-token"},
        )
        health = await http.get(f"{base}/healthz")
    for answer in (bare, wrong):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert health.status_code == 200  # load balancers need no token


async def test_a_write_token_writes_and_the_audit_log_names_it(home: Path, mode: str) -> None:
    token = await add_token(home, "crm-bot", "write")
    async with serve_http(settings_for(home)) as base, client(base, token, mode=mode) as mcp:
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        created = await mcp.call_tool("upsert_customer", CONTACT)
        read = await mcp.read_resource("qbo://audit/recent")
    assert names >= WRITE_TOOLS
    assert not created.is_error, error_text(created)
    writes = json.loads(read.contents[0].text)["writes"]  # type: ignore[union-attr]
    assert [(w["tool"], w["by"]) for w in writes] == [("upsert_customer", "crm-bot")]


async def test_a_read_token_sees_no_write_tools_and_cannot_write(home: Path, mode: str) -> None:
    token = await add_token(home, "viewer", "read")
    emulator = Emulator()
    before = json.dumps(emulator.backend.snapshot(), sort_keys=True, default=str)
    async with (
        serve_http(settings_for(home), emulator=emulator) as base,
        client(base, token, mode=mode) as mcp,
    ):
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        found = await mcp.call_tool("find_customer", {"name": "Amy"})
        refused = await mcp.call_tool("upsert_customer", CONTACT)
    assert not names & WRITE_TOOLS
    assert "find_customer" in names
    assert not found.is_error
    assert refused.is_error
    assert "may only read" in error_text(refused) and "Nothing was written" in error_text(refused)
    assert json.dumps(emulator.backend.snapshot(), sort_keys=True, default=str) == before
    database = await open_database(home / "qb-mcp.sqlite3")
    try:
        assert await audit.count(database) == 0
    finally:
        await database.close()


async def test_a_revoked_token_is_refused_on_its_next_request(home: Path) -> None:
    token = await add_token(home, "leaver", "write")
    async with serve_http(settings_for(home)) as base, httpx2.AsyncClient() as http:
        headers = {**MCP_HEADERS, "authorization": f"Bearer {token}"}
        before = await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)
        # Another process (the CLI) revokes it while the server runs.
        assert await asyncio.to_thread(main, ["tokens", "revoke", "leaver"]) == 0
        after = await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)
    assert before.status_code == 200
    assert after.status_code == 401


async def test_a_token_limited_to_another_company_reaches_nothing(home: Path) -> None:
    token = await add_token(home, "other-books", "write", ("4620816365212345",))
    async with serve_http(settings_for(home)) as base, client(base, token) as mcp:
        refused = await mcp.call_tool("find_customer", {"name": "Amy"})
        with pytest.raises(MCPError, match="limited to 4620816365212345"):
            await mcp.read_resource("qbo://company")
    assert refused.is_error
    assert "limited to 4620816365212345" in error_text(refused)


async def test_a_token_limited_to_the_served_company_reaches_it(home: Path) -> None:
    token = await add_token(home, "demo-books", "read", (DEMO_REALM_ID,))
    async with serve_http(settings_for(home)) as base, client(base, token) as mcp:
        found = await mcp.call_tool("find_customer", {"name": "Amy"})
        company = await mcp.read_resource("qbo://company")
    assert not found.is_error
    assert DEMO_REALM_ID in company.contents[0].text  # type: ignore[union-attr]


# ---- Host and Origin checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed", "header", "status"),
    [
        # Listening on every address, the checks stay on: only known names pass.
        ("0.0.0.0", (), {"host": "evil.example"}, 421),
        ("0.0.0.0", (), {"host": "127.0.0.1:8000"}, 200),
        ("0.0.0.0", ("mcp.example.com",), {"host": "mcp.example.com"}, 200),
        ("0.0.0.0", ("mcp.example.com",), {"host": "mcp.example.com:8443"}, 200),
        ("0.0.0.0", ("mcp.example.com:8443",), {"host": "mcp.example.com:9000"}, 421),
        (
            "0.0.0.0",
            ("mcp.example.com",),
            {"host": "mcp.example.com", "origin": "https://evil.example"},
            403,
        ),
        (
            "0.0.0.0",
            ("mcp.example.com",),
            {"host": "mcp.example.com", "origin": "https://mcp.example.com"},
            200,
        ),
        ("192.0.2.7", (), {"host": "192.0.2.7:8000"}, 200),
        ("127.0.0.1", (), {"host": "evil.example"}, 421),
    ],
)
async def test_host_and_origin_checks_stay_on_behind_a_proxy(
    home: Path,
    host: str,
    allowed: tuple[str, ...],
    header: dict[str, str],
    status: int,
) -> None:
    token = await add_token(home, "proxy-user", "read")
    settings = settings_for(home, allowed_hosts=allowed)
    async with serve_http(settings, host=host) as base, httpx2.AsyncClient() as http:
        answer = await http.post(
            f"{base}/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "authorization": f"Bearer {token}", **header},
        )
    assert answer.status_code == status, answer.text
