import asyncio
import socket
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from qb_mcp.auth.oauth import (
    CallbackServer,
    LoginFlow,
    StateStore,
    callback_address,
)
from qb_mcp.errors import ConfigError, InvalidArgumentError, InvalidClientError, OAuthError
from qb_mcp.sockets import listen
from qb_mcp.store import connections
from tests.auth.conftest import REALM, FakeClock, Harness

pytestmark = pytest.mark.anyio

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: these tests hand the query over


def make_flow(harness: Harness, redirect_uri: str = REDIRECT) -> LoginFlow:
    return LoginFlow(
        oauth=harness.oauth,
        manager=harness.manager,
        redirect_uri=redirect_uri,
        api_base_url="http://emulator",
        api_transport=harness.transport,
        clock=harness.clock,
    )


async def consent(harness: Harness, authorize_url: str) -> dict[str, str]:
    """The browser step: the emulator consents at once and redirects to the callback."""
    async with httpx2.AsyncClient(transport=harness.transport) as http:
        answer = await http.get(authorize_url)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_login_stores_encrypted_tokens_under_the_callbacks_realm(harness: Harness) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    result = await flow.complete(params)
    assert result.realm_id == REALM
    row = await connections.get(harness.database, REALM)
    assert row is not None and row.environment == "emulator" and not row.needs_reauth
    tokens = harness.manager.decrypt(row)
    harness.server.check_bearer(f"Bearer {tokens.access_token}", REALM)
    assert tokens.access_token not in row.access_token
    # The 5-year hard expiry, asked for with Intuit's x-include-refresh-token-hard-expires-in.
    assert row.hard_expires_at == harness.clock() + 5 * 365 * 86_400


async def test_authorize_url_carries_client_scope_redirect_and_state(harness: Harness) -> None:
    url = make_flow(harness).authorize_url()
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == ["test-client"]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert query["redirect_uri"] == [REDIRECT]
    assert len(query["state"][0]) >= 32


async def test_each_authorize_url_has_its_own_state(harness: Harness) -> None:
    flow = make_flow(harness)
    first = parse_qs(urlsplit(flow.authorize_url()).query)["state"]
    assert first != parse_qs(urlsplit(flow.authorize_url()).query)["state"]


async def test_reused_state_is_refused_and_the_code_not_exchanged_again(harness: Harness) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    await flow.complete(params)
    before = await connections.get(harness.database, REALM)
    with pytest.raises(InvalidArgumentError, match="already used"):
        await flow.complete(params)
    assert await connections.get(harness.database, REALM) == before
    # Had the code been exchanged twice the emulator would have revoked the grant.
    assert before is not None
    harness.server.check_bearer(f"Bearer {harness.manager.decrypt(before).access_token}", REALM)


async def test_wrong_state_stores_nothing(harness: Harness) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    params["state"] = "forged"
    with pytest.raises(InvalidArgumentError, match="does not match this login"):
        await flow.complete(params)
    assert await connections.list_all(harness.database) == []


async def test_missing_state_stores_nothing(harness: Harness) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    del params["state"]
    with pytest.raises(InvalidArgumentError, match="no state"):
        await flow.complete(params)
    assert await connections.list_all(harness.database) == []


async def test_state_expires_after_ten_minutes(harness: Harness) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    harness.clock.advance(601)
    with pytest.raises(InvalidArgumentError, match="expired"):
        await flow.complete(params)
    assert await connections.list_all(harness.database) == []


async def test_access_denied_is_a_clear_error(harness: Harness) -> None:
    harness.server.consent = "deny"
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    assert params["error"] == "access_denied"
    with pytest.raises(OAuthError, match="declined") as caught:
        await flow.complete(params)
    assert caught.value.error == "access_denied"
    assert await connections.list_all(harness.database) == []


async def test_invalid_client_at_exchange_stores_nothing(harness: Harness) -> None:
    harness.server._client_secret = "the-real-secret"
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    with pytest.raises(InvalidClientError):
        await flow.complete(params)
    assert await connections.list_all(harness.database) == []


