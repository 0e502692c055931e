"""The SQLite backend: owner-only files, WAL mode, forward-only schema migrations.

The embedded default: one file in QBO_HOME, shared by the processes of one machine. The
interface it implements, and what a transaction promises, are in `qb_mcp.store.base`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import aiosqlite

from qb_mcp.errors import ConfigError
from qb_mcp.store.base import STORE, Database, Params, Transaction
from qb_mcp.store.dialect import for_sqlite

__all__ = ["Database", "Params", "SqliteDatabase", "Transaction", "migrations", "open_database"]

log = logging.getLogger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Long enough for another process's refresh (an HTTP round trip) to finish while we wait for the
# write lock; short enough that a wedged process is reported rather than waited on forever.
BUSY_TIMEOUT_MS = 30_000

# SQLite's result codes for a file that is not (or no longer) a database: SQLITE_CORRUPT and
# SQLITE_NOTADB. Anything else (a lock held too long, a full disk) is not the file's fault.
DAMAGED = frozenset({11, 26})


def migrations(folder: Traversable | None = None) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped in `folder` (SQLite's,
    `qb_mcp/store/migrations/`, unless another set is named)."""
    found: list[tuple[int, str, str]] = []
    for entry in (folder or resources.files("qb_mcp.store.migrations")).iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


class SqliteDatabase(Database):
    """One aiosqlite connection. Statements are serialised by a lock so that a transaction
    opened by one task never swallows another task's statements."""

    backend = "sqlite"

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()
        self.path = path

    async def close(self) -> None:
        await self._connection.close()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in its own transaction; return the number of rows changed."""
        async with self._lock:
            cursor = await self._connection.execute(for_sqlite(sql), params)
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._lock:
            cursor = await self._connection.execute(for_sqlite(sql), params)
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            # One trip to aiosqlite's thread instead of two (execute, then fetch): reads are the
            # hot path of the webhook listener and the event feed.
            return list(await self._connection.execute_fetchall(for_sqlite(sql), params))

    @asynccontextmanager
    async def transaction(self, *, scope: str = STORE) -> AsyncIterator[Transaction]:
        """`BEGIN IMMEDIATE`: takes SQLite's write lock at once, so it also serialises
        read-then-write sequences across processes sharing the file (token refresh relies on it).
        Every `scope` is the whole file: SQLite has one writer at a time."""
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(self._connection)
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            else:
                await self._connection.execute("COMMIT")

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0


class SqliteTransaction(Transaction):
    """Statements inside `SqliteDatabase.transaction()`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._connection.execute(for_sqlite(sql), params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._connection.executemany(for_sqlite(sql), rows)

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        cursor = await self._connection.execute(for_sqlite(sql), params)
        return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return list(await self._connection.execute_fetchall(for_sqlite(sql), params))


def prepare_home(home: Path) -> None:
    """Make sure `home` is a data folder we may keep secrets in, creating it owner-only (0700).

    An existing folder must be ours: refused with a one-line `ConfigError`, and left as it is,
    are a folder owned by another user, one that others can write to (a shared 1777 folder like
    /tmp: anyone could swap our files; chmod-ing it would break everyone else), and anything but
    a folder. Our own folder is tightened to 0700 when others can read it, unless it is reached
    through a symlink: then it is somebody's deliberate layout (another disk, a shared mount),
    used as it is with a warning, since every file we put in it is 0600 anyway.
    """
    try:
        info = home.stat()  # follows a symlinked home: what matters is the folder it leads to
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ConfigError(f"QBO_HOME: cannot use {home}: {exc.strerror}") from None
    if info is None:
        try:
            home.parent.mkdir(parents=True, exist_ok=True)
            home.mkdir(mode=0o700)
        except FileExistsError:
            pass  # another process created it just now; checked below like any existing folder
        except OSError as exc:
            raise ConfigError(f"QBO_HOME: cannot create {home}: {exc.strerror}") from None
        else:
            # mkdir's mode is filtered by the umask; this folder is ours, so set it exactly.
            home.chmod(0o700)
            return
        info = home.stat()
    check_home(home, info)
    if stat.S_IMODE(info.st_mode) & 0o077 and not home.is_symlink():
        try:
            home.chmod(0o700)
        except OSError as exc:
            raise ConfigError(f"QBO_HOME: cannot make {home} owner-only: {exc.strerror}") from None


def check_home(home: Path, info: os.stat_result) -> None:
    """Refuse (`ConfigError`, one line) an existing `home` that is not safe to keep secrets in."""
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"QBO_HOME: {home} is not a folder; point QBO_HOME at a folder")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"QBO_HOME: {home} belongs to another user (uid {info.st_uid}); point QBO_HOME at "
            "a folder of your own (it was left as it is)"
        )
    if mode & 0o022:
        raise ConfigError(
            f"QBO_HOME: {home} can be written by others (mode {mode:04o}); point QBO_HOME at a "
            f"folder of your own, or run `chmod 700 {home}` (it was left as it is)"
        )
    if mode & 0o077 and home.is_symlink():
        log.warning(
            "QBO_HOME %s can be read by others (mode %04o); its files are owner-only, but "
            "`chmod 700 %s` hides even their names",
            home,
            mode,
            home,
        )


