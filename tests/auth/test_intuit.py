import socket

import pytest

from qb_mcp.auth.intuit import IntuitOAuth, parse_grant
from qb_mcp.config import OAuthEndpoints
from qb_mcp.errors import OAuthError, TransportError

pytestmark = pytest.mark.anyio


async def test_a_token_endpoint_that_never_answers_times_out_as_a_whole() -> None:
    with socket.socket() as black_hole:  # accepts connections (backlog), never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen()
        port = black_hole.getsockname()[1]
        async with IntuitOAuth(
            endpoints=OAuthEndpoints.at(f"http://127.0.0.1:{port}"),
            client_id="id",
            client_secret="secret",
            timeout=0.2,
        ) as oauth:
            with pytest.raises(TransportError, match=r"did not answer within 0\.2 s"):
                await oauth.refresh("AB1-not-a-real-token")


async def test_unreachable_token_endpoint_is_a_transport_error_without_the_token() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the call: nothing listens
    async with IntuitOAuth(
        endpoints=OAuthEndpoints.at(f"http://127.0.0.1:{port}"),
        client_id="id",
        client_secret="secret",
    ) as oauth:
        with pytest.raises(TransportError) as caught:
            await oauth.refresh("AB1-secret-refresh")
    assert "AB1-secret-refresh" not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"access_token": "a", "refresh_token": "r"}',
        b'{"access_token": "", "refresh_token": "r", "expires_in": 3600, "x_refresh_token_expires_in": 1}',
        b'{"access_token": "a", "refresh_token": "r", "expires_in": -1, "x_refresh_token_expires_in": 1}',
        b'{"access_token": "a", "refresh_token": "r", "expires_in": true, "x_refresh_token_expires_in": 1}',
    ],
)
def test_malformed_token_answers_are_oauth_errors(body: bytes) -> None:
    with pytest.raises(OAuthError):
        parse_grant(body)


def test_token_answer_with_hard_expiry() -> None:
    grant = parse_grant(
        b'{"token_type": "bearer", "access_token": "SECRET-A", "refresh_token": "SECRET-R", "expires_in": 3600,'
        b' "x_refresh_token_expires_in": 8726400, "x_refresh_token_hard_expires_in": 157680000}'
    )
    assert (grant.expires_in, grant.refresh_expires_in, grant.hard_expires_in) == (
        3600,
        8726400,
        157680000,
    )
    assert "SECRET" not in repr(grant)
