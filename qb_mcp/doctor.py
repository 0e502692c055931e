"""`qb-mcp doctor`: one line per check, OK or what to do about it.

Checks configuration, the token keys, the database, the writes whose outcome is still unknown
(ledger rows left pending), each connection's token health, a live `companyinfo` call per
connection, and the webhook verifier, for the environment chosen: with
QBO_ENVIRONMENT unset (or emulator) and nothing connected, `serve` uses the built-in demo company,
which needs no Intuit app, key, database or webhook token, so their absence is INFO, not FIX.

Each line is OK, INFO (nothing to do: a fact, or an optional part left out), WARN (works, but
should be fixed: e.g. the key file beside the database) or FIX (broken for the chosen
environment). Exit status: 0 when every line is OK or INFO; 1 when any line is WARN or FIX, so
a script can tell "all good" from "works for now"; 2 when a setting is malformed (before any
check runs). `--json` prints the same as {"checks": [...], "exit_code": N}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx2

from qb_mcp.auth.company import company_name, fetch_company_info
from qb_mcp.auth.crypto import KeyRing, key_file_mode_ok, key_file_path, load_keyring
from qb_mcp.auth.manager import WARN_WITHIN_SECONDS, refresh_deadline
from qb_mcp.auth.wiring import api_base_url, open_auth
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, QbMcpError, TokenStoreError
from qb_mcp.store import (
    connections,
    open_store,
    store_errors,
    store_exists,
    store_name,
)
from qb_mcp.store.connections import ConnectionRow
from qb_mcp.store.db import migrations
from qb_mcp.store.ledger import Ledger, PendingSummary

Status = Literal["OK", "INFO", "WARN", "FIX"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    status: Status
    name: str
    message: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "name": self.name, "message": self.message}


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Print every check; 0 when all are OK or INFO, 1 otherwise."""
    checks = asyncio.run(diagnose(settings, offline=bool(getattr(args, "offline", False))))
    code = exit_code(checks)
    if getattr(args, "json", False):
        print(json.dumps({"checks": [c.as_dict() for c in checks], "exit_code": code}, indent=2))
    else:
        for check in checks:
            print(check.line())
    return code


def exit_code(checks: list[Check]) -> int:
    """0 when nothing needs doing (OK and INFO only), 1 when a line says WARN or FIX."""
    return 0 if all(check.status in ("OK", "INFO") for check in checks) else 1


async def diagnose(
    settings: Settings,
    *,
    offline: bool = False,
    transport: httpx2.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Check]:
    """Run every check against `settings` (the transport reaches Intuit or the emulator)."""
    checks = [_configuration(settings)]
    keyring, key_check = _keys(settings)
    checks.append(key_check)
    rows, db_checks = await _database(settings)
    checks.extend(db_checks)
    if rows is not None:
        checks.extend(_connection_health(row, settings, keyring, clock()) for row in rows)
        if rows and not offline:
            checks.extend(await _live(settings, rows, transport, clock))
    checks.append(_webhooks(settings))
    checks.append(await _forwarding(settings, clock()))
    return checks


def _configuration(settings: Settings) -> Check:
    name = "configuration"
    if settings.environment == "emulator":
        return Check("OK", name, "environment emulator (no Intuit account needed)")
    for variable, value in (
        ("QBO_CLIENT_ID", settings.client_id),
        ("QBO_CLIENT_SECRET", settings.client_secret),
    ):
        if not value:
            where = "from your app's Keys & credentials page at developer.intuit.com"
            if settings.serves_demo and not _has_connections(settings):
                return Check(
                    "INFO",
                    name,
                    f"no Intuit app configured: `qb-mcp serve` uses the built-in demo company; "
                    f"set {variable} ({where}) to connect yours",
                )
            return Check("FIX", name, f"set {variable} ({where})")
    return Check("OK", name, f"environment {settings.environment}, data folder {settings.home}")


def _keys(settings: Settings) -> tuple[KeyRing | None, Check]:
    name = "token keys"
    path = key_file_path(settings.home)
    try:
        keyring = load_keyring(settings, create=False)
    except TokenStoreError as exc:
        if settings.token_keys or path.exists():
            return None, Check("FIX", name, str(exc))
        return None, Check(
            "INFO" if settings.serves_demo and not _has_connections(settings) else "WARN",
            name,
            f"no key yet; one would be generated at {path}. Better: set QBO_TOKEN_KEYS to a "
            "32-byte url-safe base64 key kept outside the data folder",
        )
    if path.exists() and not key_file_mode_ok(path):
        return keyring, Check("FIX", name, f"{path} is readable by others: chmod 600 {path}")
    if keyring.source == "key file":
        return keyring, Check(
            "WARN",
            name,
            f"the key is in {path}, beside the database (a copy of the folder exposes the "
            "tokens): set QBO_TOKEN_KEYS to a new key, run `qb-mcp auth rotate-key`, then "
            "delete the file",
        )
    if path.exists():
        return keyring, Check(
            "WARN",
            name,
            f"QBO_TOKEN_KEYS is set but {path} still exists: run `qb-mcp auth rotate-key`, then "
            "delete the file",
        )
    count = len(keyring.key_ids)
    return keyring, Check(
        "OK",
        name,
        f"QBO_TOKEN_KEYS ({count} key{'s' * (count > 1)}, newest {keyring.newest_key_id})",
    )


