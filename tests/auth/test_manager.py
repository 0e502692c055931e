import asyncio
import logging

import pytest

from qb_mcp.auth.crypto import KeyRing
from qb_mcp.auth.manager import TokenManager
from qb_mcp.auth.wiring import connected_realm
from qb_mcp.config import Settings
from qb_mcp.errors import (
    ConfigError,
    InvalidArgumentError,
    InvalidClientError,
    ReauthorizationRequiredError,
    TokenStoreError,
)
from qb_mcp.store import connections
from tests.auth.conftest import REALM, Harness

pytestmark = pytest.mark.anyio


async def test_fresh_token_is_handed_out_without_refreshing(harness: Harness) -> None:
    grant = await harness.connect()
    assert await harness.manager.access_token(REALM) == grant.access_token
    assert harness.server.refresh_count == 0


async def test_refreshes_when_less_than_five_minutes_remain(harness: Harness) -> None:
    grant = await harness.connect()
    harness.clock.advance(3600 - 299)
    token = await harness.manager.access_token(REALM)
    assert token != grant.access_token
    assert harness.server.refresh_count == 1
    harness.server.check_bearer(f"Bearer {token}", REALM)


async def test_six_minutes_left_is_not_yet_due(harness: Harness) -> None:
    grant = await harness.connect()
    harness.clock.advance(3600 - 360)
    assert await harness.manager.access_token(REALM) == grant.access_token
    assert harness.server.refresh_count == 0


async def test_rotated_refresh_token_is_stored_before_the_access_token_is_returned(
    harness: Harness,
) -> None:
    grant = await harness.connect()
    harness.clock.advance(3600)
    token = await harness.manager.access_token(REALM)
    row = await connections.get(harness.database, REALM)
    assert row is not None
    stored = harness.manager.decrypt(row)
    assert stored.access_token == token
    assert stored.refresh_token != grant.refresh_token
    assert row.last_refreshed_at == harness.clock()
    assert row.access_expires_at == harness.clock() + 3600


async def test_concurrent_callers_share_one_refresh(harness: Harness) -> None:
    await harness.connect()
    harness.clock.advance(3600)
    tokens = await asyncio.gather(*(harness.manager.access_token(REALM) for _ in range(20)))
    assert len(set(tokens)) == 1
    assert harness.server.refresh_count == 1


async def test_two_managers_on_one_database_share_one_refresh(harness: Harness) -> None:
    await harness.connect()
    other = TokenManager(
        database=harness.database,
        keyring=harness.keyring,
        oauth=harness.oauth,
        environment="emulator",
        clock=harness.clock,
    )
    harness.clock.advance(3600)
    first, second = await asyncio.gather(
        harness.manager.access_token(REALM), other.access_token(REALM)
    )
    assert first == second
    assert harness.server.refresh_count == 1


async def test_rejection_of_an_already_replaced_token_does_not_refresh(harness: Harness) -> None:
    old = await harness.connect()
    harness.clock.advance(3600)
    current = await harness.manager.access_token(REALM)
    assert await harness.manager.refresh_after_rejection(REALM, old.access_token) == current
    assert harness.server.refresh_count == 1


async def test_rejection_of_the_current_token_refreshes(harness: Harness) -> None:
    grant = await harness.connect()
    token = await harness.manager.refresh_after_rejection(REALM, grant.access_token)
    assert token != grant.access_token
    assert harness.server.refresh_count == 1


async def test_invalid_grant_marks_the_connection_and_says_to_log_in(harness: Harness) -> None:
    grant = await harness.connect()
    await harness.oauth.revoke(grant.refresh_token)
    harness.clock.advance(3600)
    with pytest.raises(ReauthorizationRequiredError, match="qb-mcp auth login"):
        await harness.manager.access_token(REALM)
    row = await connections.get(harness.database, REALM)
    assert row is not None and row.needs_reauth
    assert harness.manager.decrypt(row).refresh_token == grant.refresh_token


async def test_marked_connection_fails_fast_without_calling_intuit(harness: Harness) -> None:
    grant = await harness.connect()
    await harness.oauth.revoke(grant.refresh_token)
    with pytest.raises(ReauthorizationRequiredError):
        await harness.manager.refresh_after_rejection(REALM, grant.access_token)
    requests_before = harness.server.refresh_count
    with pytest.raises(ReauthorizationRequiredError, match="needs re-authorization"):
        await harness.manager.access_token(REALM)
    assert harness.server.refresh_count == requests_before


async def test_unknown_realm_says_to_log_in(harness: Harness) -> None:
    with pytest.raises(ReauthorizationRequiredError, match="no QuickBooks company with realm 42"):
        await harness.manager.access_token("42")


async def test_wrong_key_is_a_store_error_and_changes_nothing(harness: Harness) -> None:
    await harness.connect()
    before = await connections.get(harness.database, REALM)
    stranger = TokenManager(
        database=harness.database,
        keyring=KeyRing([b"k" * 32]),
        oauth=harness.oauth,
        environment="emulator",
        clock=harness.clock,
    )
    with pytest.raises(TokenStoreError, match="not among the configured keys"):
        await stranger.access_token(REALM)
    harness.clock.advance(3600)
    with pytest.raises(TokenStoreError):
        await stranger.access_token(REALM)
    assert await connections.get(harness.database, REALM) == before
    assert harness.server.refresh_count == 0


