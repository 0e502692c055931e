"""The emulator's Intuit OAuth server, driven over HTTP through the ASGI transport."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.oauth import OAuthServer

pytestmark = pytest.mark.anyio

REALM = "9341453050298"
REDIRECT = "http://localhost:8123/callback"
SCOPE = "com.intuit.quickbooks.accounting"
BASIC = "Basic " + base64.b64encode(b"client-a:secret-a").decode()


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> OAuthServer:
    return OAuthServer(clock=clock, rotate_refresh_after=0, default_realm=lambda: REALM)


@pytest.fixture
async def client(server: OAuthServer) -> AsyncIterator[httpx2.AsyncClient]:
    app = Starlette(routes=server.routes())
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://emulator") as c:
        yield c


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": "client-a",
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": REDIRECT,
        "state": "st-1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != "<omit>"}


async def get_code(client: httpx2.AsyncClient, **overrides: str) -> dict[str, str]:
    r = await client.get("/connect/oauth2", params=authorize_params(**overrides))
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


async def exchange(
    client: httpx2.AsyncClient, code: str, *, redirect_uri: str = REDIRECT, **headers: str
) -> httpx2.Response:
    return await client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers={"Authorization": BASIC, **headers},
    )


async def refresh(client: httpx2.AsyncClient, token: str) -> httpx2.Response:
    return await client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Authorization": BASIC},
    )


async def login(client: httpx2.AsyncClient) -> dict[str, object]:
    code = (await get_code(client))["code"]
    r = await exchange(client, code)
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


def bearer_fault(server: OAuthServer, token: str | None, realm: str = REALM) -> QBOFault:
    with pytest.raises(QBOFault) as info:
        server.check_bearer(None if token is None else f"Bearer {token}", realm)
    return info.value


# ---- authorize ------------------------------------------------------------------------------


async def test_authorize_redirects_with_code_state_and_realm(client: httpx2.AsyncClient) -> None:
    r = await client.get("/connect/oauth2", params=authorize_params(state="a b&c"))
    location = urlsplit(r.headers["location"])
    assert r.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["a b&c"]
    assert query["realmId"] == [REALM]
    assert len(query["code"][0]) > 20


async def test_authorize_keeps_the_redirect_uris_own_query(client: httpx2.AsyncClient) -> None:
    r = await client.get("/connect/oauth2", params=authorize_params(redirect_uri=REDIRECT + "?x=1"))
    assert parse_qs(urlsplit(r.headers["location"]).query)["x"] == ["1"]


async def test_authorize_realm_id_parameter_picks_the_company(client: httpx2.AsyncClient) -> None:
    params = await get_code(client, realmId="4620816365")
    assert params["realmId"] == "4620816365"


async def test_authorize_denied_redirects_with_access_denied(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    server.consent = "deny"
    params = await get_code(client)
    assert params == {"error": "access_denied", "state": "st-1"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"response_type": "token"},
        {"response_type": "<omit>"},
        {"redirect_uri": "<omit>"},
        {"redirect_uri": "not a url"},
        {"redirect_uri": "ftp://host/cb"},
        {"scope": "openid email"},
        {"scope": "<omit>"},
        {"scope": f"{SCOPE} bogus.scope"},
        {"client_id": "<omit>"},
        {"realmId": "12'; drop"},
    ],
)
async def test_authorize_bad_request_is_a_400_page_not_a_redirect(
    client: httpx2.AsyncClient, overrides: dict[str, str]
) -> None:
    r = await client.get("/connect/oauth2", params=authorize_params(**overrides))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")


async def test_authorize_refuses_an_unknown_client_when_one_is_configured(clock: Clock) -> None:
    server = OAuthServer(clock=clock, client_id="the-app", default_realm=lambda: REALM)
    transport = httpx2.ASGITransport(app=Starlette(routes=server.routes()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
        wrong = await c.get("/connect/oauth2", params=authorize_params(client_id="other"))
        right = await c.get("/connect/oauth2", params=authorize_params(client_id="the-app"))
    assert wrong.status_code == 400
    assert right.status_code == 302


# ---- authorization_code grant ---------------------------------------------------------------


async def test_code_exchange_answers_like_intuit(
    client: httpx2.AsyncClient, samples_dir: Path
) -> None:
    sample = json.loads((samples_dir / "oauth-token-response.json").read_text())
    body = await login(client)
    # id_token only comes with the openid scope, which this login did not ask for.
    assert set(body) == set(sample) - {"id_token"}
    for key, value in body.items():
        assert type(value) is type(sample[key]), key
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8_726_400


async def test_code_exchange_reports_hard_expiry_when_asked(client: httpx2.AsyncClient) -> None:
    code = (await get_code(client))["code"]
    r = await exchange(client, code, **{"x-include-refresh-token-hard-expires-in": "true"})
    assert r.json()["x_refresh_token_hard_expires_in"] == 5 * 365 * 86_400


async def test_tokens_from_a_code_work_for_its_realm(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    body = await login(client)
    server.check_bearer(f"Bearer {body['access_token']}", REALM)
    assert bearer_fault(server, str(body["access_token"]), "1111").status == 401


async def test_second_exchange_of_a_code_fails_and_revokes_the_first_grant(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    code = (await get_code(client))["code"]
    first = (await exchange(client, code)).json()
    again = await exchange(client, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert "revoked" in bearer_fault(server, first["access_token"]).errors[0].detail.lower()
    assert (await refresh(client, first["refresh_token"])).status_code == 400


async def test_code_expires_after_ten_minutes(client: httpx2.AsyncClient, clock: Clock) -> None:
    code = (await get_code(client))["code"]
    clock.now += 601
    r = await exchange(client, code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_code_exchange_needs_the_same_redirect_uri(client: httpx2.AsyncClient) -> None:
    code = (await get_code(client))["code"]
    wrong = await exchange(client, code, redirect_uri="http://localhost:9999/other")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # The failed attempt did not use the code up.
    assert (await exchange(client, code)).status_code == 200


async def test_code_exchange_needs_the_client_it_was_issued_to(
    client: httpx2.AsyncClient,
) -> None:
    code = (await get_code(client))["code"]
    other = "Basic " + base64.b64encode(b"client-b:secret").decode()
    r = await exchange(client, code, Authorization=other)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_unknown_code_is_invalid_grant(client: httpx2.AsyncClient) -> None:
    r = await exchange(client, "AB11234567890nonsense")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


# ---- client authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic ",
    ],
)
async def test_missing_or_malformed_client_auth_is_invalid_client(
    client: httpx2.AsyncClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers=headers,
    )
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_client"}


async def test_configured_client_credentials_are_enforced(clock: Clock) -> None:
    server = OAuthServer(
        clock=clock, client_id="app", client_secret="s3cret", default_realm=lambda: REALM
    )
    transport = httpx2.ASGITransport(app=Starlette(routes=server.routes()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
        code = (await get_code(c, client_id="app"))["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        wrong = await c.post("/oauth2/v1/tokens/bearer", data=form, auth=("app", "nope"))
        right = await c.post("/oauth2/v1/tokens/bearer", data=form, auth=("app", "s3cret"))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client"}
    assert right.status_code == 200


async def test_client_secret_post_is_accepted_as_discovery_advertises(
    client: httpx2.AsyncClient,
) -> None:
    code = (await get_code(client))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "client-a",
        "client_secret": "secret-a",
    }
    r = await client.post("/oauth2/v1/tokens/bearer", data=form)
    assert r.status_code == 200


# ---- refresh_token grant --------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_token_is_invalid_grant(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    first = await login(client)
    r = await refresh(client, str(first["refresh_token"]))
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    stale = await refresh(client, str(first["refresh_token"]))
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"
    assert (await refresh(client, second["refresh_token"])).status_code == 200
    assert server.refresh_count == 2


async def test_refresh_keeps_the_token_until_rotation_is_due(clock: Clock) -> None:
    server = OAuthServer(clock=clock, rotate_refresh_after=86_400, default_realm=lambda: REALM)
    transport = httpx2.ASGITransport(app=Starlette(routes=server.routes()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
        first = await login(c)
        clock.now += 3600
        same = (await refresh(c, str(first["refresh_token"]))).json()
        clock.now += 86_400
        rotated = (await refresh(c, str(first["refresh_token"]))).json()
        stale = await refresh(c, str(first["refresh_token"]))
    assert same["refresh_token"] == first["refresh_token"]
    assert same["x_refresh_token_expires_in"] == 8_726_400 - 3600
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["x_refresh_token_expires_in"] == 8_726_400
    assert stale.status_code == 400


async def test_refresh_does_not_invalidate_older_access_tokens(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    first = await login(client)
    second = (await refresh(client, str(first["refresh_token"]))).json()
    server.check_bearer(f"Bearer {first['access_token']}", REALM)
    server.check_bearer(f"Bearer {second['access_token']}", REALM)
    assert first["access_token"] != second["access_token"]


async def test_expired_refresh_token_is_invalid_grant(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    first = await login(client)
    clock.now += 8_726_400
    r = await refresh(client, str(first["refresh_token"]))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_access_token_expires_by_the_clock(
    client: httpx2.AsyncClient, server: OAuthServer, clock: Clock
) -> None:
    body = await login(client)
    clock.now += 3599
    server.check_bearer(f"Bearer {body['access_token']}", REALM)
    clock.now += 1
    fault = bearer_fault(server, str(body["access_token"]))
    assert fault.errors[0].detail.startswith("Token expired: ")
    assert str(body["access_token"]) not in fault.errors[0].detail


async def test_access_token_ttl_is_configurable(clock: Clock) -> None:
    server = OAuthServer(clock=clock, access_token_ttl=2, default_realm=lambda: REALM)
    pair = server.issue_tokens(REALM)
    assert pair.expires_in == 2
    clock.now += 2
    assert bearer_fault(server, pair.access_token).status == 401


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "username": "u"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"code": "abc"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "abc"}, "invalid_request"),
    ],
)
async def test_token_endpoint_rejects_bad_grants(
    client: httpx2.AsyncClient, form: dict[str, str], error: str
) -> None:
    r = await client.post("/oauth2/v1/tokens/bearer", data=form, headers={"Authorization": BASIC})
    assert r.status_code == 400
    assert r.json()["error"] == error


@pytest.mark.parametrize(
    "content",
    [
        b'{"grant_type": "refresh_token"}',
        b"grant_type=refresh_token&grant_type=authorization_code",
        b"grant_type=refresh_token&refresh_token=\xff\xfe",
        b"=&&==",
        b"x" * 20_000,
    ],
)
async def test_token_endpoint_malformed_body_is_invalid_request(
    client: httpx2.AsyncClient, server: OAuthServer, content: bytes
) -> None:
    r = await client.post(
        "/oauth2/v1/tokens/bearer",
        content=content,
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert server.snapshot()["grants"] == {}


# ---- check_bearer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "Basic abc", "Bearer", "Bearer   ", "Bearer not-a-token"]
)
def test_check_bearer_refuses_missing_malformed_and_unknown(
    server: OAuthServer, authorization: str | None
) -> None:
    with pytest.raises(QBOFault) as info:
        server.check_bearer(authorization, REALM)
    fault = info.value
    assert fault.status == 401
    assert fault.shape == "gateway"
    assert fault.errors[0].code == "3200"


def test_check_bearer_accepts_an_issued_token_for_its_realm_only(server: OAuthServer) -> None:
    pair = server.issue_tokens(REALM)
    server.check_bearer(f"Bearer {pair.access_token}", REALM)
    server.check_bearer(f"bearer {pair.access_token}", REALM)
    assert pair.realm_id == REALM
    assert bearer_fault(server, pair.access_token, "999").status == 401


def test_access_tokens_are_long_opaque_and_unique(server: OAuthServer) -> None:
    tokens = {server.issue_tokens(REALM).access_token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) > 500 and t.startswith("eyJ") for t in tokens)


# ---- revoke ---------------------------------------------------------------------------------


async def revoke(client: httpx2.AsyncClient, payload: object) -> httpx2.Response:
    return await client.post(
        "/v2/oauth2/tokens/revoke",
        content=json.dumps(payload).encode(),
        headers={"Authorization": BASIC, "Content-Type": "application/json"},
    )


async def test_revoking_the_refresh_token_revokes_the_grant(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    body = await login(client)
    r = await revoke(client, {"token": body["refresh_token"]})
    assert r.status_code == 200
    assert r.content == b""
    assert bearer_fault(server, str(body["access_token"])).status == 401
    assert (await refresh(client, str(body["refresh_token"]))).json()["error"] == "invalid_grant"


async def test_revoking_an_access_token_revokes_the_grant(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    body = await login(client)
    assert (await revoke(client, {"token": body["access_token"]})).status_code == 200
    assert (await refresh(client, str(body["refresh_token"]))).status_code == 400


async def test_revoking_an_unknown_token_is_200(client: httpx2.AsyncClient) -> None:
    assert (await revoke(client, {"token": "AB1nothing"})).status_code == 200


@pytest.mark.parametrize("payload", [[], {"token": 5}, {"token": ""}, {"nottoken": "x"}, "x"])
async def test_revoke_bad_body_is_400_and_revokes_nothing(
    client: httpx2.AsyncClient, server: OAuthServer, payload: object
) -> None:
    pair = server.issue_tokens(REALM)
    r = await revoke(client, payload)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    server.check_bearer(f"Bearer {pair.access_token}", REALM)


async def test_revoke_non_json_body_is_400(client: httpx2.AsyncClient) -> None:
    r = await client.post(
        "/v2/oauth2/tokens/revoke", content=b"token=abc", headers={"Authorization": BASIC}
    )
    assert r.status_code == 400


async def test_revoke_takes_a_form_encoded_body(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    # RFC 7009 section 2.1's form, besides Intuit's JSON.
    body = await login(client)
    r = await client.post(
        "/v2/oauth2/tokens/revoke",
        content=f"token={body['refresh_token']}&token_type_hint=refresh_token".encode(),
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert bearer_fault(server, str(body["access_token"])).status == 401


async def test_revoke_form_may_carry_the_client_credentials(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    pair = server.issue_tokens(REALM)
    r = await client.post(
        "/v2/oauth2/tokens/revoke",
        data={"token": pair.refresh_token, "client_id": "client-a", "client_secret": "s"},
    )
    assert r.status_code == 200
    assert bearer_fault(server, pair.access_token).status == 401


@pytest.mark.parametrize("content", [b"", b"nottoken=x", b"token=a&token=b", b"\xff"])
async def test_revoke_bad_form_is_400_and_revokes_nothing(
    client: httpx2.AsyncClient, server: OAuthServer, content: bytes
) -> None:
    pair = server.issue_tokens(REALM)
    r = await client.post(
        "/v2/oauth2/tokens/revoke",
        content=content,
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    server.check_bearer(f"Bearer {pair.access_token}", REALM)


async def test_revoke_form_without_any_client_auth_is_401(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    pair = server.issue_tokens(REALM)
    r = await client.post("/v2/oauth2/tokens/revoke", data={"token": pair.refresh_token})
    assert r.status_code == 401
    server.check_bearer(f"Bearer {pair.access_token}", REALM)


async def test_revoke_needs_client_auth(client: httpx2.AsyncClient, server: OAuthServer) -> None:
    pair = server.issue_tokens(REALM)
    r = await client.post("/v2/oauth2/tokens/revoke", json={"token": pair.refresh_token})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_client"}
    server.check_bearer(f"Bearer {pair.access_token}", REALM)


# ---- discovery ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/openid_configuration",
        "/.well-known/openid_configuration/",
        "/.well-known/openid_sandbox_configuration/",
    ],
)
async def test_discovery_points_at_this_host(client: httpx2.AsyncClient, path: str) -> None:
    r = await client.get(path)
    doc = r.json()
    assert r.status_code == 200
    assert doc["authorization_endpoint"] == "http://emulator/connect/oauth2"
    assert doc["token_endpoint"] == "http://emulator/oauth2/v1/tokens/bearer"
    assert doc["revocation_endpoint"] == "http://emulator/v2/oauth2/tokens/revoke"
    assert doc["response_types_supported"] == ["code"]
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    jwks = await client.get(urlsplit(doc["jwks_uri"]).path)
    assert [k["alg"] for k in jwks.json()["keys"]] == ["RS256"]


async def test_openid_scope_adds_an_id_token_signed_by_the_jwks_key(
    client: httpx2.AsyncClient, clock: Clock, samples_dir: Path
) -> None:
    sample = json.loads((samples_dir / "oauth-token-response.json").read_text())
    code = (await get_code(client, scope=f"{SCOPE} openid email"))["code"]
    body = (await exchange(client, code)).json()
    assert set(body) == set(sample)
    header_b64, claims_b64, signature_b64 = body["id_token"].split(".")
    key = (await client.get("/op/v1/jwks")).json()["keys"][0]
    public = rsa.RSAPublicNumbers(b64int(key["e"]), b64int(key["n"])).public_key()
    public.verify(  # raises InvalidSignature when the token does not match the published key
        unb64(signature_b64),
        f"{header_b64}.{claims_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert json.loads(unb64(header_b64))["kid"] == key["kid"]
    claims = json.loads(unb64(claims_b64))
    assert claims["aud"] == ["client-a"]
    assert claims["realmid"] == REALM
    # Intuit's issuer whatever the host: intuit-oauth (npm) pins exactly this string.
    assert claims["iss"] == "https://oauth.platform.intuit.com/op/v1"
    assert claims["exp"] > clock.now


async def test_id_token_passes_intuit_oauth_checks(client: httpx2.AsyncClient) -> None:
    # What intuit-oauth checks before the signature: intuit-oauth 4.2.5 (npm) OAuthClient.js
    # validateIdToken (iss pinned, aud an array holding the client id) and intuit-oauth 1.2.6
    # (PyPI) intuitlib.utils.validate_id_token (iss == the discovery document's issuer, aud[0]).
    discovery = (await client.get("/.well-known/openid_sandbox_configuration")).json()
    code = (await get_code(client, scope=f"{SCOPE} openid"))["code"]
    token = (await exchange(client, code)).json()["id_token"]
    claims = json.loads(unb64(token.split(".")[1]))
    assert claims["iss"] == "https://oauth.platform.intuit.com/op/v1" == discovery["issuer"]
    assert isinstance(claims["aud"], list) and claims["aud"][0] == "client-a"
    # The key is fetched from the emulator, at the path Intuit's jwks_uri has.
    assert urlsplit(discovery["jwks_uri"]).path == "/op/v1/jwks"
    kid = json.loads(unb64(token.split(".")[0]))["kid"]
    assert kid in [k["kid"] for k in (await client.get("/op/v1/jwks")).json()["keys"]]


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64int(text: str) -> int:
    return int.from_bytes(unb64(text), "big")


async def test_userinfo_needs_a_valid_token(
    client: httpx2.AsyncClient, server: OAuthServer
) -> None:
    pair = server.issue_tokens(REALM)
    ok = await client.get(
        "/v1/openid_connect/userinfo", headers={"Authorization": f"Bearer {pair.access_token}"}
    )
    bad = await client.get("/v1/openid_connect/userinfo", headers={"Authorization": "Bearer x"})
    assert ok.status_code == 200
    assert ok.json()["sub"]
    assert bad.status_code == 401


# ---- state and secrecy ----------------------------------------------------------------------


async def test_snapshot_restores_into_a_new_server_without_holding_tokens(
    client: httpx2.AsyncClient, server: OAuthServer, clock: Clock
) -> None:
    body = await login(client)
    data = json.loads(json.dumps(server.snapshot()))
    assert str(body["access_token"]) not in json.dumps(data)
    assert str(body["refresh_token"]) not in json.dumps(data)
    other = OAuthServer(clock=clock, rotate_refresh_after=0, default_realm=lambda: REALM)
    other.restore(data)
    other.check_bearer(f"Bearer {body['access_token']}", REALM)
    transport = httpx2.ASGITransport(app=Starlette(routes=other.routes()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
        assert (await refresh(c, str(body["refresh_token"]))).status_code == 200


@pytest.mark.parametrize(
    "data",
    [{}, {"version": 2}, {"version": 1, "codes": []}, {"version": 1, "codes": {}, "grants": 5}],
)
def test_restore_refuses_malformed_data_and_changes_nothing(
    server: OAuthServer, data: dict[str, object]
) -> None:
    pair = server.issue_tokens(REALM)
    with pytest.raises(ValueError):
        server.restore(data)
    server.check_bearer(f"Bearer {pair.access_token}", REALM)


async def test_no_token_or_secret_reaches_the_logs(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await login(client)
    await refresh(client, str(body["refresh_token"]))
    await refresh(client, str(body["refresh_token"]))  # stale: logged as refused
    await revoke(client, {"token": body["refresh_token"]})
    for secret in (str(body["access_token"]), str(body["refresh_token"]), "secret-a"):
        assert secret not in caplog.text


async def test_authorize_refuses_a_realm_with_no_company(clock: Clock) -> None:
    server = OAuthServer(
        clock=clock, default_realm=lambda: REALM, has_realm=lambda realm: realm == REALM
    )
    transport = httpx2.ASGITransport(app=Starlette(routes=server.routes()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
        unknown = await c.get("/connect/oauth2", params=authorize_params(realmId="555"))
        known = await c.get("/connect/oauth2", params=authorize_params(realmId=REALM))
    assert unknown.status_code == 400
    assert known.status_code == 302


async def test_state_stays_bounded_through_rotations_and_revocations(
    client: httpx2.AsyncClient, server: OAuthServer, clock: Clock
) -> None:
    body = await login(client)
    token = str(body["refresh_token"])
    for _ in range(5):
        token = (await refresh(client, token)).json()["refresh_token"]
    assert len(server.snapshot()["refresh"]) == 1
    await revoke(client, {"token": token})
    assert len(server.snapshot()["grants"]) == 1  # its access tokens still answer "revoked"
    clock.now += 3600
    snap = server.snapshot()
    assert snap["grants"] == {}
    assert snap["refresh"] == {}
    assert snap["access"] == {}
