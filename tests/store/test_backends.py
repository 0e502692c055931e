"""The store's repositories on both backends (SQLite and a real PostgreSQL server), through the
same functions: what one stores the other stores, reads back and refuses alike."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import anyio
import pytest

from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, InvalidArgumentError
from qb_mcp.store import Database, audit, bearer_tokens, connections, directory, open_store
from qb_mcp.store import outbox as store_outbox
from qb_mcp.store.db import migrations
from qb_mcp.store.dialect import DialectError, for_postgres, for_sqlite
from qb_mcp.store.postgres import open_postgres

pytestmark = pytest.mark.anyio

REALM = "9341453050298"


def tokens(n: int) -> connections.StoredTokens:
    return connections.StoredTokens(
        access_token=f"access-{n}",
        refresh_token=f"refresh-{n}",
        access_expires_at=1_000.5 + n,
        access_issued_at=900.25,
        refresh_expires_at=90_000.0,
        hard_expires_at=None,
        key_id="k1",
    )


async def test_a_connection_round_trips_and_a_relogin_keeps_its_name(
    any_database: Database,
) -> None:
    db = any_database
    await connections.save_login(
        db, realm_id=REALM, environment="sandbox", tokens=tokens(1), now=10.0, company_name="Acme"
    )
    await connections.mark_needs_reauth(db, REALM, now=11.0)
    await connections.save_login(
        db, realm_id=REALM, environment="sandbox", tokens=tokens(2), now=12.0
    )
    row = await connections.get(db, REALM)
    assert row is not None
    assert (row.company_name, row.access_token, row.needs_reauth) == ("Acme", "access-2", False)
    assert (row.created_at, row.updated_at, row.access_expires_at) == (10.0, 12.0, 1_002.5)
    async with db.transaction() as tx:
        assert await connections.save_refresh(tx, REALM, tokens(3), now=13.0) == 1
    row = await connections.get(db, REALM)
    assert row is not None and row.refresh_token == "refresh-3" and row.last_refreshed_at == 13.0
    assert [r.realm_id for r in await connections.list_all(db)] == [REALM]
    assert await connections.delete(db, REALM) == 1
    assert await connections.get(db, REALM) is None


async def test_a_row_lock_clause_runs_on_both(any_database: Database) -> None:
    # PostgreSQL locks the row; SQLite drops the clause (its write lock covers the file).
    await connections.save_login(
        db := any_database, realm_id=REALM, environment="sandbox", tokens=tokens(1), now=1.0
    )
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT realm_id FROM connections WHERE realm_id = ? FOR UPDATE", (REALM,)
        )
    assert row is not None and row["realm_id"] == REALM and row[0] == REALM


async def test_a_failed_transaction_changes_nothing(any_database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with any_database.transaction() as tx:
            await audit.append(
                tx,
                at=1.0,
                realm_id=REALM,
                tool="t",
                entity="Customer",
                entity_id="1",
                request_id=None,
                intuit_tid=None,
                outcome="ok",
            )
            raise RuntimeError("boom")
    assert await audit.count(any_database) == 0


async def test_the_audit_log_keeps_order_and_the_actor(any_database: Database) -> None:
    for n in range(3):
        await audit.append(
            any_database,
            at=1_700_000_000.0 + n,
            realm_id=REALM,
            tool="record_payment",
            entity="Payment",
            entity_id=str(n),
            request_id=f"r{n}",
            intuit_tid=None,
            outcome="ok",
            by="crm-bot",
        )
    recent = await audit.recent(any_database, limit=2)
    assert [e.entity_id for e in recent] == ["2", "1"]
    assert recent[0].by == "crm-bot" and recent[0].at == "2023-11-14T22:13:22Z"


async def test_a_bearer_token_name_is_taken_once(any_database: Database) -> None:
    await bearer_tokens.add(
        any_database, name="crm", token="t1", scope="write", companies=(REALM,), created_at=5.0
    )
    with pytest.raises(InvalidArgumentError, match="exists already"):
        await bearer_tokens.add(
            any_database, name="crm", token="t2", scope="read", companies=None, created_at=6.0
        )
    found = await bearer_tokens.find(any_database, "t1")
    assert found is not None and found.companies == (REALM,) and found.scope == "write"
    assert await bearer_tokens.find(any_database, "t2") is None
    assert await bearer_tokens.revoke(any_database, "crm")
    assert await bearer_tokens.count(any_database) == 0


async def test_the_directory_replaces_and_deletes(any_database: Database) -> None:
    await directory.save(any_database, REALM, "Customer", [{"Id": "1"}, {"Id": "2", "N": "é%?"}])
    await directory.save(
        any_database, REALM, "Customer", [{"Id": "3"}], deleted=["1"], synced_at=9.5
    )
    ids = sorted(obj["Id"] for obj in await directory.load(any_database, REALM, "Customer"))
    assert ids == ["2", "3"]
    assert await directory.synced_at(any_database, REALM) == 9.5
    await directory.save(any_database, REALM, "Customer", [{"Id": "4"}], replace=True)
    assert [o["Id"] for o in await directory.load(any_database, REALM, "Customer")] == ["4"]


async def test_the_outbox_queues_each_event_once_and_in_object_order(
    any_database: Database,
) -> None:
    from datetime import UTC, datetime

    from qb_mcp.store import events
    from qb_mcp.webhooks.events import Event

    base = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    changes = [
        Event(REALM, "Customer", "1", "Create", base, "legacy"),
        Event(REALM, "Customer", "1", "Update", base.replace(second=5), "legacy"),
        Event(REALM, "Invoice", "9", "Create", base, "legacy"),
    ]
    await events.store_events(any_database, changes, now=1.0)
    assert await store_outbox.enqueue(any_database, now=2.0, body=lambda e: e.event_id) == 3
    assert await store_outbox.enqueue(any_database, now=3.0, body=lambda e: e.event_id) == 0
    claimed = await store_outbox.claim(any_database, now=4.0, lease=30.0, limit=10)
    # The second change of Customer 1 waits for the first to be delivered.
    assert sorted(d.object_key for d in claimed) == [f"{REALM}/Customer/1", f"{REALM}/Invoice/9"]
    assert await store_outbox.claim(any_database, now=5.0, lease=30.0, limit=10) == []
    status = await store_outbox.status(any_database)
    assert status.backlog == 3 and status.oldest_waiting_since == 2.0


async def test_the_shared_limiter_keeps_one_budget(any_database: Database) -> None:
    from qb_mcp.qbo.limiter import Limits
    from qb_mcp.store.limits import UNTIL_RELEASE, SharedSlots, Ticket

    limits = Limits(requests_per_window=3, window_seconds=60.0, max_in_flight=2)
    first, second = SharedSlots(any_database), SharedSlots(any_database)
    a = await first.take(REALM, limits, batch=False, now=100.0)
    b = await second.take(REALM, limits, batch=False, now=100.0)
    assert isinstance(a, Ticket) and isinstance(b, Ticket)
    assert await first.take(REALM, limits, batch=False, now=100.0) == UNTIL_RELEASE
    await second.give_back(b, limits, now=101.0)
    c = await first.take(REALM, limits, batch=False, now=101.0)
    assert isinstance(c, Ticket)
    wait = await second.take(REALM, limits, batch=False, now=102.0)
    assert wait == UNTIL_RELEASE  # 2 in flight again
    await first.give_back(a, limits, now=102.0)
    await first.give_back(c, limits, now=103.0)
    # 3 in the window: room again one window after the first one finished (b, at 101).
    assert await second.take(REALM, limits, batch=False, now=104.0) == pytest.approx(57.0)


async def test_concurrent_transactions_of_one_scope_never_interleave(
    any_database: Database,
) -> None:
    """Read-then-write inside a transaction is safe: no lost update among 20 tasks."""
    await directory.save(any_database, REALM, "Item", [], synced_at=0.0)

    async def bump() -> None:
        async with any_database.transaction() as tx:
            row = await tx.fetchone(
                "SELECT synced_at FROM directory_sync WHERE realm_id = ?", (REALM,)
            )
            await anyio.sleep(0.001)
            await tx.execute(
                "UPDATE directory_sync SET synced_at = ? WHERE realm_id = ?", (row[0] + 1, REALM)
            )

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(bump)
    assert await directory.synced_at(any_database, REALM) == 20.0


def test_both_migration_sets_have_the_same_versions() -> None:
    sqlite_set = [v for v, _, _ in migrations()]
    pg_set = [
        v
        for v, _, _ in migrations(resources.files("qb_mcp.store.migrations").joinpath("postgresql"))
    ]
    assert sqlite_set == pg_set and sqlite_set


async def test_both_schemas_have_the_same_tables_and_columns(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite_db = await open_store(Settings(home=tmp_path / "home"))
    pg_db = await open_postgres(postgres_url, pool_size=1)
    try:
        assert await sqlite_db.schema_version() == await pg_db.schema_version()
        tables = await sqlite_db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        sqlite_columns = {}
        for (name,) in [tuple(t) for t in tables]:
            info = await sqlite_db.fetchall(f"PRAGMA table_info({name})")
            sqlite_columns[name] = sorted(str(col["name"]) for col in info)
        rows = await pg_db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'qb_mcp_schema'"
        )
        pg_columns: dict[str, list[str]] = {}
        for row in rows:
            pg_columns.setdefault(str(row[0]), []).append(str(row[1]))
        assert {k: sorted(v) for k, v in pg_columns.items()} == sqlite_columns
    finally:
        await sqlite_db.close()
        await pg_db.close()


async def test_replicas_starting_together_migrate_once(postgres_cluster: object) -> None:
    from tests.pg_cluster import Cluster

    assert isinstance(postgres_cluster, Cluster)
    postgres_cluster.admin("CREATE DATABASE starting_together")
    url = postgres_cluster.url("starting_together")
    try:
        opened: list[Database] = []

        async def start() -> None:
            opened.append(await open_postgres(url, pool_size=1))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(start)
        versions = await opened[0].fetchall("SELECT version FROM qb_mcp_schema ORDER BY version")
        assert [int(v[0]) for v in versions] == [v for v, _, _ in migrations()]
        for db in opened:
            await db.close()
    finally:
        postgres_cluster.drop(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "must be a PostgreSQL URL"),
        ("postgresql://u:secret@h:notaport/db", "bad port"),
        ("postgresql://u:secret@h:5432", "names no database"),
    ],
)
def test_a_malformed_url_is_one_line_naming_the_variable(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({"QBO_DATABASE_URL": url})
    text = str(caught.value)
    assert "QBO_DATABASE_URL" in text and "\n" not in text and "secret" not in text


async def test_an_unreachable_server_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    from tests.ports import free_port

    url = f"postgresql://qb:hunter2@127.0.0.1:{free_port()}/qb"
    settings = Settings(home=tmp_path / "home", database_url=url)
    with pytest.raises(ConfigError, match="QBO_DATABASE_URL: cannot connect") as caught:
        await open_store(settings)
    assert "\n" not in str(caught.value) and "hunter2" not in str(caught.value)
    assert not (tmp_path / "home").exists()


async def test_a_missing_database_is_named(postgres_cluster: object) -> None:
    from tests.pg_cluster import Cluster

    assert isinstance(postgres_cluster, Cluster)
    with pytest.raises(ConfigError, match="no_such_db"):
        await open_postgres(postgres_cluster.url("no_such_db"))


def test_the_dialect_translates_parameters_and_refuses_sqlite_only_forms() -> None:
    sql = "SELECT a FROM t WHERE b = ? AND c LIKE '50%?' -- why?\nAND d = ? FOR UPDATE"
    assert for_postgres(sql) == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '50%%?' -- why?\nAND d = %s FOR UPDATE"
    )
    assert for_sqlite(sql).endswith("AND d = ?")
    assert for_sqlite("SELECT 1 FROM t FOR UPDATE SKIP LOCKED") == "SELECT 1 FROM t"
    for bad in ("INSERT OR IGNORE INTO t VALUES (?)", "PRAGMA user_version", "SELECT rowid FROM t"):
        with pytest.raises(DialectError, match="SQLite-only"):
            for_postgres(bad)


def test_sqlite_integrity_errors_are_still_sqlites() -> None:
    from qb_mcp.store.base import integrity_errors

    assert sqlite3.IntegrityError in integrity_errors()


def test_postgresql_without_shared_token_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="QBO_DATABASE_URL needs QBO_TOKEN_KEYS"):
        Settings.from_env({"QBO_DATABASE_URL": "postgresql://qb@db.example.com/qb"})


def test_a_command_on_an_unreachable_server_exits_2_with_one_line(tmp_path: Path) -> None:
    import base64
    import os
    import subprocess
    import sys

    from tests.ports import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(tmp_path / "home")
    env["QBO_DATABASE_URL"] = f"postgresql://qb:hunter2@127.0.0.1:{free_port()}/qb"
    env["QBO_TOKEN_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "tokens", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "QBO_DATABASE_URL: cannot connect" in lines[0]
    assert "hunter2" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "home").exists()


async def test_doctor_reports_the_postgresql_database(tmp_path: Path, postgres_url: str) -> None:
    import os

    from qb_mcp.doctor import diagnose

    settings = Settings(
        home=tmp_path / "home",
        environment="emulator",
        database_url=postgres_url.replace("postgres@", "postgres:pw@"),
        token_keys=(os.urandom(32),),
    )
    checks = {check.name: check for check in await diagnose(settings, offline=True)}
    latest = migrations()[-1][0]
    assert checks["database"].status == "OK"
    assert f"(schema {latest} of {latest})" in checks["database"].message
    assert "postgres:***@127.0.0.1" in checks["database"].message
    assert not (tmp_path / "home" / "qb-mcp.sqlite3").exists()


def test_a_slot_owner_is_named_by_host_and_pid_namespace() -> None:
    import os
    import socket

    from qb_mcp.store.limits import host_id

    name = host_id()
    assert name.startswith(socket.gethostname())
    if os.path.exists("/proc/self/ns/pid"):
        # Two containers sharing a host name still differ here, so neither reads the other's
        # live pids as dead ones.
        assert name.endswith(f"#pid:{os.stat('/proc/self/ns/pid').st_ino}")