async def test_invalid_client_is_reported_and_the_connection_kept(harness: Harness) -> None:
    await harness.connect()
    harness.server._client_secret = "the-real-secret"  # the app's secret changed at Intuit
    harness.clock.advance(3600)
    with pytest.raises(InvalidClientError, match="client id and secret"):
        await harness.manager.access_token(REALM)
    row = await connections.get(harness.database, REALM)
    assert row is not None and not row.needs_reauth


async def test_warns_once_when_the_refresh_token_expires_within_14_days(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.server.rotate_refresh_after = 10**9  # refreshing must not push the expiry back
    grant = await harness.connect()
    harness.clock.advance(grant.refresh_expires_in - 13 * 86_400)
    caplog.set_level(logging.WARNING, logger="qb_mcp.auth.manager")
    await harness.manager.access_token(REALM)
    await harness.manager.access_token(REALM)
    assert harness.server.refresh_count == 1
    warnings = [r for r in caplog.records if "can no longer be refreshed" in r.getMessage()]
    assert len(warnings) == 1
    assert "qb-mcp auth login" in warnings[0].getMessage()


async def test_no_warning_with_more_than_14_days_left(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    grant = await harness.connect()
    harness.clock.advance(grant.refresh_expires_in - 15 * 86_400)
    caplog.set_level(logging.WARNING, logger="qb_mcp.auth.manager")
    await harness.manager.access_token(REALM)
    assert not [r for r in caplog.records if "can no longer be refreshed" in r.getMessage()]


async def test_short_lived_tokens_are_refreshed_at_three_quarters_of_their_life(
    harness: Harness,
) -> None:
    harness.server.access_token_ttl = 2
    grant = await harness.connect()
    harness.clock.advance(1.4)
    assert await harness.manager.access_token(REALM) == grant.access_token
    harness.clock.advance(0.2)
    assert await harness.manager.access_token(REALM) != grant.access_token


async def test_database_file_holds_no_token_in_plain_text(harness: Harness) -> None:
    grant = await harness.connect()
    harness.clock.advance(3600)
    token = await harness.manager.access_token(REALM)
    row = await connections.get(harness.database, REALM)
    assert row is not None
    fresh = harness.manager.decrypt(row)
    path = harness.database.path
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    for secret in (grant.access_token, grant.refresh_token, token, fresh.refresh_token):
        assert secret.encode() not in raw


async def test_connection_of_another_environment_is_not_refreshed(harness: Harness) -> None:
    await harness.connect()
    production = TokenManager(
        database=harness.database,
        keyring=harness.keyring,
        oauth=harness.oauth,
        environment="production",
        clock=harness.clock,
    )
    harness.clock.advance(3600)
    with pytest.raises(ConfigError, match="QBO_ENVIRONMENT=emulator"):
        await production.access_token(REALM)
    row = await connections.get(harness.database, REALM)
    assert row is not None and not row.needs_reauth
    assert harness.server.refresh_count == 0


async def test_a_cancelled_caller_does_not_abandon_a_refresh_midway(harness: Harness) -> None:
    await harness.connect()
    harness.clock.advance(3600)
    caller = asyncio.create_task(harness.manager.access_token(REALM))
    for _ in range(10_000):  # yield to the event loop until Intuit has rotated the tokens
        if harness.server.refresh_count:
            break
        await asyncio.sleep(0)
    assert harness.server.refresh_count == 1
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    # Had the refresh been rolled back, the stored refresh token would be the superseded one.
    token = await harness.manager.access_token(REALM)
    harness.server.check_bearer(f"Bearer {token}", REALM)
    harness.clock.advance(3600)
    await harness.manager.access_token(REALM)
    assert harness.server.refresh_count == 2


async def test_corrupted_ciphertext_is_a_store_error_and_changes_nothing(harness: Harness) -> None:
    await harness.connect()
    await harness.database.execute(
        "UPDATE connections SET access_token = ? WHERE realm_id = ?",
        (f"v1:{harness.keyring.newest_key_id}:garbage", REALM),
    )
    before = await connections.get(harness.database, REALM)
    with pytest.raises(TokenStoreError, match="corrupted") as caught:
        await harness.manager.access_token(REALM)
    assert "\n" not in str(caught.value)
    assert await connections.get(harness.database, REALM) == before


async def test_connected_realm_is_the_only_one_or_the_configured_one(harness: Harness) -> None:
    settings = Settings(environment="emulator")
    assert await connected_realm(settings, harness.database) is None
    await harness.connect()
    assert await connected_realm(settings, harness.database) == REALM
    harness.emulator.backend.add_company("123", seed="empty")
    await harness.connect("123")
    with pytest.raises(InvalidArgumentError, match="set QBO_REALM_ID"):
        await connected_realm(settings, harness.database)
    chosen = Settings(environment="emulator", realm_id="123")
    assert await connected_realm(chosen, harness.database) == "123"
    with pytest.raises(InvalidArgumentError, match="QBO_REALM_ID=42 is not connected"):
        await connected_realm(Settings(environment="emulator", realm_id="42"), harness.database)
