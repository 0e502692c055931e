"""The token manager: the client's `TokenSource`, with single-flight refresh across processes.

How one refresh per realm at a time is enforced (DESIGN invariant 5):

1. Inside a process, an `asyncio.Lock` per realm: coroutines queue instead of each taking the
   database's write lock in turn.
2. Across processes, the refresh runs inside `Database.transaction()` (`BEGIN IMMEDIATE`, SQLite's
   write lock; on PostgreSQL a transaction of the realm's own scope holding the row with
   `SELECT ... FOR UPDATE`, so replicas refreshing other realms, and every other writer, go on):
   re-read the row (another process may have refreshed while we waited), call Intuit, write the
   new tokens, COMMIT, and only then hand out the new access token.

Why hold the write lock across the HTTP call rather than a lease row with an expiry:
- A process killed mid-refresh releases SQLite's lock the instant it dies (the OS drops its file
  locks and the journal rolls the transaction back), so the others carry on at once. A lease would
  wedge every process for the lease's lifetime, and would need its own expiry, owner checks and
  clean-up, all of which can be wrong.
- The cost: while one refresh is in flight (one HTTP round trip, once an hour per realm) other
  writers wait; readers do not (WAL). The token call's timeout (`intuit.TOKEN_TIMEOUT_SECONDS`,
  10 s) is a third of the busy timeout (30 s), so a hung Intuit makes our refresh fail, never the
  waiting writers.
- On PostgreSQL the row lock is freed the same way: the server rolls back the transaction of a
  connection that dies. Any other write to the row (a re-login, `needs_reauth`) waits for it.
What no design can save: a process killed after Intuit rotated the refresh token but before our
COMMIT loses it (Intuit already refuses the old one). The window is the time from Intuit's answer to
the commit, kept small by doing nothing else in between, and the refresh runs shielded from task
cancellation so that a cancelled caller never abandons a refresh halfway.

When to refresh: when less than `refresh_margin` (5 minutes) remains, or a quarter of the token's
lifetime when that is smaller: Intuit's tokens live an hour, but a 2-second emulator token would
otherwise be refreshed before every call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from qb_mcp.auth.crypto import KeyRing
from qb_mcp.auth.intuit import IntuitOAuth, TokenGrant
from qb_mcp.errors import ConfigError, InvalidGrantError, ReauthorizationRequiredError
from qb_mcp.store import connections
from qb_mcp.store.connections import ConnectionRow, Executor, StoredTokens
from qb_mcp.store.db import Database

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 300.0
WARN_WITHIN_SECONDS = 14 * 86_400.0


def login_hint(realm_id: str) -> str:
    return f"run `qb-mcp auth login` to reconnect realm {realm_id}"


@dataclass(frozen=True, slots=True)
class Tokens:
    """The decrypted tokens of one row (never logged: no repr of the values)."""

    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return "Tokens(<redacted>)"


class TokenManager:
    """Hands out valid access tokens per realm, refreshing them one at a time (see module doc)."""

    def __init__(
        self,
        *,
        database: Database,
        keyring: KeyRing,
        oauth: IntuitOAuth,
        environment: str,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        warn_within: float = WARN_WITHIN_SECONDS,
    ) -> None:
        self._database = database
        self._keyring = keyring
        self._oauth = oauth
        self.environment = environment
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._warn_within = warn_within
        self._locks: dict[str, asyncio.Lock] = {}
        self._warned: set[tuple[str, int]] = set()

    # ---- TokenSource --------------------------------------------------------------------------

    async def access_token(self, realm_id: str) -> str:
        """A valid access token for `realm_id`, refreshed first when it is near expiry."""
        row = self._usable(realm_id, await connections.get(self._database, realm_id))
        self._warn_if_expiring(row)
        if not self._due(row):
            return self._keyring.decrypt(row.access_token, realm_id=realm_id, column="access_token")
        return await self._single_flight(realm_id, rejected=None)

    async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
        """QuickBooks refused `rejected_token`: refresh, unless the store already holds another."""
        return await self._single_flight(realm_id, rejected=rejected_token)

    # ---- used by the login flow and the commands ----------------------------------------------

    async def save_login(
        self,
        realm_id: str,
        grant: TokenGrant,
        *,
        received_at: float,
        company_name: str | None = None,
    ) -> None:
        """Store the tokens of a new authorization (replacing any older connection to the realm)."""
        async with self._lock(realm_id), self._database.transaction() as tx:
            await connections.save_login(
                tx,
                realm_id=realm_id,
                environment=self.environment,
                tokens=self._seal(realm_id, grant, received_at),
                now=self._clock(),
                company_name=company_name,
            )

    async def set_company_name(self, realm_id: str, name: str) -> None:
        """Record the company's name for `realm_id` (shown by `auth status` and in messages)."""
        await connections.set_company_name(self._database, realm_id, name, now=self._clock())

    @property
    def database(self) -> Database:
        return self._database

    def decrypt(self, row: ConnectionRow) -> Tokens:
        """Both tokens of `row` (raises `TokenStoreError` when they cannot be read)."""
        return Tokens(
            access_token=self._keyring.decrypt(
                row.access_token, realm_id=row.realm_id, column="access_token"
            ),
            refresh_token=self._keyring.decrypt(
                row.refresh_token, realm_id=row.realm_id, column="refresh_token"
            ),
        )

    # ---- the refresh --------------------------------------------------------------------------

    def _lock(self, realm_id: str) -> asyncio.Lock:
        lock = self._locks.get(realm_id)
        if lock is None:
            lock = self._locks[realm_id] = asyncio.Lock()
        return lock

    async def _single_flight(self, realm_id: str, *, rejected: str | None) -> str:
        # Shielded: once started, a refresh runs to its COMMIT even if the caller is cancelled,
        # because abandoning it after Intuit rotated the refresh token would lose the connection.
        task = asyncio.ensure_future(self._locked_refresh(realm_id, rejected))
        # If the caller was cancelled nobody awaits the task: retrieve its outcome so asyncio does
        # not report "exception was never retrieved".
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _locked_refresh(self, realm_id: str, rejected: str | None) -> str:
        async with self._lock(realm_id):
            # Tasks that queued behind a refresh usually find it done: a plain read tells them
            # without each taking the write lock that other processes' writers are waiting for.
            current = self._current(
                self._usable(realm_id, await connections.get(self._database, realm_id)), rejected
            )
            if current is not None:
                return current
            result: str | ReauthorizationRequiredError
            async with self._database.transaction(scope=f"refresh:{realm_id}") as tx:
                # Re-read under the lock: another process may have refreshed meanwhile.
                row = self._usable(realm_id, await connections.get(tx, realm_id, lock=True))
                current = self._current(row, rejected)
                if current is not None:
                    return current
                result = await self._refresh_row(tx, row)
            if isinstance(result, ReauthorizationRequiredError):
                raise result  # only after COMMIT, so the needs_reauth flag is kept
            return result

    def _current(self, row: ConnectionRow, rejected: str | None) -> str | None:
        """The row's access token if it can still be handed out, else None (refresh it)."""
        if self._due(row):
            return None
        access = self._keyring.decrypt(
            row.access_token, realm_id=row.realm_id, column="access_token"
        )
        return None if access == rejected else access

    async def _refresh_row(
        self, tx: Executor, row: ConnectionRow
    ) -> str | ReauthorizationRequiredError:
        """Refresh `row` inside the caller's transaction; the new access token, or the
        reauthorization error to raise once the `needs_reauth` flag is committed."""
        realm_id = row.realm_id
        tried: set[str] = set()
        while True:
            refresh_token = self._keyring.decrypt(
                row.refresh_token, realm_id=realm_id, column="refresh_token"
            )
            tried.add(refresh_token)
            sent_at = self._clock()
            try:
                grant = await self._oauth.refresh(refresh_token)
            except InvalidGrantError:
                # Before declaring the connection dead, re-read: if the store holds a refresh
                # token we have not tried, use it. Under SQLite's write lock no one can have
                # written since our read, so this finds nothing there; it is kept (one read, on a
                # path taken once per dead connection) for stores whose lock a writer could
                # bypass, where marking a live connection dead would cost the user a login.
                latest = await connections.get(tx, realm_id)
                if latest is not None:
                    newer = self._keyring.decrypt(
                        latest.refresh_token, realm_id=realm_id, column="refresh_token"
                    )
                    if newer not in tried:
                        row = latest
                        continue
                now = self._clock()
                await connections.mark_needs_reauth(tx, realm_id, now=now)
                log.warning(
                    "QuickBooks refused the refresh token of realm %s (invalid_grant); "
                    "the connection needs `qb-mcp auth login`",
                    realm_id,
                )
                return ReauthorizationRequiredError(
                    f"QuickBooks no longer accepts the saved connection ({_company(row)}); "
                    f"{login_hint(realm_id)}"
                )
            await connections.save_refresh(
                tx, realm_id, self._seal(realm_id, grant, sent_at), now=self._clock()
            )
            log.info("refreshed the access token of realm %s", realm_id)
            return grant.access_token

    # ---- helpers ------------------------------------------------------------------------------

    def _seal(self, realm_id: str, grant: TokenGrant, received_at: float) -> StoredTokens:
        # Lifetimes count from before the request went out, so an expiry is never overestimated.
        return StoredTokens(
            access_token=self._keyring.encrypt(
                grant.access_token, realm_id=realm_id, column="access_token"
            ),
            refresh_token=self._keyring.encrypt(
                grant.refresh_token, realm_id=realm_id, column="refresh_token"
            ),
            access_expires_at=received_at + grant.expires_in,
            access_issued_at=received_at,
            refresh_expires_at=received_at + grant.refresh_expires_in,
            hard_expires_at=(
                None if grant.hard_expires_in is None else received_at + grant.hard_expires_in
            ),
            key_id=self._keyring.newest_key_id,
        )

    def _usable(self, realm_id: str, row: ConnectionRow | None) -> ConnectionRow:
        if row is None:
            raise ReauthorizationRequiredError(
                f"no QuickBooks company with realm {realm_id} is connected; run `qb-mcp auth login`"
            )
        if row.environment != self.environment:
            # Refreshing with another environment's app credentials would fail with invalid_grant
            # and wrongly mark a healthy connection as dead.
            raise ConfigError(
                f"{_company(row)} was connected in the {row.environment} environment; "
                f"set QBO_ENVIRONMENT={row.environment} to use it"
            )
        if row.needs_reauth:
            raise ReauthorizationRequiredError(
                f"the connection to {_company(row)} needs re-authorization; {login_hint(realm_id)}"
            )
        return row

    def _due(self, row: ConnectionRow) -> bool:
        lifetime = max(0.0, row.access_expires_at - row.access_issued_at)
        margin = min(self._refresh_margin, lifetime / 4)
        return self._clock() >= row.access_expires_at - margin

    def _warn_if_expiring(self, row: ConnectionRow) -> None:
        expires_at = refresh_deadline(row)
        left = expires_at - self._clock()
        if left >= self._warn_within:
            return
        # Once per realm and expiry date per process: a warning on every call would drown the log.
        key = (row.realm_id, int(expires_at // 86_400))
        if key in self._warned:
            return
        self._warned.add(key)
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        log.warning(
            "the QuickBooks connection to %s can no longer be refreshed after %s (%.1f days); "
            "%s before then",
            _company(row),
            when,
            max(0.0, left) / 86_400,
            login_hint(row.realm_id),
        )


def _retrieve(task: asyncio.Future[str]) -> None:
    if not task.cancelled():
        task.exception()


def refresh_deadline(row: ConnectionRow) -> float:
    """When the connection dies unless refreshed or re-authorized: the earlier expiry."""
    if row.hard_expires_at is None:
        return row.refresh_expires_at
    return min(row.refresh_expires_at, row.hard_expires_at)


Health = Literal["OK", "EXPIRES SOON", "EXPIRED", "NEEDS LOGIN", "KEY MISSING"]


def connection_health(row: ConnectionRow, *, keyring: KeyRing | None, now: float) -> Health:
    """One word for a connection's state, as `auth status` and `list_companies` show it: OK
    only when the server could use it, else KEY MISSING, NEEDS LOGIN, EXPIRED, EXPIRES SOON."""
    if keyring is None or not keyring.has_key(row.key_id):
        return "KEY MISSING"
    if row.needs_reauth:
        return "NEEDS LOGIN"
    if refresh_deadline(row) <= now:
        return "EXPIRED"
    if refresh_deadline(row) - now < WARN_WITHIN_SECONDS:
        return "EXPIRES SOON"
    return "OK"


def _company(row: ConnectionRow) -> str:
    if row.company_name:
        return f"{row.company_name} (realm {row.realm_id})"
    return f"realm {row.realm_id}"


async def rotate_key(database: Database, keyring: KeyRing, *, now: float) -> tuple[int, int]:
    """Re-encrypt every row under the newest key, all or nothing.

    Returns (rows re-encrypted, rows already under the newest key). Any row that cannot be
    decrypted raises `TokenStoreError` and nothing is changed.
    """
    changed = unchanged = 0
    async with database.transaction() as tx:
        for row in await connections.list_all(tx):
            if row.key_id == keyring.newest_key_id:
                unchanged += 1
                # Still decrypt: a row that claims the newest key but cannot be read is reported.
                keyring.decrypt(row.access_token, realm_id=row.realm_id, column="access_token")
                keyring.decrypt(row.refresh_token, realm_id=row.realm_id, column="refresh_token")
                continue
            access = keyring.decrypt(row.access_token, realm_id=row.realm_id, column="access_token")
            refresh = keyring.decrypt(
                row.refresh_token, realm_id=row.realm_id, column="refresh_token"
            )
            await connections.reencrypt(
                tx,
                row.realm_id,
                access_token=keyring.encrypt(access, realm_id=row.realm_id, column="access_token"),
                refresh_token=keyring.encrypt(
                    refresh, realm_id=row.realm_id, column="refresh_token"
                ),
                key_id=keyring.newest_key_id,
                now=now,
            )
            changed += 1
    return changed, unchanged