def prepare_database_file(path: Path) -> None:
    """Create the database file owner-only (0600), or check the one that is there.

    Refused, untouched: a symlink (it could lead anywhere, and SQLite would follow it), anything
    but a regular file, and a file owned by another user. Our own file with loose modes is ours
    to tighten. SQLite's -wal and -shm files are checked the same way when they exist: SQLite
    opens them by name and would follow a planted symlink. A file that is not a SQLite database
    (garbage, or cut short) is refused here too, before SQLite writes anything into it.
    """
    for candidate in (path, *_sidecars(path)):
        if candidate.is_symlink():
            raise ConfigError(
                f"QBO_HOME: {candidate} is a symlink; qb-mcp keeps its database in a real file "
                "(remove the link, or point QBO_HOME elsewhere; nothing was changed)"
            )
    try:
        # O_NOFOLLOW: a symlink planted between the check above and this open is refused too.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"QBO_HOME: {path} is a symlink; qb-mcp keeps its database in a real file"
            ) from None
        raise ConfigError(f"QBO_HOME: cannot open database {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"QBO_HOME: {path} is not a regular file; nothing was changed")
        if info.st_uid != os.geteuid():
            raise ConfigError(
                f"QBO_HOME: {path} belongs to another user (uid {info.st_uid}); nothing was changed"
            )
        problem = _not_a_database(fd, info.st_size)
        if problem is not None:
            raise ConfigError(
                f"QBO_HOME: {path} {problem}; it was left untouched: move it aside (or restore "
                "it from a backup) and run the command again to start a new database"
            )
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


SQLITE_MAGIC = b"SQLite format 3\x00"


def _not_a_database(fd: int, size: int) -> str | None:
    """Why the file behind `fd` cannot be a SQLite database, from its 100-byte header; None if
    it may be one (an empty file is a new database). Cheap: one read, whatever the size."""
    if size == 0:
        return None
    header = os.pread(fd, 100, 0)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return "is not a SQLite database (garbage, or cut short)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65_536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The in-header page count is valid only when its "valid-for" number matches the change
    # counter (SQLite's file format, section 1.3.7); older writers left it stale.
    valid = header[92:96] == header[24:28]
    if valid and pages and size < pages * page_size:
        return f"is cut short ({size} bytes of {pages * page_size})"
    return None


async def open_database(path: Path) -> SqliteDatabase:
    """Open (creating if needed) the SQLite database at `path` and bring its schema up to date.

    The file is created 0600 before SQLite touches it; SQLite gives its -wal and -shm files the
    same mode as the database file. Anything wrong with the folder or the file is a one-line
    `ConfigError` naming it (`prepare_home`, `prepare_database_file`); so is a file SQLite
    refuses on opening.
    """
    prepare_home(path.parent)
    prepare_database_file(path)
    connection = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.row_factory = aiosqlite.Row
    try:
        await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Read before anything is written (journal_mode = WAL rewrites the header): a damaged
        # file fails here and is left as it was.
        await connection.execute_fetchall("SELECT count(*) FROM sqlite_master")
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("PRAGMA foreign_keys = ON")
        database = SqliteDatabase(connection, path)
        await migrate(database)
    except sqlite3.DatabaseError as exc:
        await connection.close()
        if getattr(exc, "sqlite_errorcode", None) not in DAMAGED:
            raise
        raise ConfigError(
            f"QBO_HOME: {path} cannot be read as a qb-mcp database ({exc}); move it aside (or "
            "restore it from a backup) and run the command again to start a new database"
        ) from None
    except BaseException:
        await connection.close()
        raise
    return database


async def migrate(database: SqliteDatabase) -> None:
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
            for statement in statements(sql):
                await tx.execute(statement)
            await tx.execute(f"PRAGMA user_version = {version}")


def statements(sql: str) -> list[str]:
    """Split a migration file on `;` at line ends (migrations hold no triggers or literals with ;)."""
    return [part.strip() for part in re.split(r";\s*$", sql, flags=re.MULTILINE) if part.strip()]
