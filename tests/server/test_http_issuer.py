"""Issue 13, MCP authorization with an identity provider: qb-mcp as a resource server.

The identity provider is a local fake issuer (starlette on a free loopback port) serving an
OpenID discovery document and a JWKS whose keys the test makes with `cryptography` and rotates;
the tokens are signed by the test with PyJWT, as the provider would. The server is the real
`serve --transport http` app under uvicorn, reached with mcp.Client's streamable HTTP client.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qb_mcp.config import Settings
from tests.emulator.conftest import FakeClock
from tests.server.conftest import error_text
from tests.server.http_auth_support import INITIALIZE, MCP_HEADERS, client, serve_http
from tests.server.test_http_auth import WRITE_TOOLS
from tests.server.test_tools import CONTACT
from tests.webhooks.conftest import serving

pytestmark = pytest.mark.anyio

AUDIENCE = "https://mcp.example.com/mcp"
METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


@dataclass
class Key:
    kid: str
    private: Any
    algorithm: str = "ES256"

    @classmethod
    def ec(cls, kid: str) -> Key:
        return cls(kid, ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def rsa(cls, kid: str) -> Key:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exported = (ECAlgorithm if self.algorithm == "ES256" else RSAAlgorithm).to_jwk(
            public, as_dict=True
        )
        return {**exported, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass
class Issuer:
    """The fake identity provider: its URL, the keys its JWKS lists, how often it was asked."""

    url: str = ""
    keys: list[Key] = field(default_factory=list)
    jwks_fetches: int = 0
    down: bool = False  # its JWKS answers 503

    def token(self, key: Key | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice@example.com",
            "iat": now,
            "exp": now + 300,
            "scope": "qbo:read qbo:write",
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


@asynccontextmanager
async def fake_issuer() -> AsyncIterator[Issuer]:
    issuer = Issuer(keys=[Key.ec("k1")])

    async def discovery(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer.url,
                "jwks_uri": f"{issuer.url}/jwks",
                "authorization_endpoint": f"{issuer.url}/authorize",
                "token_endpoint": f"{issuer.url}/token",
            }
        )

    async def jwks(_request: Request) -> JSONResponse:
        issuer.jwks_fetches += 1
        if issuer.down:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return JSONResponse({"keys": [key.jwk() for key in issuer.keys]})

    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
        ]
    )
    async with serving(app) as url:
        issuer.url = url
        yield issuer


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    async with fake_issuer() as found:
        yield found


def settings_for(tmp_path: Path, issuer: Issuer) -> Settings:
    # No stored token at all: the issuer alone is enough to start.
    return Settings(
        home=tmp_path / "home",
        environment="emulator",
        auth_issuer=issuer.url,
        auth_audience=AUDIENCE,
    )


async def post(base: str, token: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(
            f"{base}/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "authorization": f"Bearer {token}"},
        )


async def test_a_jwt_with_qbo_write_writes_and_is_audited_by_its_subject(
    tmp_path: Path, issuer: Issuer, mode: str
) -> None:
    token = issuer.token()
    async with (
        serve_http(settings_for(tmp_path, issuer)) as base,
        client(base, token, mode=mode) as mcp,
    ):
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        created = await mcp.call_tool("upsert_customer", CONTACT)
        read = await mcp.read_resource("qbo://audit/recent")
    assert names >= WRITE_TOOLS
    assert not created.is_error, error_text(created)
    writes = json.loads(read.contents[0].text)["writes"]  # type: ignore[union-attr]
    assert [w["by"] for w in writes] == ["alice@example.com"]


async def test_a_jwt_with_qbo_read_only_sees_no_write_tools(
    tmp_path: Path, issuer: Issuer, mode: str
) -> None:
    token = issuer.token(scope="qbo:read")
    async with (
        serve_http(settings_for(tmp_path, issuer)) as base,
        client(base, token, mode=mode) as mcp,
    ):
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        refused = await mcp.call_tool("record_payment", {"customer_id": "1", "amount": "1.00"})
    assert not names & WRITE_TOOLS and "find_customer" in names
    assert refused.is_error and "may only read" in error_text(refused)


async def test_an_rsa_key_works_too(tmp_path: Path, issuer: Issuer) -> None:
    issuer.keys.append(Key.rsa("r1"))
    async with serve_http(settings_for(tmp_path, issuer)) as base:
        answer = await post(base, issuer.token(issuer.keys[1]))
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://other.example.com/mcp"},
        {"iss": "https://impostor.example.com"},
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"sub": None},
        {"exp": None},
    ],
    ids=["audience", "issuer", "expired", "not-yet", "no-subject", "no-expiry"],
)
async def test_a_jwt_that_fails_a_check_is_401_pointing_at_the_metadata(
    tmp_path: Path, issuer: Issuer, claims: dict[str, Any]
) -> None:
    async with serve_http(settings_for(tmp_path, issuer)) as base:
        answer = await post(base, issuer.token(**claims))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    assert f'resource_metadata="{METADATA}"' in answer.headers["www-authenticate"]


async def test_forged_signatures_and_algorithms_are_refused(tmp_path: Path, issuer: Issuer) -> None:
    stranger = Key.ec("k1")  # the issuer's key id, someone else's key
    public_pem = issuer.keys[0].jwk()
    unsigned = jwt.encode(
        {"iss": issuer.url, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
        headers={"kid": "k1"},
    )
    # HS256 keyed with the public key's text: the classic algorithm-confusion forgery.
    confused = jwt.encode(
        {"iss": issuer.url, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 60},
        json.dumps(public_pem).encode() * 2,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    async with serve_http(settings_for(tmp_path, issuer)) as base:
        answers = [
            await post(base, token)
            for token in (issuer.token(stranger), unsigned, confused, "not.a.jwt")
        ]
    assert [answer.status_code for answer in answers] == [401] * 4


async def test_a_jwt_without_a_qbo_scope_is_403(tmp_path: Path, issuer: Issuer) -> None:
    async with serve_http(settings_for(tmp_path, issuer)) as base:
        answer = await post(base, issuer.token(scope="openid email"))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


async def test_keys_rotate_without_a_restart(tmp_path: Path, issuer: Issuer) -> None:
    clock = FakeClock()
    old = issuer.keys[0]
    async with serve_http(settings_for(tmp_path, issuer), clock=clock) as base:
        first = await post(base, issuer.token(old))
        new = Key.ec("k2")
        issuer.keys = [new]  # the provider rotates: k2 signs, k1 is withdrawn
        # Just after a fetch, an unknown key id does not make the server ask again...
        too_soon = await post(base, issuer.token(new))
        fetches = issuer.jwks_fetches
        clock.advance(31)
        # ...a little later it does, and finds the new key.
        rotated = await post(base, issuer.token(new))
        withdrawn = await post(base, issuer.token(old))
    assert first.status_code == 200
    assert too_soon.status_code == 401 and fetches == 1
    assert rotated.status_code == 200 and issuer.jwks_fetches == 2
    assert withdrawn.status_code == 401


async def test_protected_resource_metadata_names_the_issuer_and_scopes(
    tmp_path: Path, issuer: Issuer
) -> None:
    async with serve_http(settings_for(tmp_path, issuer)) as base, httpx2.AsyncClient() as http:
        at_path = await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")
        bare = await http.get(f"{base}/.well-known/oauth-protected-resource")
        challenge = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert at_path.status_code == bare.status_code == 200
    document = at_path.json()
    assert document == bare.json()
    assert document["resource"] == AUDIENCE
    assert document["authorization_servers"] == [issuer.url]
    assert document["scopes_supported"] == ["qbo:read", "qbo:write"]
    assert challenge.status_code == 401
    assert f'resource_metadata="{METADATA}"' in challenge.headers["www-authenticate"]


async def test_an_issuer_whose_discovery_names_another_issuer_is_not_trusted(
    tmp_path: Path, issuer: Issuer
) -> None:
    settings = settings_for(tmp_path, issuer).with_overrides(auth_issuer=issuer.url + "/")
    async with serve_http(settings) as base:
        answer = await post(base, issuer.token(iss=issuer.url + "/"))
    assert answer.status_code == 401
    assert issuer.jwks_fetches == 0


async def test_an_unreachable_issuer_refuses_jwts_until_it_answers_then_its_keys_are_kept(
    tmp_path: Path, issuer: Issuer
) -> None:
    clock = FakeClock()
    issuer.down = True
    async with serve_http(settings_for(tmp_path, issuer), clock=clock) as base:
        while_down = await post(base, issuer.token())
        issuer.down = False
        clock.advance(31)
        back = await post(base, issuer.token())
        issuer.down = True
        clock.advance(4000)  # the JWKS is stale and cannot be read again: the known keys serve
        down_again = await post(base, issuer.token())
    assert while_down.status_code == 401
    assert back.status_code == 200
    assert down_again.status_code == 200
    assert issuer.jwks_fetches == 3
