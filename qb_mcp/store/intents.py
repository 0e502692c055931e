"""Write sections: a write's "has this already happened?" and the write itself, one at a time.

A write tool first checks whether its write was already made (a payment's marker, an estimate's
linked invoice, a matching customer, the ledger's recorded answer) and only then writes. Two
identical calls running at once would both see "not yet" and both write, so the check and the
write run as ONE critical section per *intent*: the realm plus a key the bookkeeping operation
computes from the caller's arguments, before it reads anything from QuickBooks (what it reads
may be changed by the first call's write; the arguments are not). Sections exclude each other
across asyncio tasks, MCP sessions and processes that share one database (one QBO_HOME).

How, and why this way. Two levels:
- in the process, an `asyncio.Lock` per stripe (below), so tasks queue without touching the
  file system and only one task per process waits for the cross-process lock;
- across processes, `fcntl.flock(LOCK_EX)` on a lock file in a folder beside the database
  (`<database>.intents/`, owner-only). The kernel releases a flock when its holder dies (crash,
  SIGKILL, OOM), so a dead process never holds a section, and no clock decides it: a lease row
  with an expiry would hand the section to a second writer whenever a live holder outlasts its
  lease (a slow QuickBooks, a paused laptop), which is exactly the double write this prevents,
  and every acquire, renewal and release would be a write transaction on the SQLite file that
  webhook ingest and token refresh also need. SQLite's own `BEGIN IMMEDIATE` held across the
  network write is ruled out for the same reason: it would serialise every writer of the file.
  The price: flock is POSIX (no Windows) and needs the folder on a local file system, which
  QBO_HOME is. Replicas sharing PostgreSQL use `AdvisorySections` instead: a session advisory
  lock (`pg_try_advisory_lock`) on a connection held for the section, which the server frees
  when that connection dies (a replica killed, a network cut), for the same reason; the layers
  above do not change (`sections_for` picks by backend).
- Keys are hashed onto STRIPES lock files (created on first use), so the folder stays small
  whatever the number of writes. Two unrelated intents on one stripe only wait for each other;
  a task holds one section at a time (entering a second one inside the first is refused), so
  stripes cannot deadlock.

Inside a section the ledger rows the client writes are tagged with the intent (a context
variable, `qb_mcp.store.ledger.INTENT_TAG`), which lets the section settle rows an
earlier, crashed call left pending once the outcome is known (`Section.found`,
`Section.written`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio

from qb_mcp.errors import ConfigError, QbMcpError
from qb_mcp.store.db import Database
from qb_mcp.store.ledger import INTENT_TAG, Ledger
from qb_mcp.store.postgres import PostgresDatabase, lock_key

STRIPES = 1024
# A waiting call gives up after this long with a clear error rather than hang: the holder is a
# live process (a dead one has released its flock) doing something very slow.
WAIT_LIMIT = 600.0
_POLL_FIRST = 0.005
_POLL_MAX = 0.1


class SectionBusyError(QbMcpError):
    """The same write is still being made by another call (in this or another process)."""


@dataclass(frozen=True, slots=True)
class Intent:
    """One logical write: which tool, for which realm, the key of its arguments, and the lock
    it takes (its own key, or a group several intents share)."""

    realm_id: str
    tool: str
    key: str
    lock: str

    @classmethod
    def of(
        cls, realm_id: str, tool: str, basis: Mapping[str, Any], *, group: str | None = None
    ) -> Intent:
        """The intent of `tool` called with `basis` (the caller's arguments, normalised).

        `group`: intents that may find or make the same object although their arguments differ
        share one lock (their ledger rows stay apart by key).
        """
        text = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(f"{realm_id}\n{tool}\n{text}".encode()).hexdigest()
        key = f"{tool}:{digest[:32]}"
        return cls(realm_id=realm_id, tool=tool, key=key, lock=f"group:{group}" if group else key)

    @property
    def stripe(self) -> int:
        digest = hashlib.sha256(f"{self.realm_id}\n{self.lock}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % STRIPES


class Section:
    """Held for one intent. Settles ledger rows an earlier call of the intent left pending.

    Rows still pending when the section is entered belong to calls that have ended (nobody else
    can be inside the section): a crash, or a timeout whose outcome was never learnt.
    """

    def __init__(self, intent: Intent, ledger: Ledger | None) -> None:
        self.intent = intent
        self._ledger = ledger
        self._orphans: list[tuple[str, str]] = []  # (request_id, entity)

    async def _enter(self) -> None:
        if self._ledger is not None:
            rows = await self._ledger.pending_for_intent(self.intent.realm_id, self.intent.key)
            self._orphans = [(row.request_id, row.entity) for row in rows]

    def _of(self, entity: str) -> list[str]:
        return [request_id for request_id, of in self._orphans if of == entity]

    async def found(self, entity: str, answer: str | None) -> int:
        """The re-check found the object: earlier pending writes of `entity` for this intent are
        done. `answer`: the JSON text QuickBooks would have answered them (`{"Payment": {...}}`),
        kept for replay; None for a batch, whose answer cannot be rebuilt."""
        orphans = self._of(entity)
        if self._ledger is None or not orphans:
            return 0
        return await self._ledger.settle_found(self.intent.realm_id, orphans, answer=answer)

    async def written(self, entity: str) -> int:
        """This call wrote `entity` after the re-check found nothing: the earlier pending writes
        of it for this intent wrote nothing (the re-check would have found their object)."""
        orphans = self._of(entity)
        if self._ledger is None or not orphans:
            return 0
        return await self._ledger.settle_unwritten(self.intent.realm_id, orphans)


class IntentSections(Protocol):
    """Mutual exclusion per intent (this module's docstring)."""

    def hold(self, intent: Intent) -> contextlib.AbstractAsyncContextManager[Section]:
        """Enter the intent's section (waiting for whoever is in it)."""
        ...


class LocalSections:
    """Sections within one process (asyncio locks): for a client run without a database."""

    def __init__(self, *, wait_limit: float = WAIT_LIMIT) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._wait_limit = wait_limit

    @contextlib.asynccontextmanager
    async def hold(self, intent: Intent) -> AsyncIterator[Section]:
        async with self._local(intent), self._enter(intent, None) as section:
            yield section

    @contextlib.asynccontextmanager
    async def _local(self, intent: Intent) -> AsyncIterator[None]:
        held = INTENT_TAG.get()
        if held is not None:
            # Two sections held at once could wait on each other (or on one stripe twice).
            raise RuntimeError(f"{intent.tool}: already inside the write section of {held[0]}")
        lock = self._locks.setdefault(intent.stripe, asyncio.Lock())
        try:
            async with asyncio.timeout(self._wait_limit):
                await lock.acquire()
        except TimeoutError:
            raise _busy(intent, self._wait_limit) from None
        try:
            yield
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def _enter(self, intent: Intent, ledger: Ledger | None) -> AsyncIterator[Section]:
        section = Section(intent, ledger)
        await section._enter()
        token = INTENT_TAG.set((intent.tool, intent.key))
        try:
            yield section
        finally:
            INTENT_TAG.reset(token)


class FileSections(LocalSections):
    """Sections across the processes sharing one database: asyncio locks, then flock."""

    def __init__(
        self,
        database: Database,
        *,
        wait_limit: float = WAIT_LIMIT,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(wait_limit=wait_limit)
        if database.path is None:
            raise TypeError("FileSections needs a SQLite database; PostgreSQL: AdvisorySections")
        self.folder = lock_folder(database.path)
        self._ledger = Ledger(database)
        self._sleep = sleep
        self._clock = clock

    @contextlib.asynccontextmanager
    async def hold(self, intent: Intent) -> AsyncIterator[Section]:
        started = self._clock()
        async with self._local(intent):
            fd = await self._flock(intent, started)
            try:
                async with self._enter(intent, self._ledger) as section:
                    yield section
            finally:
                # Closing the descriptor releases the flock (and so does the kernel if we die).
                os.close(fd)

    async def _flock(self, intent: Intent, started: float) -> int:
        fd = _open_lock_file(self.folder, intent.stripe)
        delay = _POLL_FIRST
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    pass
                except OSError as exc:  # pragma: no cover - EWOULDBLOCK is BlockingIOError
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if self._clock() - started > self._wait_limit:
                    raise _busy(intent, self._wait_limit)
                # Polling, not a blocking flock in a thread: waiters would fill the default
                # executor (a few threads on a small machine) and starve everyone else.
                await self._sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        except BaseException:
            os.close(fd)
            raise


class AdvisorySections(LocalSections):
    """Sections across the replicas sharing one PostgreSQL database: asyncio locks, then a
    session advisory lock per intent, held on a connection of its own for the section.

    The key is the intent's own lock name hashed to 64 bits (no stripes: the server keeps
    locks in memory, and only the ones held). Polled with `pg_try_advisory_lock`, like the
    flock, so waiting is bounded by `wait_limit` and cancellable, and a waiter holds no
    connection between tries.
    """

    def __init__(
        self,
        database: PostgresDatabase,
        *,
        wait_limit: float = WAIT_LIMIT,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(wait_limit=wait_limit)
        self._database = database
        self._ledger = Ledger(database)
        self._sleep = sleep
        self._clock = clock

    @contextlib.asynccontextmanager
    async def hold(self, intent: Intent) -> AsyncIterator[Section]:
        started = self._clock()
        key = lock_key(f"intent\n{intent.realm_id}\n{intent.lock}")
        async with self._local(intent):
            delay = _POLL_FIRST
            while True:
                async with self._database.session() as connection:
                    cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                    row = await cursor.fetchone()
                    if row is not None and row[0]:
                        try:
                            async with self._enter(intent, self._ledger) as section:
                                yield section
                        finally:
                            # Shielded: a cancelled caller (an MCP client hanging up) must not
                            # hand the connection back to the pool still holding the lock.
                            with anyio.CancelScope(shield=True):
                                await _unlock(connection, key)
                        return
                if self._clock() - started > self._wait_limit:
                    raise _busy(intent, self._wait_limit)
                await self._sleep(delay)
                delay = min(delay * 2, _POLL_MAX)


async def _unlock(connection: Any, key: int) -> None:
    """Release the session lock; a connection where that fails is closed, which releases it
    too, rather than handed back to the pool still holding the lock."""
    try:
        await connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
    except BaseException:
        await connection.close()
        raise


def lock_folder(database_path: Path) -> Path:
    """Where the lock files of the database at `database_path` live."""
    return database_path.with_name(database_path.name + ".intents")


def _open_lock_file(folder: Path, stripe: int) -> int:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise ConfigError(
                f"QBO_HOME: {folder} is not a folder of ours; remove it (qb-mcp recreates it)"
            )
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        return os.open(folder / f"{stripe:04d}.lock", flags, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"QBO_HOME: cannot open a lock file in {folder}: {exc.strerror}"
        ) from None


def _busy(intent: Intent, waited: float) -> SectionBusyError:
    return SectionBusyError(
        f"another {intent.tool} call with the same arguments has been running for over "
        f"{waited:g} s (in this or another qb-mcp process) and this one waited for it so as not "
        "to write twice; nothing was written by this call. Try again once it has finished"
    )


_by_database: weakref.WeakKeyDictionary[Database, IntentSections] = weakref.WeakKeyDictionary()
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalSections] = (
    weakref.WeakKeyDictionary()
)


def sections_for(database: Database | None) -> IntentSections:
    """The sections of `database` (shared by everyone in the process using it), or, without a
    database, this event loop's in-process sections."""
    if database is not None:
        found = _by_database.get(database)
        if found is None:
            if isinstance(database, PostgresDatabase):
                found = AdvisorySections(database)
            else:
                found = FileSections(database)
            _by_database[database] = found
        return found
    loop = asyncio.get_running_loop()
    local = _by_loop.get(loop)
    if local is None:
        local = _by_loop[loop] = LocalSections()
    return local
