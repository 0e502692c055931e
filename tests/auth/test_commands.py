"""The `qb-mcp auth ...` commands through the real CLI entry point, against a live emulator."""

import asyncio
import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from qb_mcp.auth.crypto import key_file_path, key_id, load_keyring
from qb_mcp.auth.intuit import TokenGrant
from qb_mcp.auth.wiring import open_auth
from qb_mcp.cli import main
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.store import connections, open_database
from tests.auth.live import serve

OTHER_REALM = "123145000000001"


def key_text(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Emulator, str]]:
    """One emulator served for the whole module (each test has its own QBO_HOME)."""
    emulator = Emulator()
    emulator.backend.add_company(OTHER_REALM, seed="empty", company_name="Second Company")
    with serve(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture
def emulator(live: tuple[Emulator, str]) -> Emulator:
    return live[0]


@pytest.fixture
def env(
    qbo_home: Path, live: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "QBO_ENVIRONMENT": "emulator",
        "QBO_OAUTH_BASE_URL": live[1],
        "QBO_TOKEN_KEYS": key_text(os.urandom(32)),
    }
    for name in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID", "QBO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def connect(emulator: Emulator, realm_id: str = DEMO_REALM_ID, name: str | None = None) -> str:
    """Store a connection as `auth login` would; returns its refresh token."""
    pair = emulator.issue_tokens(realm_id)
    grant = TokenGrant(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.x_refresh_token_expires_in,
    )

    async def save() -> None:
        async with open_auth(Settings.from_env()) as auth:
            await auth.manager.save_login(
                realm_id, grant, received_at=emulator.clock(), company_name=name
            )

    asyncio.run(save())
    return pair.refresh_token


def rows(home: Path) -> list[connections.ConnectionRow]:
    async def read() -> list[connections.ConnectionRow]:
        database = await open_database(home / "qb-mcp.sqlite3")
        try:
            return await connections.list_all(database)
        finally:
            await database.close()

    return asyncio.run(read())


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qb-mcp: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


# ---- status ---------------------------------------------------------------------------------


def test_status_without_a_database_says_nothing_is_connected(
    env: dict[str, str], qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["auth", "status"], capsys)
    assert code == 0 and "No company is connected" in out
    assert not qbo_home.exists()


def test_status_lists_connections_with_expiries_and_no_tokens(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh = connect(emulator, name="Craig's Design")
    code, out, _ = run(["auth", "status"], capsys)
    assert code == 0
    assert DEMO_REALM_ID in out and "Craig's Design" in out and "OK" in out
    assert "access token   expires" in out and "refresh token  expires" in out
    assert refresh not in out
    (row,) = rows(qbo_home)
    assert row.access_token not in out and row.refresh_token not in out


def test_status_json_lists_connections_without_tokens(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh = connect(emulator, name="Craig's Design")
    code, out, _ = run(["auth", "status", "--json"], capsys)
    (listed,) = json.loads(out)["connections"]
    assert code == 0
    assert listed["realm_id"] == DEMO_REALM_ID and listed["health"] == "OK"
    assert listed["key_configured"] is True and listed["refresh_token_expires_at"]
    (row,) = rows(qbo_home)
    assert refresh not in out and row.access_token not in out and row.refresh_token not in out


def test_status_with_the_wrong_key_is_not_ok(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(emulator)
    monkeypatch.setenv("QBO_TOKEN_KEYS", key_text(os.urandom(32)))  # valid, but not the one used
    _, out, _ = run(["auth", "status"], capsys)
    first = out.splitlines()[0]
    assert "KEY MISSING" in first and " OK" not in first
    _, out, _ = run(["auth", "status", "--json"], capsys)
    assert json.loads(out)["connections"][0]["health"] == "KEY MISSING"


def test_status_flags_a_connection_that_needs_login(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)

    async def mark() -> None:
        database = await open_database(qbo_home / "qb-mcp.sqlite3")
        await connections.mark_needs_reauth(database, DEMO_REALM_ID, now=0)
        await database.close()

    asyncio.run(mark())
    _, out, _ = run(["auth", "status"], capsys)
    assert "NEEDS LOGIN" in out


# ---- revoke ---------------------------------------------------------------------------------


def test_revoke_revokes_at_intuit_and_deletes_the_row(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)
    (row,) = rows(qbo_home)
    access = load_keyring(Settings.from_env()).decrypt(
        row.access_token, realm_id=DEMO_REALM_ID, column="access_token"
    )
    code, out, _ = run(["auth", "revoke"], capsys)
    assert code == 0 and "Revoked" in out
    assert rows(qbo_home) == []
    with pytest.raises(QBOFault):
        emulator.oauth.check_bearer(f"Bearer {access}", DEMO_REALM_ID)


def test_revoke_unknown_realm_changes_nothing(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)
    before = rows(qbo_home)
    code, _, err = run(["auth", "revoke", "--realm", "42"], capsys)
    assert_one_line_error(code, err, "no connection for realm 42")
    assert rows(qbo_home) == before


def test_revoke_refuses_a_non_numeric_realm(
    env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)
    code, _, err = run(["auth", "revoke", "--realm", "abc;drop"], capsys)
    assert_one_line_error(code, err, "--realm must be a numeric realm id")


def test_revoke_with_several_connections_asks_which(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)
    connect(emulator, OTHER_REALM)
    code, _, err = run(["auth", "revoke"], capsys)
    assert_one_line_error(code, err, "several companies", "--realm")
    assert len(rows(qbo_home)) == 2
    code, _, _ = run(["auth", "revoke", "--realm", OTHER_REALM], capsys)
    assert code == 0
    assert [row.realm_id for row in rows(qbo_home)] == [DEMO_REALM_ID]


def test_revoke_with_the_wrong_key_deletes_nothing_and_forget_does(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refresh = connect(emulator)
    monkeypatch.setenv("QBO_TOKEN_KEYS", key_text(os.urandom(32)))
    code, _, err = run(["auth", "revoke"], capsys)
    assert_one_line_error(code, err, "not among the configured keys")
    assert refresh not in err
    assert len(rows(qbo_home)) == 1
    code, out, _ = run(["auth", "revoke", "--forget"], capsys)
    assert code == 0 and "not revoked at Intuit" in out
    assert rows(qbo_home) == []


def test_revoke_of_a_tampered_row_deletes_nothing(
    env: dict[str, str], emulator: Emulator, qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(emulator)
    connect(emulator, OTHER_REALM)
    with sqlite3.connect(qbo_home / "qb-mcp.sqlite3") as raw:
        # Copy the other company's refresh token into this row: it must not decrypt here.
        raw.execute(
            "UPDATE connections SET refresh_token = "
            "(SELECT refresh_token FROM connections WHERE realm_id = ?) WHERE realm_id = ?",
            (OTHER_REALM, DEMO_REALM_ID),
        )
    raw.close()
    code, _, err = run(["auth", "revoke", "--realm", DEMO_REALM_ID], capsys)
    assert_one_line_error(code, err, "failed authentication")
    assert len(rows(qbo_home)) == 2


# ---- rotate-key -----------------------------------------------------------------------------


def test_rotate_key_reencrypts_every_row_under_the_newest_key(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(emulator)
    connect(emulator, OTHER_REALM)
    old = env["QBO_TOKEN_KEYS"]
    new = os.urandom(32)
    monkeypatch.setenv("QBO_TOKEN_KEYS", f"{key_text(new)},{old}")
    code, out, _ = run(["auth", "rotate-key"], capsys)
    assert code == 0 and "Re-encrypted 2 connection(s)" in out
    assert {row.key_id for row in rows(qbo_home)} == {key_id(new)}
    monkeypatch.setenv("QBO_TOKEN_KEYS", key_text(new))  # the old key is gone for good
    keyring = load_keyring(Settings.from_env())
    for row in rows(qbo_home):
        keyring.decrypt(row.refresh_token, realm_id=row.realm_id, column="refresh_token")
    code, out, _ = run(["auth", "rotate-key"], capsys)
    assert code == 0 and "Re-encrypted 0 connection(s)" in out and "2 already" in out


def test_rotate_key_with_an_unreadable_row_changes_nothing(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(emulator)
    monkeypatch.setenv("QBO_TOKEN_KEYS", key_text(os.urandom(32)))
    connect(emulator, OTHER_REALM)  # under a key the next command will not have
    before = rows(qbo_home)
    monkeypatch.setenv("QBO_TOKEN_KEYS", f"{key_text(os.urandom(32))},{env['QBO_TOKEN_KEYS']}")
    code, _, err = run(["auth", "rotate-key"], capsys)
    assert_one_line_error(code, err, "not among the configured keys")
    assert rows(qbo_home) == before


def test_rotate_key_moves_from_the_key_file_to_the_environment(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("QBO_TOKEN_KEYS")
    connect(emulator)
    assert key_file_path(qbo_home).exists()
    new = os.urandom(32)
    monkeypatch.setenv("QBO_TOKEN_KEYS", key_text(new))
    code, out, _ = run(["auth", "rotate-key"], capsys)
    assert code == 0 and "delete" in out
    assert [row.key_id for row in rows(qbo_home)] == [key_id(new)]


def test_corrupted_key_file_is_a_one_line_error(
    env: dict[str, str],
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    qbo_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("QBO_TOKEN_KEYS")
    connect(emulator)
    key_file_path(qbo_home).write_text("garbage\n")
    code, _, err = run(["auth", "rotate-key"], capsys)
    assert_one_line_error(code, err, "token key file", "corrupted")


# ---- login: bad settings are refused before anything is created -------------------------------


def test_login_for_production_without_client_id_creates_nothing(
    env: dict[str, str], qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["auth", "login", "--environment", "production", "--no-browser"], capsys)
    assert_one_line_error(code, err, "QBO_CLIENT_ID is not set")
    assert not qbo_home.exists()


def test_login_for_the_emulator_without_its_url_creates_nothing(
    env: dict[str, str],
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("QBO_OAUTH_BASE_URL")
    code, _, err = run(["auth", "login", "--no-browser"], capsys)
    assert_one_line_error(code, err, "QBO_API_BASE_URL is not set")
    assert not qbo_home.exists()


def test_login_with_a_remote_redirect_uri_creates_nothing(
    env: dict[str, str],
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QBO_REDIRECT_URI", "https://example.com/callback")
    code, _, err = run(["auth", "login", "--no-browser"], capsys)
    assert_one_line_error(code, err, "QBO_REDIRECT_URI")
    assert not qbo_home.exists()


# ---- doctor ---------------------------------------------------------------------------------


def test_doctor_exits_0_when_every_check_is_ok(
    env: dict[str, str],
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QBO_WEBHOOK_VERIFIER_TOKEN", "verifier-token")
    connect(emulator)
    code, out, _ = run(["doctor"], capsys)
    assert code == 0, out
    assert all(line.startswith("OK ") for line in out.strip().splitlines())
    assert f"live companyinfo {DEMO_REALM_ID}" in out


def test_doctor_exits_1_and_says_what_to_do(
    env: dict[str, str],
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")  # a real environment: nothing connected
    code, out, _ = run(["doctor", "--offline"], capsys)
    assert code == 1
    assert "FIX  database" in out and "qb-mcp auth login" in out
    assert "INFO webhooks" in out and "QBO_WEBHOOK_VERIFIER_TOKEN" in out


def test_doctor_on_a_fresh_demo_install_exits_0(
    env: dict[str, str], qbo_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["doctor", "--offline"], capsys)
    assert code == 0, out
    assert "FIX" not in out and "WARN" not in out


def test_doctor_json_has_every_check_and_the_exit_code(
    env: dict[str, str],
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    code, out, _ = run(["doctor", "--offline", "--json"], capsys)
    report = json.loads(out)
    assert report["exit_code"] == code == 1
    assert {"status", "name", "message"} == set(report["checks"][0])
    assert any(c["status"] == "FIX" and c["name"] == "database" for c in report["checks"])


def test_missing_key_is_a_one_line_error_and_deletes_nothing(
    env: dict[str, str],
    emulator: Emulator,
    qbo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("QBO_TOKEN_KEYS")
    connect(emulator)
    key_file_path(qbo_home).unlink()  # the key is lost (or the data folder was copied without it)
    code, _, err = run(["auth", "revoke"], capsys)
    assert_one_line_error(code, err, "QBO_TOKEN_KEYS is unset")
    assert len(rows(qbo_home)) == 1
    assert not key_file_path(qbo_home).exists()
