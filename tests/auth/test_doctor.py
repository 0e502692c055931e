import dataclasses
import os
import stat
from pathlib import Path
from typing import Any

import httpx2
import pytest

from qb_mcp.auth.intuit import TokenGrant
from qb_mcp.auth.wiring import open_auth
from qb_mcp.config import Settings
from qb_mcp.doctor import Check, diagnose, exit_code
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.store import connections
from tests.auth.conftest import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def transport(emulator: Emulator) -> httpx2.AsyncBaseTransport:
    return httpx2.ASGITransport(app=emulator.app)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="emulator",
        home=tmp_path / "home",
        oauth_base_url="http://emulator",
        token_keys=(os.urandom(32),),
        webhook_verifier_token="verifier",
    )


async def connect(settings: Settings, emulator: Emulator, clock: FakeClock) -> str:
    pair = emulator.issue_tokens(DEMO_REALM_ID)
    grant = TokenGrant(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.x_refresh_token_expires_in,
    )
    async with open_auth(settings, clock=clock) as auth:
        await auth.manager.save_login(
            DEMO_REALM_ID, grant, received_at=clock(), company_name="Craig's"
        )
    return pair.refresh_token


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


async def run(
    settings: Settings, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> dict[str, Check]:
    return by_name(await diagnose(settings, transport=transport, clock=clock))


async def test_healthy_setup_is_all_ok(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    await connect(settings, emulator, clock)
    checks = await diagnose(settings, transport=transport, clock=clock)
    assert [c for c in checks if c.status != "OK"] == []
    names = {c.name for c in checks}
    assert {
        "configuration",
        "token keys",
        "database",
        "file modes",
        f"connection {DEMO_REALM_ID}",
        f"live companyinfo {DEMO_REALM_ID}",
        "webhooks",
    } <= names
    assert (
        "Craig's Design and Landscaping Services"
        in by_name(checks)[f"live companyinfo {DEMO_REALM_ID}"].message
    )


async def test_key_file_beside_the_database_is_a_warning(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    file_settings = settings.with_overrides(token_keys=())
    await connect(file_settings, emulator, clock)
    check = (await run(file_settings, transport, clock))["token keys"]
    assert (
        check.status == "WARN"
        and "QBO_TOKEN_KEYS" in check.message
        and "rotate-key" in check.message
    )


async def test_missing_database_says_to_log_in(
    settings: Settings, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    sandbox = dataclasses.replace(settings, environment="sandbox", environment_chosen=True)
    check = (await run(sandbox, transport, clock))["database"]
    assert check.status == "FIX" and "qb-mcp auth login" in check.message
    assert not settings.home.exists()


@pytest.mark.parametrize(
    "chosen",
    [{"environment": "production"}, {"environment": "emulator", "environment_chosen": True}],
)
async def test_a_fresh_demo_install_needs_nothing(
    tmp_path: Path, transport: httpx2.AsyncBaseTransport, clock: FakeClock, chosen: dict[str, Any]
) -> None:
    # QBO_ENVIRONMENT unset (or emulator) and nothing connected: `serve` uses the demo company,
    # which needs no Intuit app, key, database or webhook token.
    fresh = Settings(home=tmp_path / "home", **chosen)
    checks = await diagnose(fresh, transport=transport, clock=clock)
    assert {c.status for c in checks} <= {"OK", "INFO"}, [c.line() for c in checks]
    assert exit_code(checks) == 0
    assert not fresh.home.exists()


async def test_a_chosen_real_environment_with_nothing_connected_is_to_fix(
    tmp_path: Path, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    chosen = Settings(home=tmp_path / "home", environment="production", environment_chosen=True)
    checks = await diagnose(chosen, transport=transport, clock=clock)
    fixes = {c.name for c in checks if c.status == "FIX"}
    assert fixes == {"configuration", "database"}
    assert exit_code(checks) == 1


async def test_connection_needing_login_is_reported(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    await connect(settings, emulator, clock)
    async with open_auth(settings, clock=clock) as auth:
        await connections.mark_needs_reauth(auth.database, DEMO_REALM_ID, now=clock())
    checks = await run(settings, transport, clock)
    check = checks[f"connection {DEMO_REALM_ID}"]
    assert check.status == "FIX" and "qb-mcp auth login" in check.message
    assert f"live companyinfo {DEMO_REALM_ID}" not in checks


async def test_refresh_token_expiring_soon_is_a_warning(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    await connect(settings, emulator, clock)
    clock.advance(8_726_400 - 5 * 86_400)
    check = await diagnose(settings, transport=transport, clock=clock, offline=True)
    health = by_name(check)[f"connection {DEMO_REALM_ID}"]
    assert health.status == "WARN" and "qb-mcp auth login" in health.message


async def test_failed_live_call_is_reported_with_the_fix(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    refresh = await connect(settings, emulator, clock)
    async with httpx2.AsyncClient(transport=transport) as http:
        await http.post(
            "http://emulator/v2/oauth2/tokens/revoke",
            json={"token": refresh},
            auth=("id", "secret"),
        )
    check = (await run(settings, transport, clock))[f"live companyinfo {DEMO_REALM_ID}"]
    assert check.status == "FIX" and "qb-mcp auth login" in check.message
    assert refresh not in check.message


async def test_loose_file_modes_are_reported(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    await connect(settings, emulator, clock)
    settings.home.chmod(0o755)
    check = (await run(settings, transport, clock))["file modes"]
    assert check.status == "WARN" and str(settings.home) in check.message
    assert "tightened" in check.message
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    assert (await run(settings, transport, clock))["file modes"].status == "OK"


async def test_missing_webhook_verifier_and_credentials_are_reported(
    settings: Settings, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    production = dataclasses.replace(
        settings, environment="production", environment_chosen=True, webhook_verifier_token=None
    )
    checks = await run(production, transport, clock)
    # Webhooks are optional: recent_changes catches up by CDC without them.
    assert (
        checks["webhooks"].status == "INFO"
        and "QBO_WEBHOOK_VERIFIER_TOKEN" in checks["webhooks"].message
    )
    assert (
        checks["configuration"].status == "FIX"
        and "QBO_CLIENT_ID" in checks["configuration"].message
    )


async def test_no_token_appears_in_any_line(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    refresh = await connect(settings, emulator, clock)
    clock.advance(3600)  # the live call refreshes
    lines = "\n".join(c.line() for c in await diagnose(settings, transport=transport, clock=clock))
    async with open_auth(settings, clock=clock) as auth:
        row = await connections.get(auth.database, DEMO_REALM_ID)
        assert row is not None
        tokens = auth.manager.decrypt(row)
    for secret in (refresh, tokens.access_token, tokens.refresh_token, row.refresh_token):
        assert secret not in lines


async def test_pending_writes_are_reported_with_count_oldest_and_tool(
    settings: Settings, emulator: Emulator, transport: httpx2.AsyncBaseTransport, clock: FakeClock
) -> None:
    from qb_mcp.store import open_database
    from qb_mcp.store.ledger import INTENT_TAG, Ledger, LedgerEntry

    await connect(settings, emulator, clock)
    healthy = await run(settings, transport, clock)
    assert healthy["pending writes"].status == "OK"

    def row(request_id: str, at: float) -> LedgerEntry:
        return LedgerEntry(
            realm_id=DEMO_REALM_ID,
            request_id=request_id,
            base_key=request_id,
            generation=0,
            explicit=False,
            operation="create",
            entity="Payment",
            request_hash="h" * 64,
            status="pending",
            created_at=at,
            updated_at=at,
        )

    database = await open_database(settings.database_path)
    try:
        ledger = Ledger(database)
        token = INTENT_TAG.set(("record_payment", "record_payment:abc"))
        try:
            await ledger.begin(row("a", 1_767_225_600.0))  # 2026-01-01 00:00 UTC
            await ledger.begin(row("b", 1_767_229_200.0))
        finally:
            INTENT_TAG.reset(token)
        await ledger.begin(row("c", 1_767_232_800.0))  # written outside any tool
    finally:
        await database.close()
    check = (await run(settings, transport, clock))["pending writes"]
    assert check.status == "WARN"
    assert "3 writes of unknown outcome" in check.message
    assert "the oldest from 2026-01-01 00:00 UTC" in check.message
    assert "record_payment 2, create Payment 1" in check.message