async def _database(settings: Settings) -> tuple[list[ConnectionRow] | None, list[Check]]:
    name = "database"
    path = settings.database_path
    if settings.database_url is not None:
        return await _read_database(settings, [])
    if not path.exists():
        if settings.serves_demo:
            return None, [
                Check(
                    "INFO",
                    name,
                    f"{path} does not exist yet: the first `qb-mcp serve` (demo company) or "
                    "`qb-mcp auth login` creates it",
                ),
            ]
        return None, [
            Check("FIX", name, f"{path} does not exist yet: run `qb-mcp auth login`"),
        ]
    checks: list[Check] = []
    loose = _loose_modes(settings.home, path)
    if loose:
        # Opening the database (below) tightens them; say so, since the tokens' ciphertext and
        # the key file may have been readable by others until now.
        checks.append(
            Check(
                "WARN",
                "file modes",
                f"{loose} were readable by others; now tightened to owner-only",
            )
        )
    else:
        checks.append(Check("OK", "file modes", "data folder 0700, database files 0600"))
    return await _read_database(settings, checks)


async def _read_database(
    settings: Settings, checks: list[Check]
) -> tuple[list[ConnectionRow] | None, list[Check]]:
    """Open the store (either backend), and report its schema, connections and pending writes."""
    name = "database"
    where = store_name(settings)
    try:
        database = await open_store(settings)
    except (ConfigError, *store_errors()) as exc:  # type: ignore[misc]
        # PostgreSQL's refusal already names QBO_DATABASE_URL and the server.
        said = str(exc) if settings.database_url is not None else f"cannot open {where}: {exc}"
        return None, [*checks, Check("FIX", name, said)]
    try:
        version = await database.schema_version()
        rows = await connections.list_all(database)
        pending = await Ledger(database).pending_summary()
    except store_errors() as exc:
        return None, [*checks, Check("FIX", name, f"cannot read {where}: {exc}")]
    finally:
        await database.close()
    latest = migrations()[-1][0]
    checks.insert(0, Check("OK", name, f"{where} (schema {version} of {latest})"))
    checks.append(_pending_writes(pending))
    if not rows and settings.serves_demo:
        checks.append(
            Check(
                "INFO",
                "connections",
                "no company connected: `qb-mcp serve` uses the built-in demo company; "
                "`qb-mcp auth login` connects yours",
            )
        )
    elif not rows:
        checks.append(
            Check(
                "FIX",
                "connections",
                f"no company connected in the {settings.environment} environment "
                "(QBO_ENVIRONMENT): run `qb-mcp auth login`",
            )
        )
    return rows, checks


def _pending_writes(pending: PendingSummary) -> Check:
    name = "pending writes"
    if pending.count == 0:
        return Check("OK", name, "none (every write's outcome is known)")
    assert pending.oldest is not None
    since = datetime.fromtimestamp(pending.oldest, UTC).strftime("%Y-%m-%d %H:%M UTC")
    tools = ", ".join(f"{tool} {count}" for tool, count in pending.by_tool.items())
    return Check(
        "WARN",
        name,
        f"{pending.count} write{'s' * (pending.count > 1)} of unknown outcome (a crash or a "
        f"timeout), the oldest from {since}: {tools}. Repeat the same call: it finds what was "
        "written, or writes it once, and settles the entry",
    )


def _loose_modes(home: Path, database: Path) -> str:
    problems: list[str] = []
    if stat.S_IMODE(home.stat().st_mode) & 0o077:
        problems.append(f"chmod 700 {home}")
    for candidate in sorted(home.iterdir()):
        if (
            candidate.name.startswith(database.name)
            and stat.S_IMODE(candidate.stat().st_mode) & 0o077
        ):
            problems.append(f"chmod 600 {candidate}")
    return "; ".join(problems)


