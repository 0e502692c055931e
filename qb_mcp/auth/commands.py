"""`qb-mcp auth login|status|revoke|rotate-key`.

Each handler returns an exit code; expected failures raise `QbMcpError`, which the CLI prints as
one line (exit 2). Output never includes a token, a secret or a ciphertext.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from qb_mcp.auth.crypto import KeyRing, key_file_path, load_keyring
from qb_mcp.auth.manager import connection_health, rotate_key
from qb_mcp.auth.oauth import LoginFlow, callback_address, run_login_flow
from qb_mcp.auth.wiring import api_base_url, intuit_oauth, open_auth
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, InvalidArgumentError, TokenStoreError
from qb_mcp.store import connections, open_store, store_errors, store_exists
from qb_mcp.store.connections import ConnectionRow

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a database failure becomes a one-line error, not a traceback."""
    try:
        return asyncio.run(coroutine)
    except store_errors() as exc:
        raise ConfigError(f"the database could not be used: {exc}") from None


# ---- login --------------------------------------------------------------------------------------


def run_login(args: argparse.Namespace, settings: Settings) -> int:
    """Connect a company: browser consent, local callback, tokens stored encrypted."""
    settings = settings.with_overrides(environment=getattr(args, "environment", None))
    if getattr(args, "hosted", False):
        return run_hosted_login(settings)
    # Check everything that can be checked before a file is created or a port is opened.
    callback_address(settings.redirect_uri)
    base_url = api_base_url(settings)
    intuit_oauth(settings)  # credentials and endpoints

    async def login() -> int:
        async with open_auth(settings) as auth:
            flow = LoginFlow(
                oauth=auth.oauth,
                manager=auth.manager,
                redirect_uri=settings.redirect_uri,
                api_base_url=base_url,
            )
            result = await run_login_flow(
                flow,
                redirect_uri=settings.redirect_uri,
                announce=_announce,
                open_browser=not args.no_browser,
            )
        name = result.company_name or "a company whose name could not be read"
        print(f"Connected {name} (realm {result.realm_id}, {result.environment}).")
        return 0

    return _run(login())


def run_hosted_login(settings: Settings) -> int:
    """`auth login --hosted`: a consent URL whose callback the hosted server answers."""
    from qb_mcp.auth.hosted import start_login

    url = _run(start_login(settings))
    print(
        "Open this URL in a browser to connect a QuickBooks company; the server answering "
        f"{settings.redirect_uri} completes the login within 10 minutes and serves the company "
        "at once (`qb-mcp auth status` shows it):",
        file=sys.stderr,
    )
    print(url, flush=True)
    return 0


def _announce(url: str) -> None:
    print("Open this URL in a browser to connect a QuickBooks company:", file=sys.stderr)
    print(url, file=sys.stderr, flush=True)


# ---- status -------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """List connections with their expiries (never a token); `--json` for scripts."""
    as_json = bool(getattr(args, "json", False))
    if not store_exists(settings):
        print(json.dumps({"connections": []}) if as_json else NOTHING_CONNECTED)
        return 0
    keyring = _keyring_or_none(settings)

    async def status() -> list[ConnectionRow]:
        database = await open_store(settings)
        try:
            return await connections.list_all(database)
        finally:
            await database.close()

    rows = _run(status())
    now = time.time()
    if as_json:
        listed = [connection_dict(row, keyring=keyring, now=now) for row in rows]
        print(json.dumps({"connections": listed}, indent=2))
        return 0
    if not rows:
        print(NOTHING_CONNECTED)
        return 0
    for number, row in enumerate(rows):
        if number:
            print()
        print(format_connection(row, keyring=keyring, now=now))
    return 0


NOTHING_CONNECTED = "No company is connected. Run `qb-mcp auth login`."


def _key_usable(row: ConnectionRow, keyring: KeyRing | None) -> bool:
    return keyring is not None and keyring.has_key(row.key_id)


def _health(row: ConnectionRow, *, keyring: KeyRing | None, now: float) -> str:
    return connection_health(row, keyring=keyring, now=now)


def connection_dict(row: ConnectionRow, *, keyring: KeyRing | None, now: float) -> dict[str, Any]:
    """One connection as JSON (`auth status --json`): no token, only facts about them."""

    def at(moment: float | None) -> str | None:
        if moment is None:
            return None
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")

    return {
        "realm_id": row.realm_id,
        "company_name": row.company_name,
        "environment": row.environment,
        "health": _health(row, keyring=keyring, now=now),
        "access_token_expires_at": at(row.access_expires_at),
        "refresh_token_expires_at": at(row.refresh_expires_at),
        "hard_expires_at": at(row.hard_expires_at),
        "last_refreshed_at": at(row.last_refreshed_at),
        "connected_at": at(row.created_at),
        "key_id": row.key_id,
        "key_configured": _key_usable(row, keyring),
    }


# What to do about each state `_health` names but OK, as the text of `auth status` says it.
HEALTH_FIXES = {
    "KEY MISSING": "its tokens cannot be read; restore the key in QBO_TOKEN_KEYS "
    "(see `qb-mcp doctor`) or run `qb-mcp auth login`",
    "NEEDS LOGIN": "run `qb-mcp auth login`",
    "EXPIRED": "run `qb-mcp auth login`",
    "EXPIRES SOON": "run `qb-mcp auth login` before the refresh token expiry below",
}


