"""`qb-mcp tokens add|list|revoke`: the bearer tokens of `serve --transport http`.

`add` prints the new token once, alone on stdout (so `TOKEN=$(qb-mcp tokens add ci)` works), and
stores only its hash. Bad input (a taken or malformed name, an unknown company) is one line on
stderr, exit 2, and nothing is stored.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime

from qb_mcp.auth.bearer import new_token
from qb_mcp.auth.commands import _run
from qb_mcp.config import Settings
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.store import bearer_tokens, connections, open_store
from qb_mcp.store.bearer_tokens import BearerToken
from qb_mcp.store.db import Database

# A name is shown in logs and the audit log: plain printable ASCII, no spaces.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidArgumentError(
            f"token name {name[:70]!r} is not allowed: use 1 to 64 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    """Make a token, store its hash, print it once."""
    name = check_name(args.name)
    scope = args.scope
    if scope not in bearer_tokens.SCOPES:
        raise InvalidArgumentError(f"--scope must be read or write; got {scope!r}")
    wanted = tuple(dict.fromkeys(args.company or ()))  # in order, each once
    for realm_id in wanted:
        if not realm_id.isdigit():
            raise InvalidArgumentError(
                f"--company must be a numeric realm id (see `qb-mcp auth status`); got "
                f"{realm_id[:40]!r}"
            )
    token = new_token()

    async def add() -> BearerToken:
        database = await open_store(settings)
        try:
            if wanted:
                await _check_companies(database, wanted)
            return await bearer_tokens.add(
                database,
                name=name,
                token=token,
                scope=scope,
                companies=wanted or None,
                created_at=time.time(),
            )
        finally:
            await database.close()

    stored = _run(add())
    print(token, flush=True)
    print(
        f"qb-mcp: token {stored.name!r} ({_describe(stored)}) made; it is shown only this once. "
        "Send it as `Authorization: Bearer <token>` to serve --transport http.",
        file=sys.stderr,
    )
    return 0


async def _check_companies(database: Database, wanted: tuple[str, ...]) -> None:
    """Every realm in `wanted` must be connected (or, with none connected, be the demo company
    that is then served)."""
    from qb_mcp.emulator.seed import DEMO_REALM_ID

    rows = await connections.list_all(database)
    known = {row.realm_id for row in rows} or {DEMO_REALM_ID}
    for realm_id in wanted:
        if realm_id not in known:
            listed = ", ".join(sorted(known))
            what = "connected companies" if rows else "no company is connected; the demo company"
            raise InvalidArgumentError(
                f"--company {realm_id} is not a company this server can serve ({what}: "
                f"{listed}); connect it first with `qb-mcp auth login`; no token was made"
            )


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per token: name, scope, companies, when made. Never the token."""

    async def listed() -> list[BearerToken]:
        database = await open_store(settings)
        try:
            return await bearer_tokens.list_all(database)
        finally:
            await database.close()

    found = _run(listed())
    if not found:
        print("No bearer tokens. Make one with `qb-mcp tokens add NAME`.")
        return 0
    width = max(len(token.name) for token in found)
    for token in found:
        made = datetime.fromtimestamp(token.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"{token.name:<{width}}  {_describe(token)}  made {made}")
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Delete a token; requests carrying it are refused from then on, by every server process."""
    name = args.name

    async def revoke() -> bool:
        database = await open_store(settings)
        try:
            return await bearer_tokens.revoke(database, name)
        finally:
            await database.close()

    if not _run(revoke()):
        raise InvalidArgumentError(
            f"no token named {name[:70]!r}; `qb-mcp tokens list` shows the names"
        )
    print(f"Revoked token {name!r}.")
    return 0


def _describe(token: BearerToken) -> str:
    companies = "every company" if token.companies is None else ", ".join(token.companies)
    return f"{token.scope}, {companies}"
