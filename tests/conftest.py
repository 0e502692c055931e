"""Shared fixtures. Async tests use anyio's pytest plugin on asyncio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

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
