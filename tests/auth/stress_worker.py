"""One process of the refresh stress test (run by test_stress.py as `python -m`).

    python -m tests.auth.stress_worker call --until EPOCH --tasks 25 --realm R --base-url URL
    python -m tests.auth.stress_worker stall --realm R

`call`: `--tasks` tasks call companyinfo through QBOClient until `--until`, sharing one token
manager over the store (QBO_HOME's, or QBO_DATABASE_URL's); prints one JSON line with the tally.
`stall`: forces a refresh whose token request never leaves the process (the transport stops
before sending it), prints STALLED once the refresh holds the store's write lock, and waits to be
killed: a process that dies in the middle of a refresh.
Settings come from the QBO_* environment, as for `qb-mcp`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter

import httpx2

from qb_mcp.auth.crypto import load_keyring
from qb_mcp.auth.manager import TokenManager
from qb_mcp.auth.wiring import app_credentials, intuit_oauth, oauth_endpoints
from qb_mcp.config import Settings, configure_logging
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter
from qb_mcp.store import open_store


class StallingTransport(httpx2.AsyncBaseTransport):
    """Lets every request through except the token endpoint's, which never goes out."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/oauth2/v1/tokens/bearer"):
            print("STALLED", flush=True)
            await asyncio.Event().wait()
        return await self._inner.handle_async_request(request)


async def call(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    database = await open_store(settings)
    oauth = intuit_oauth(settings)
    manager = TokenManager(
        database=database,
        keyring=load_keyring(settings, create=False),
        oauth=oauth,
        environment=settings.environment,
    )
    # The test is about tokens: a budget far above the load keeps the limiter out of the way.
    limiter = RealmLimiter(Limits(requests_per_window=10**9, max_in_flight=10**6))
    ok = 0
    failures: Counter[str] = Counter()
    async with QBOClient(
        realm_id=args.realm, token_source=manager, base_url=args.base_url, limiter=limiter
    ) as client:

        async def task() -> None:
            nonlocal ok
            while time.time() < args.until:
                try:
                    await client.company_info()
                except Exception as exc:  # every failure is counted and reported, never hidden
                    failures[f"{type(exc).__name__}: {exc}"[:200]] += 1
                else:
                    ok += 1

        await asyncio.gather(*(task() for _ in range(args.tasks)))
    await oauth.aclose()
    await database.close()
    return {"ok": ok, "failures": dict(failures)}


async def stall(args: argparse.Namespace, settings: Settings) -> None:
    database = await open_store(settings)
    client_id, client_secret = app_credentials(settings)
    from qb_mcp.auth.intuit import IntuitOAuth

    oauth = IntuitOAuth(
        endpoints=oauth_endpoints(settings),
        client_id=client_id,
        client_secret=client_secret,
        transport=StallingTransport(),
    )
    manager = TokenManager(
        database=database,
        keyring=load_keyring(settings, create=False),
        oauth=oauth,
        environment=settings.environment,
    )
    current = await manager.access_token(args.realm)
    # "QuickBooks rejected the current token": the refresh starts at once, takes the write lock,
    # and stalls in the token request.
    await manager.refresh_after_rejection(args.realm, current)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("call", "stall"))
    parser.add_argument("--realm", required=True)
    parser.add_argument("--until", type=float, default=0.0)
    parser.add_argument("--tasks", type=int, default=25)
    parser.add_argument("--base-url", default="")
    args = parser.parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if args.mode == "stall":
        asyncio.run(stall(args, settings))
        return 1  # never reached: the test kills this process
    print(json.dumps(asyncio.run(call(args, settings))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
