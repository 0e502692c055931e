"""The backend-neutral store interface: what every repository module in this package runs on.

Two backends implement it: SQLite (`qb_mcp.store.db`, one file, the embedded default) and
PostgreSQL (`qb_mcp.store.postgres`, `QBO_DATABASE_URL`, for several replicas). Repositories
write their SQL once, in SQLite's spelling with `?` parameters; the backend translates what
differs in one place (`qb_mcp.store.dialect`), so no module knows which database it runs on.

What a transaction promises, on both backends:
- all of its statements commit together or not at all;
- it excludes every other transaction of the same `scope`, in every process sharing the store,
  from its start to its end, so a read-then-write inside one is never interleaved with another
  of the scope. The default scope, `STORE`, is the whole store, which is exactly SQLite's
  `BEGIN IMMEDIATE` (one writer per file; SQLite ignores any narrower scope: it has only that
  one). PostgreSQL takes a transaction-level advisory lock on the scope's name
  (`pg_advisory_xact_lock`), released by COMMIT or ROLLBACK, or by the server when the holder's
  connection dies, so a narrower scope (one realm's limiter, one realm's refresh) lets unrelated
  transactions of other replicas run at the same time.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

Params = Sequence[Any] | dict[str, Any]
Backend = Literal["sqlite", "postgresql"]

# The scope of a transaction that must exclude every other one (the default).
STORE = "store"


class Transaction(ABC):
    """Statements inside `Database.transaction()`."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Any: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]: ...


class Database(ABC):
    """One store. Rows come back indexable by position and by column name."""

    backend: ClassVar[Backend]
    # The SQLite file (its write sections keep their lock files beside it); None on PostgreSQL.
    path: Path | None

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in its own transaction; return the number of rows changed."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Any: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]: ...

    @abstractmethod
    def transaction(
        self, *, scope: str = STORE
    ) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """A transaction excluding every other one of `scope` (this module's docstring)."""

    @abstractmethod
    async def schema_version(self) -> int:
        """The newest migration applied."""

    async def watch_events(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever any process sharing the store stores webhook events, until
        cancelled. PostgreSQL: LISTEN/NOTIFY. SQLite has no such signal: this returns at once
        and followers poll (one indexed query a second)."""
        del wake


@functools.cache
def store_errors() -> tuple[type[Exception], ...]:
    """What using the store can raise, on either backend, when the database itself fails (a
    damaged file, a lost server): the commands turn these into one line."""
    found: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        found.append(psycopg.Error)
    return tuple(found)


@functools.cache
def integrity_errors() -> tuple[type[Exception], ...]:
    """What a statement raises, on either backend, when it breaks a UNIQUE, CHECK or NOT NULL
    rule (psycopg's only when it is installed)."""
    found: list[type[Exception]] = [sqlite3.IntegrityError]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        found.append(psycopg.IntegrityError)
    return tuple(found)
