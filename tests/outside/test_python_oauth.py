"""intuit-oauth (PyPI), Intuit's own Python OAuth client, against the emulator's OAuth server.

Its ordinary flow: an AuthClient built from a discovery document (the library takes a discovery
URL in place of "sandbox"/"production"), the authorize URL it builds, the code exchange (which
validates the id_token against the discovery document's issuer and JWKS), refresh, revoke.
"""

from __future__ import annotations

import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from tests.outside.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Running


def auth_client(running: Running, secret: str = CLIENT_SECRET) -> AuthClient:
    return AuthClient(CLIENT_ID, secret, REDIRECT_URI, running.discovery_url)


def connected(running: Running) -> AuthClient:
    """An AuthClient that went through authorize and code exchange, with the openid scope."""
    client = auth_client(running)
    url = client.get_authorization_url([Scopes.ACCOUNTING, Scopes.OPENID, Scopes.EMAIL])
    redirect = running.consent(url)
    assert redirect["state"] == client.state_token
    client.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    return client


def test_the_code_exchange_gives_tokens_and_a_valid_id_token(running: Running) -> None:
    client = connected(running)
    assert client.realm_id == running.realm_id
    assert client.access_token and client.refresh_token
    assert client.expires_in == 3600
    assert int(client.x_refresh_token_expires_in) > 86_400
    # set_attributes keeps the id_token only when validate_id_token passed (issuer, audience,
    # expiry, RS256 signature through the discovery document's jwks_uri).
    assert client.id_token is not None


def test_a_code_is_single_use(running: Running) -> None:
    client = auth_client(running)
    redirect = running.consent(client.get_authorization_url([Scopes.ACCOUNTING]))
    client.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    with pytest.raises(AuthClientError) as refused:
        auth_client(running).get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    assert refused.value.status_code == 400
    assert b"invalid_grant" in refused.value.content


def test_a_code_is_bound_to_its_redirect_uri(running: Running) -> None:
    client = auth_client(running)
    redirect = running.consent(client.get_authorization_url([Scopes.ACCOUNTING]))
    elsewhere = AuthClient(
        CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:9/other", running.discovery_url
    )
    with pytest.raises(AuthClientError) as refused:
        elsewhere.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    assert refused.value.status_code == 400
    assert b"invalid_grant" in refused.value.content


def test_refresh_rotates_and_the_superseded_token_is_refused(running: Running) -> None:
    client = connected(running)
    first_access, first_refresh = client.access_token, client.refresh_token
    client.refresh()
    assert client.access_token != first_access
    assert client.refresh_token != first_refresh  # this emulator rotates on every refresh
    with pytest.raises(AuthClientError) as refused:
        client.refresh(refresh_token=first_refresh)
    assert refused.value.status_code == 400
    assert b"invalid_grant" in refused.value.content
    assert refused.value.intuit_tid  # the library reads Intuit's tracking header


def test_wrong_client_secret_is_invalid_client(running: Running) -> None:
    client = connected(running)
    stranger = auth_client(running, secret="not-the-secret")
    with pytest.raises(AuthClientError) as refused:
        stranger.refresh(refresh_token=client.refresh_token)
    assert refused.value.status_code == 401
    assert b"invalid_client" in refused.value.content


def test_revoke_ends_the_grant(running: Running) -> None:
    client = connected(running)
    refresh_token = client.refresh_token
    assert client.revoke() is True  # JSON body {"token": refresh_token}
    with pytest.raises(AuthClientError) as refused:
        client.refresh(refresh_token=refresh_token)
    assert b"invalid_grant" in refused.value.content


def test_user_info_answers_for_the_access_token(running: Running) -> None:
    client = connected(running)
    answer = client.get_user_info()
    assert answer.status_code == 200
    assert answer.json()["sub"]
