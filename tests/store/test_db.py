import stat
from pathlib import Path

import pytest

from qb_mcp.errors import ConfigError
from qb_mcp.store import open_database
from qb_mcp.store.db import migrations

pytestmark = pytest.mark.anyio


async def test_creates_owner_only_folder_and_file(tmp_path: Path) -> None:
    path = tmp_path / "home" / "qb-mcp.sqlite3"
    database = await open_database(path)
    try:
        await database.execute(
            "INSERT INTO audit_log (at, realm_id, tool, entity, outcome) VALUES ('t', '1', 'x', 'Customer', 'ok')"
        )
    finally:
        await database.close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for candidate in path.parent.iterdir():
        assert stat.S_IMODE(candidate.stat().st_mode) == 0o600, candidate.name


async def test_existing_loose_folder_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    database = await open_database(home / "db.sqlite3")
    await database.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


async def test_wal_mode_and_schema_at_latest_version(tmp_path: Path) -> None:
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        row = await database.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
        assert await database.schema_version() == migrations()[-1][0]
    finally:
        await database.close()


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = await open_database(path)
    await first.execute(
        "INSERT INTO audit_log (at, realm_id, tool, entity, outcome) VALUES ('t', '1', 'x', 'Customer', 'ok')"
    )
    await first.close()
    second = await open_database(path)
    try:
        rows = await second.fetchall("SELECT * FROM audit_log")
        assert len(rows) == 1
    finally:
        await second.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    database = await open_database(path)
    await database.execute("PRAGMA user_version = 999")
    await database.close()
    with pytest.raises(ConfigError, match="newer than this qb-mcp knows"):
        await open_database(path)


async def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(RuntimeError):
            async with database.transaction() as tx:
                await tx.execute(
                    "INSERT INTO audit_log (at, realm_id, tool, entity, outcome) VALUES ('t', '1', 'x', 'C', 'ok')"
                )
                raise RuntimeError("boom")
        assert await database.fetchall("SELECT * FROM audit_log") == []
    finally:
        await database.close()


async def test_unwritable_home_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="QBO_HOME"):
        await open_database(blocker / "sub" / "db.sqlite3")
