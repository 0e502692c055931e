"""What authentication costs per MCP request over HTTP (issue 13's `auth_overhead_p50_ms`).

Times the verifier `serve --transport http` runs on every request (`AnyVerifier`: the stored
tokens, then the identity provider's JWTs), N times each, for:
- a stored bearer token (`qb-mcp tokens add`): one SHA-256 and one indexed SQLite lookup;
- a JWT from an identity provider with the JWKS cached (ES256 and RS256): PyJWT's checks;
- a JWT refused for its audience (the cost of a refusal is no bigger than an acceptance).
The issuer's discovery document and JWKS come from an in-process transport: only the first
JWT fetches them, as in a running server.

    .venv/bin/python bench/auth.py            # N = 2000
    .venv/bin/python bench/auth.py --n 500

The last line is one JSON object: `{"auth_overhead_p50_ms"` (a JWT with a cached JWKS, the
slower of ES256 and RS256), `"stored_p50_ms"`, `"jwt_es256_p50_ms"`, `"jwt_rs256_p50_ms"`,
`"refused_p50_ms"`, `"n"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from qb_mcp.auth.bearer import AnyVerifier, StoredTokenVerifier, new_token
from qb_mcp.auth.issuer import IssuerVerifier
from qb_mcp.config import Settings
from qb_mcp.store import bearer_tokens, open_database

ISSUER = "https://id.example.com"
AUDIENCE = "https://mcp.example.com/mcp"


def issuer_transport(keys: list[dict[str, Any]]) -> httpx2.MockTransport:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx2.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        return httpx2.Response(200, json={"keys": keys})

    return httpx2.MockTransport(answer)


def signed(private: Any, algorithm: str, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice@example.com",
        "exp": now + 3600,
        "scope": "qbo:read qbo:write",
    }
    return jwt.encode({**body, **claims}, private, algorithm=algorithm, headers={"kid": kid})


async def p50_ms(verifier: AnyVerifier, token: str, n: int, *, accepted: bool) -> float:
    found = await verifier.verify_token(token)  # warm: opens the database, fetches the JWKS
    assert (found is not None) == accepted
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await verifier.verify_token(token)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 4)


async def run(n: int) -> dict[str, Any]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = [
        {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e1", "alg": "ES256"},
        {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r1", "alg": "RS256"},
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "home" / "qb-mcp.sqlite3"
        token = new_token()
        database = await open_database(path)
        try:
            for number in range(200):  # a table with some rows in it, not just one
                await bearer_tokens.add(
                    database,
                    name=f"agent-{number}",
                    token=token if number == 100 else new_token(),
                    scope="write",
                    companies=None,
                    created_at=time.time(),
                )
        finally:
            await database.close()
        verifier = AnyVerifier(
            [
                StoredTokenVerifier(Settings(home=path.parent)),
                IssuerVerifier(issuer=ISSUER, audience=AUDIENCE, transport=issuer_transport(keys)),
            ]
        )
        try:
            figures = {
                "stored_p50_ms": await p50_ms(verifier, token, n, accepted=True),
                "jwt_es256_p50_ms": await p50_ms(
                    verifier, signed(ec_key, "ES256", "e1"), n, accepted=True
                ),
                "jwt_rs256_p50_ms": await p50_ms(
                    verifier, signed(rsa_key, "RS256", "r1"), n, accepted=True
                ),
                "refused_p50_ms": await p50_ms(
                    verifier, signed(ec_key, "ES256", "e1", aud="other"), n, accepted=False
                ),
            }
        finally:
            await verifier.aclose()
    return {
        "auth_overhead_p50_ms": max(figures["jwt_es256_p50_ms"], figures["jwt_rs256_p50_ms"]),
        **figures,
        "n": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    figures = asyncio.run(run(parser.parse_args().n))
    for name, value in figures.items():
        print(f"{name:>22}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