def _connection_health(
    row: ConnectionRow, settings: Settings, keyring: KeyRing | None, now: float
) -> Check:
    name = f"connection {row.realm_id}"
    label = f"{row.company_name} " if row.company_name else ""
    if row.environment != settings.environment:
        return Check(
            "FIX",
            name,
            f"{label}was connected in the {row.environment} environment: set "
            f"QBO_ENVIRONMENT={row.environment} to use it",
        )
    if row.needs_reauth:
        return Check("FIX", name, f"{label}needs re-authorization: run `qb-mcp auth login`")
    if keyring is None or not keyring.has_key(row.key_id):
        return Check(
            "FIX",
            name,
            f"{label}is encrypted with key {row.key_id}, which is not configured: restore it in "
            "QBO_TOKEN_KEYS, or run `qb-mcp auth login` again",
        )
    try:
        keyring.decrypt(row.refresh_token, realm_id=row.realm_id, column="refresh_token")
    except TokenStoreError as exc:
        return Check("FIX", name, str(exc))
    left = refresh_deadline(row) - now
    if left <= 0:
        return Check("FIX", name, f"{label}expired: run `qb-mcp auth login`")
    days = left / 86_400
    if left < WARN_WITHIN_SECONDS:
        return Check(
            "WARN",
            name,
            f"{label}can be refreshed for {days:.1f} more days: run `qb-mcp auth login` soon",
        )
    return Check("OK", name, f"{label}tokens readable, refreshable for {int(days)} more days")


async def _live(
    settings: Settings,
    rows: list[ConnectionRow],
    transport: httpx2.AsyncBaseTransport | None,
    clock: Callable[[], float],
) -> list[Check]:
    usable = [r for r in rows if r.environment == settings.environment and not r.needs_reauth]
    if not usable:
        return []
    checks: list[Check] = []
    try:
        base_url = api_base_url(settings)
        async with open_auth(settings, transport=transport, create_key=False, clock=clock) as auth:
            for row in usable:
                name = f"live companyinfo {row.realm_id}"
                try:
                    info = await fetch_company_info(
                        base_url=base_url,
                        realm_id=row.realm_id,
                        tokens=auth.manager,
                        transport=transport,
                    )
                except QbMcpError as exc:
                    checks.append(Check("FIX", name, str(exc)))
                    continue
                who = company_name(info) or "the company"
                checks.append(Check("OK", name, f"answered for {who}"))
    except QbMcpError as exc:  # could not even set up: settings, key or database
        checks.append(Check("FIX", "live companyinfo", str(exc)))
    return checks


def _webhooks(settings: Settings) -> Check:
    if settings.webhook_verifier_token:
        return Check("OK", "webhooks", "verifier token configured")
    return Check(
        "INFO",
        "webhooks",
        "off (optional): set QBO_WEBHOOK_VERIFIER_TOKEN (your app's Webhooks page) to receive "
        "QuickBooks' notifications; without them recent_changes catches up by CDC",
    )


async def _forwarding(settings: Settings, now: float) -> Check:
    """QBO_EVENTS_FORWARD_URL: how many events wait for the CRM, and the last failure."""
    from qb_mcp.store import outbox
    from qb_mcp.webhooks.forward import shown_url

    name = "events forwarding"
    if not settings.events_forward_url:
        return Check("OK", name, "off (set QBO_EVENTS_FORWARD_URL to push events to your CRM)")
    where = shown_url(settings.events_forward_url)
    if not store_exists(settings):
        return Check("OK", name, f"to {where}; nothing stored yet")
    try:
        database = await open_store(settings)
        try:
            found = await outbox.status(database)
        finally:
            await database.close()
    except (ConfigError, *store_errors()) as exc:  # type: ignore[misc]
        return Check("FIX", name, f"cannot read the outbox: {exc}")
    failure = ""
    if found.last_failure is not None and found.last_failure_at is not None:
        ago = max(0, int(now - found.last_failure_at))
        failure = (
            f"; last failure {ago} s ago: {found.last_failure} (event {found.last_failed_event})"
        )
    if found.backlog == 0:
        return Check("OK", name, f"to {where}; nothing waiting{failure}")
    waiting = (
        ""
        if found.oldest_waiting_since is None
        else (f", the oldest for {max(0, int(now - found.oldest_waiting_since))} s")
    )
    return Check(
        "WARN",
        name,
        f"to {where}; {found.backlog} event(s) waiting{waiting}{failure}. They are sent by "
        "`qb-mcp webhooks` or `qb-mcp serve` with this QBO_EVENTS_FORWARD_URL, once the CRM "
        "answers 2xx",
    )


def _has_connections(settings: Settings) -> bool:
    """Whether the database holds a connection (read without creating or migrating it)."""
    path = settings.database_path
    if settings.database_url is not None:
        return True  # the database check connects and says
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM connections").fetchone()
    except sqlite3.Error:
        return True  # unreadable: the database check says why; do not hide other problems
    return bool(count)
