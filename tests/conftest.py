"""Shared fixtures. Async tests use anyio's pytest plugin on asyncio."""

from __future__ import annotations

from pathlib import Path

import pytest

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
