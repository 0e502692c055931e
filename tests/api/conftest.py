"""Fixtures for the Python API: books over the built-in demo company in a fresh data folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qb_mcp import Books, Settings, open_books
from qb_mcp.qbo.limiter import Limits, RealmLimiter

# Each test's books get their own budget: QuickBooks' 500 a minute, shared per realm in the
# process, would make a long run wait.
TEST_LIMITS = Limits(requests_per_window=100_000, window_seconds=1.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", environment="emulator")


@pytest.fixture
def wiring() -> dict[str, Any]:
    """What tests pass to open_books beside the settings (their own request budget)."""
    return {"limiter": RealmLimiter(TEST_LIMITS)}


@pytest.fixture
async def books(settings: Settings, wiring: dict[str, Any]) -> AsyncIterator[Books]:
    async with open_books(settings, **wiring) as opened:
        yield opened