async def test_relogin_replaces_tokens_and_clears_needs_reauth(harness: Harness) -> None:
    old = await harness.connect()
    await harness.oauth.revoke(old.refresh_token)
    await connections.mark_needs_reauth(harness.database, REALM, now=harness.clock())
    flow = make_flow(harness)
    await flow.complete(await consent(harness, flow.authorize_url()))
    row = await connections.get(harness.database, REALM)
    assert row is not None and not row.needs_reauth
    assert harness.manager.decrypt(row).refresh_token != old.refresh_token


def test_state_store_accepts_each_state_once() -> None:
    states = StateStore(clock=FakeClock())
    state = states.issue()
    states.consume(state)
    with pytest.raises(InvalidArgumentError):
        states.consume(state)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://localhost:8765/callback", "http://localhost"),
        ("http://example.com:8765/callback", "point at this machine"),
        ("http://10.0.0.1:8765/callback", "point at this machine"),
    ],
)
def test_redirect_uri_must_be_local_http(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        callback_address(uri)


def test_localhost_redirect_binds_loopback() -> None:
    assert callback_address("http://localhost:8765/callback") == ("127.0.0.1", 8765, "/callback")


def test_port_in_use_is_a_one_line_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1") as caught:
            listen("127.0.0.1", taken.getsockname()[1])
        assert "\n" not in str(caught.value)
    finally:
        taken.close()


async def test_callback_server_completes_over_loopback(harness: Harness) -> None:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    flow = make_flow(harness, f"http://127.0.0.1:{port}/callback")
    server = CallbackServer(flow, path="/callback")
    serving = asyncio.create_task(server.run(sock))
    params = await consent(harness, flow.authorize_url())
    async with httpx2.AsyncClient() as browser:
        page = await browser.get(f"http://127.0.0.1:{port}/callback", params=params)
    assert page.status_code == 200 and "Connected" in page.text
    result = await serving
    assert result.realm_id == REALM
    assert await connections.get(harness.database, REALM) is not None


async def test_callback_server_shows_a_wrong_state_and_fails_the_login(harness: Harness) -> None:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    flow = make_flow(harness, f"http://127.0.0.1:{port}/callback")
    serving = asyncio.create_task(CallbackServer(flow, path="/callback").run(sock))
    params = await consent(harness, flow.authorize_url())
    params["state"] = "forged"
    async with httpx2.AsyncClient() as browser:
        page = await browser.get(f"http://127.0.0.1:{port}/callback", params=params)
    assert page.status_code == 400 and "does not match" in page.text
    with pytest.raises(InvalidArgumentError, match="does not match"):
        await serving
    assert await connections.list_all(harness.database) == []


async def test_login_stores_the_company_name_from_companyinfo(harness: Harness) -> None:
    flow = make_flow(harness)
    result = await flow.complete(await consent(harness, flow.authorize_url()))
    assert result.company_name == "Craig's Design and Landscaping Services"
    row = await connections.get(harness.database, REALM)
    assert row is not None and row.company_name == result.company_name


async def test_login_keeps_the_connection_when_companyinfo_fails(harness: Harness) -> None:
    flow = LoginFlow(
        oauth=harness.oauth,
        manager=harness.manager,
        redirect_uri=REDIRECT,
        api_base_url="http://127.0.0.1:9",  # nothing listens: the name cannot be read
        clock=harness.clock,
    )
    result = await flow.complete(await consent(harness, flow.authorize_url()))
    assert result.company_name is None
    assert await connections.get(harness.database, REALM) is not None


@pytest.mark.parametrize("realm", [None, "", "abc", "1" * 33])
async def test_callback_without_a_numeric_realm_stores_nothing(
    harness: Harness, realm: str | None
) -> None:
    flow = make_flow(harness)
    params = await consent(harness, flow.authorize_url())
    if realm is None:
        del params["realmId"]
    else:
        params["realmId"] = realm
    with pytest.raises(InvalidArgumentError, match="realmId"):
        await flow.complete(params)
    assert await connections.list_all(harness.database) == []


async def test_other_error_from_intuit_is_reported_on_one_line(harness: Harness) -> None:
    flow = make_flow(harness)
    state = parse_qs(urlsplit(flow.authorize_url()).query)["state"][0]
    with pytest.raises(OAuthError, match="error=server_error") as caught:
        await flow.complete({"state": state, "error": "server_error\n<script>"})
    assert "\n" not in str(caught.value)
    assert await connections.list_all(harness.database) == []