def format_connection(row: ConnectionRow, *, keyring: KeyRing | None, now: float) -> str:
    """A few lines about one connection: health, expiries, key."""
    name = row.company_name or "(name unknown)"
    health = _health(row, keyring=keyring, now=now)
    if health in HEALTH_FIXES:
        health = f"{health}: {HEALTH_FIXES[health]}"
    if keyring is None:
        key = f"{row.key_id} (no key configured)"
    elif keyring.has_key(row.key_id):
        newest = (
            " newest"
            if row.key_id == keyring.newest_key_id
            else " older: run `qb-mcp auth rotate-key`"
        )
        key = f"{row.key_id} ({keyring.source},{newest})"
    else:
        key = f"{row.key_id} (MISSING: not among the configured keys)"
    lines = [
        f"{row.realm_id}  {name}  [{row.environment}]  {health}",
        f"  access token   expires {_when(row.access_expires_at, now)}",
        f"  refresh token  expires {_when(row.refresh_expires_at, now)}",
    ]
    if row.hard_expires_at is not None:
        lines.append(f"  hard expiry            {_when(row.hard_expires_at, now)}")
    refreshed = "never" if row.last_refreshed_at is None else _when(row.last_refreshed_at, now)
    lines.append(f"  last refreshed         {refreshed}")
    lines.append(f"  connected              {_when(row.created_at, now)}")
    lines.append(f"  key                    {key}")
    return "\n".join(lines)


def _when(at: float, now: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    delta = at - now
    span = _span(abs(delta))
    return f"{stamp} ({'in ' + span if delta >= 0 else span + ' ago'})"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86_400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86_400)} days"


def _keyring_or_none(settings: Settings) -> KeyRing | None:
    try:
        return load_keyring(settings, create=False)
    except TokenStoreError:
        return None


# ---- revoke -------------------------------------------------------------------------------------


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a connection at Intuit, then delete it; `--forget` skips Intuit."""
    realm_arg: str | None = getattr(args, "realm", None)
    forget = bool(getattr(args, "forget", False))
    if realm_arg is not None and not realm_arg.isdigit():
        raise InvalidArgumentError(f"--realm must be a numeric realm id; got {realm_arg!r}")
    if not store_exists(settings):
        raise InvalidArgumentError("no company is connected; nothing to revoke")

    async def revoke() -> str:
        database = await open_store(settings)
        try:
            rows = await connections.list_all(database)
            row = _choose(rows, realm_arg or settings.realm_id)
            if not forget:
                keyring = load_keyring(settings, create=False)
                refresh_token = keyring.decrypt(
                    row.refresh_token, realm_id=row.realm_id, column="refresh_token"
                )
                env_settings = settings.with_overrides(environment=row.environment)
                async with intuit_oauth(env_settings) as oauth:
                    await oauth.revoke(refresh_token)
            async with database.transaction() as tx:
                await connections.delete(tx, row.realm_id)
            return row.company_name or f"realm {row.realm_id}"
        finally:
            await database.close()

    name = _run(revoke())
    if forget:
        print(f"Deleted the local connection to {name} (not revoked at Intuit).")
    else:
        print(f"Revoked and deleted the connection to {name}.")
    return 0


def _choose(rows: list[ConnectionRow], realm_id: str | None) -> ConnectionRow:
    if realm_id is not None:
        for row in rows:
            if row.realm_id == realm_id:
                return row
        raise InvalidArgumentError(
            f"no connection for realm {realm_id}; `qb-mcp auth status` lists them"
        )
    if not rows:
        raise InvalidArgumentError("no company is connected; nothing to revoke")
    if len(rows) > 1:
        listed = ", ".join(row.realm_id for row in rows)
        raise InvalidArgumentError(
            f"several companies are connected ({listed}); choose one with --realm"
        )
    return rows[0]


# ---- rotate-key ---------------------------------------------------------------------------------


def run_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every connection under the newest key, all or nothing."""
    keyring = load_keyring(settings, create=False)
    if not store_exists(settings):
        print("No company is connected; nothing to re-encrypt.")
        return 0

    async def rotate() -> tuple[int, int]:
        database = await open_store(settings)
        try:
            return await rotate_key(database, keyring, now=time.time())
        finally:
            await database.close()

    changed, unchanged = _run(rotate())
    print(
        f"Re-encrypted {changed} connection(s) under key {keyring.newest_key_id} "
        f"({keyring.source}); {unchanged} already used it."
    )
    key_file = key_file_path(settings.home)
    if keyring.source == "environment" and key_file.exists():
        print(
            f"Every token is now under QBO_TOKEN_KEYS: delete {key_file} once no process "
            "still runs without QBO_TOKEN_KEYS."
        )
    elif keyring.source == "key file":
        print(
            "Keys come from the key file beside the database. To rotate, put a new key first in "
            "QBO_TOKEN_KEYS and run this again."
        )
    return 0
