"""Shared fixtures. Async tests use anyio's pytest plugin on asyncio."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "qbo-samples"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def samples_dir() -> Path:
    """`../shared/qbo-samples/`: real QBO payloads, beside the checkout (as in CI)."""
    if not SAMPLES.is_dir():
        pytest.fail(f"the QBO samples are missing: expected them at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def qbo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder, set as QBO_HOME for code that reads the environment."""
    home = tmp_path / "qb-home"
    monkeypatch.setenv("QBO_HOME", str(home))
    return home
