"""Issue 10 item 6: setting up QBO_HOME creates what is ours owner-only and refuses, untouched,
what is not (someone else's folder or file, a shared-writable folder, a symlinked database), and
a damaged database file is one line that names it, through the real `qb-mcp serve`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from qb_mcp.errors import ConfigError
from qb_mcp.store import open_database
from qb_mcp.store.db import prepare_database_file, prepare_home

REPO = Path(__file__).resolve().parents[2]


def serve(home: Path) -> subprocess.CompletedProcess[str]:
    """`qb-mcp serve` on stdio with stdin closed: it opens QBO_HOME, then ends with the input."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one stderr line of a refusal (exit 2), which must contain `words`."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("qb-mcp: QBO_HOME: ")
    for word in words:
        assert word in lines[0]
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_shared_writable_folder_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    refused(serve(shared), str(shared), "written by others", "1777")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert list(shared.iterdir()) == []


def test_a_group_writable_folder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o770)
    refused(serve(home), "written by others")
    assert mode(home) == 0o770


def test_a_folder_behind_a_symlink_is_used_without_changing_its_mode(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "qb"
    real.mkdir(parents=True)
    real.chmod(0o755)
    link = tmp_path / "home"
    link.symlink_to(real)
    result = serve(link)
    assert result.returncode == 0, result.stderr
    assert mode(real) == 0o755, "the folder behind the symlink must keep its mode"
    assert "can be read by others" in result.stderr
    assert mode(real / "qb-mcp.sqlite3") == 0o600


def test_a_symlinked_database_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    unrelated = tmp_path / "unrelated.txt"
    unrelated.write_text("someone else's file\n")
    unrelated.chmod(0o644)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "qb-mcp.sqlite3").symlink_to(unrelated)
    refused(serve(home), "qb-mcp.sqlite3", "symlink")
    assert mode(unrelated) == 0o644
    assert unrelated.read_text() == "someone else's file\n"


def test_a_symlinked_wal_file_is_refused(tmp_path: Path) -> None:
    unrelated = tmp_path / "unrelated.txt"
    unrelated.write_text("x")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "qb-mcp.sqlite3-wal").symlink_to(unrelated)
    refused(serve(home), "qb-mcp.sqlite3-wal", "symlink")
    assert unrelated.read_text() == "x"
    assert not (home / "qb-mcp.sqlite3").exists()


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(home, 65534, 65534)
    else:
        home = Path("/")  # root's, and never ours when we are not root
    before = home.stat()
    refused(serve(home), "belongs to another user")
    after = home.stat()
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)


def test_a_database_file_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "qb-mcp.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)  # the file now belongs to "someone else"
    with pytest.raises(ConfigError, match="belongs to another user"):
        prepare_database_file(path)
    assert mode(path) == 0o644


@pytest.mark.parametrize("damage", ["garbage", "cut short", "half a header"])
def test_a_damaged_database_is_one_line_and_left_untouched(tmp_path: Path, damage: str) -> None:
    import asyncio

    home = tmp_path / "home"
    path = home / "qb-mcp.sqlite3"

    async def fill() -> None:
        database = await open_database(path)
        for _ in range(100):
            await database.execute(
                "INSERT INTO audit_log (at, realm_id, tool, entity, outcome) "
                "VALUES ('t', '1', 'x', 'Customer', ?)",
                ("x" * 1000,),
            )
        await database.close()

    asyncio.run(fill())
    whole = path.read_bytes()
    for sidecar in home.glob("qb-mcp.sqlite3-*"):
        sidecar.unlink()
    damaged = {
        "garbage": os.urandom(len(whole)),
        "cut short": whole[: len(whole) // 3],
        "half a header": whole[:50],
    }[damage]
    path.write_bytes(damaged)
    line = refused(serve(home), str(path), "move it aside")
    assert "Traceback" not in line
    assert path.read_bytes() == damaged
    assert sorted(p.name for p in home.iterdir()) == ["qb-mcp.sqlite3"]


def test_a_new_home_is_created_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "a" / "b" / "home"
    previous = os.umask(0)
    try:
        prepare_home(home)
        prepare_database_file(home / "qb-mcp.sqlite3")
    finally:
        os.umask(previous)
    assert mode(home) == 0o700
    assert mode(home / "qb-mcp.sqlite3") == 0o600


def test_our_own_loose_database_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "qb-mcp.sqlite3"
    path.touch()
    path.chmod(0o644)
    prepare_database_file(path)
    assert mode(path) == 0o600


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    with pytest.raises(ConfigError, match="is not a folder"):
        prepare_home(home)
    assert home.read_text() == "not a folder"
