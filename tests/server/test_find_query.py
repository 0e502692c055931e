"""`find_customer`'s free-text `query` (what assistants reach for first), and an unknown
argument's error listing the valid ones."""

from __future__ import annotations

import pytest

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import connect
from tests.server.test_tools import CONTACT

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("query", "read_as"),
    [
        ("Rosa Diaz", "name"),
        ("rosa@example.com", "email"),
        ("650 555 0199", "phone"),
    ],
)
async def test_a_free_text_query_finds_the_customer(
    settings: Settings, emulator: Emulator, mode: str, query: str, read_as: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        made = (await s.call("upsert_customer", CONTACT))["customer"]
        found = await s.call("find_customer", {"query": query})
    assert found["matches"] and found["matches"][0]["id"] == made["id"]
    assert f"query read as a {read_as}" in found["searched"]


async def test_an_unknown_argument_is_refused_with_the_valid_ones(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        text = await s.fail("find_customer", {"search": "Rosa"})
        assert s.state() == before
    assert "search: not an argument of this tool" in text
    assert "valid arguments: customer_id, query, name, email, phone, company" in text


async def test_an_empty_query_is_refused_clearly(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        text = await s.fail("find_customer", {"query": "   "})
    assert "give at least one of" in text
