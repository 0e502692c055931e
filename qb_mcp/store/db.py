"""Opening the database: owner-only files, WAL mode, forward-only schema migrations."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from qb_mcp.errors import ConfigError

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Long enough for another process's refresh (an HTTP round trip) to finish while we wait for the
# write lock; short enough that a wedged process is reported rather than waited on forever.
BUSY_TIMEOUT_MS = 30_000

Params = Sequence[Any] | dict[str, Any]


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped in `qb_mcp/store/migrations/`."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("qb_mcp.store.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


class Database:
    """One aiosqlite connection. Statements are serialised by a lock so that a transaction
    opened by one task never swallows another task's statements."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()
        self.path = path

    async def close(self) -> None:
        await self._connection.close()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in its own transaction; return the number of rows changed."""
        async with self._lock:
            cursor = await self._connection.execute(sql, params)
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._lock:
            cursor = await self._connection.execute(sql, params)
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            # One trip to aiosqlite's thread instead of two (execute, then fetch): reads are the
            # hot path of the webhook listener and the event feed.
            return list(await self._connection.execute_fetchall(sql, params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """`BEGIN IMMEDIATE`: takes SQLite's write lock at once, so it also serialises
        read-then-write sequences across processes sharing the file (token refresh relies on it)."""
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._connection)
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            else:
                await self._connection.execute("COMMIT")

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0


class Transaction:
    """Statements inside `Database.transaction()`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._connection.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._connection.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        cursor = await self._connection.execute(sql, params)
        return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return list(await self._connection.execute_fetchall(sql, params))


def prepare_home(home: Path) -> None:
    """Create the data folder owner-only (0700), tightening it if it already exists."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(home.stat().st_mode) != 0o700:
            home.chmod(0o700)
    except OSError as exc:
        raise ConfigError(f"QBO_HOME: cannot create {home}: {exc.strerror}") from None


def prepare_database_file(path: Path) -> None:
    """Create the database file owner-only (0600), tightening it if it already exists."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)
    except OSError as exc:
        raise ConfigError(f"QBO_HOME: cannot open database {path}: {exc.strerror}") from None


async def open_database(path: Path) -> Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date.

    The file is created 0600 before SQLite touches it; SQLite gives its -wal and -shm files the
    same mode as the database file.
    """
    prepare_home(path.parent)
    prepare_database_file(path)
    connection = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.row_factory = aiosqlite.Row
    try:
        await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("PRAGMA foreign_keys = ON")
        database = Database(connection, path)
        await migrate(database)
    except BaseException:
        await connection.close()
        raise
    return database


async def migrate(database: Database) -> None:
    """Apply, in order, every shipped migration newer than the file's `user_version`.

    Each migration and its version bump commit together, so a crash leaves the schema at a
    version that is either fully applied or not at all. A database from a newer qb-mcp is
    refused rather than guessed at.
    """
    known = migrations()
    latest = known[-1][0] if known else 0
    async with database.transaction() as tx:
        row = await tx.fetchone("PRAGMA user_version")
        current = int(row[0]) if row else 0
        if current > latest:
            raise ConfigError(
                f"QBO_HOME: database schema {current} is newer than this qb-mcp knows "
                f"({latest}); upgrade qb-mcp"
            )
        for version, _name, sql in known:
            if version <= current:
                continue
            for statement in _statements(sql):
                await tx.execute(statement)
            await tx.execute(f"PRAGMA user_version = {version}")


def _statements(sql: str) -> list[str]:
    """Split a migration file on `;` at line ends (migrations hold no triggers or literals with ;)."""
    return [part.strip() for part in re.split(r";\s*$", sql, flags=re.MULTILINE) if part.strip()]
