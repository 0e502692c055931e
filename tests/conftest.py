"""Shared fixtures. Async tests use anyio's pytest plugin on asyncio."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from qb_mcp.store import Database, open_database
from qb_mcp.store.postgres import open_postgres
from tests.pg_cluster import Cluster, Unavailable

# .ci/run's second pass on the oldest allowed dependencies asks for fewer examples per property
# (the newest-releases pass already ran the full count): that pass checks the bounds, not our code.
settings.register_profile("lowest-bounds", max_examples=15)
if os.environ.get("QB_MCP_HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["QB_MCP_HYPOTHESIS_PROFILE"])

# Real QBO payloads, copied into the repository with their sources (samples/README.md), so that a
# fresh clone tests with nothing beside it.
SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def samples_dir() -> Path:
    """`tests/samples/`: real QBO payloads and where each came from."""
    if not SAMPLES.is_dir():
        pytest.fail(f"the QBO samples are missing: expected them at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def qbo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder, set as QBO_HOME for code that reads the environment."""
    home = tmp_path / "qb-home"
    monkeypatch.setenv("QBO_HOME", str(home))
    return home


# ---- PostgreSQL ------------------------------------------------------------------------------
# One throwaway server per test session (tests/pg_cluster.py), started only when a test asks for
# it. Without the server binaries a test skips, saying why; under CI=true it fails (.ci/run
# installs them, so a missing server there is a broken run, not a reason to test less).


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    try:
        cluster = Cluster()
        try:
            cluster.start()
            cluster.make_template()
        except BaseException:
            cluster.stop()
            raise
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server for this test: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A fresh, migrated, empty PostgreSQL database for one test."""
    url = postgres_cluster.fresh_database()
    try:
        yield url
    finally:
        postgres_cluster.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The store on each backend in turn: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        database: Database = await open_database(tmp_path / "home" / "db.sqlite3")
    else:
        database = await open_postgres(request.getfixturevalue("postgres_url"), pool_size=4)
    try:
        yield database
    finally:
        await database.close()
