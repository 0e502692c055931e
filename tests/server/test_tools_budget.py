"""`tools/list` stays within its budget: every assistant reads it whole at the start of every
conversation. A tool added later pays for its own bytes (terse descriptions, tools/compact.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import connect

pytestmark = pytest.mark.anyio

# Bytes of compact JSON for all tools together (issue 11).
BUDGET = 28_000


def compact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def test_tools_list_is_within_its_budget(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        listed = (await s.client.list_tools()).tools
    # As the client receives it (what bench/scale.py --only tools measures).
    tools = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed]
    size = compact_size(tools)
    biggest = sorted(((compact_size(tool), tool["name"]) for tool in tools), reverse=True)[:5]
    assert size <= BUDGET, (
        f"tools/list is {size} bytes of compact JSON, over the {BUDGET} budget; biggest: "
        + ", ".join(f"{name} {n}" for n, name in biggest)
    )


def nodes(schema: Any) -> list[dict[str, Any]]:
    """Every schema in `schema` (the keys of `properties` and `$defs` are names, not keywords)."""
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            found += [node for sub in value.values() for node in nodes(sub)]
        elif isinstance(value, dict):
            found += nodes(value)
        elif isinstance(value, list):
            found += [node for sub in value for node in nodes(sub)]
    return found


async def test_published_schemas_carry_no_pydantic_titles_or_null_defaults(
    settings: Settings, emulator: Emulator
) -> None:
    async with connect(settings, emulator) as s:
        listed = (await s.client.list_tools()).tools
    for tool in listed:
        for schema in (tool.input_schema, tool.output_schema):
            assert schema is not None and schema["type"] == "object", tool.name
            Draft202012Validator.check_schema(schema)
            for node in nodes(schema):
                assert "title" not in node, (tool.name, node)
                assert "default" not in node or node["default"] is not None, (tool.name, node)
        # An optional parameter is one not in `required`, not one that takes null.
        assert {"type": "null"} not in nodes(tool.input_schema), tool.name


async def test_null_for_an_optional_parameter_is_still_accepted(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    # The published schemas no longer list null for optional parameters; assistants still send
    # it, at the top level and inside a line, and the input model takes it as not given.
    arguments = {
        "customer_id": "1",
        "customer_name": None,
        "memo": None,
        "lines": [{"item_id": "1", "item_name": None, "unit_price": None, "quantity": "2"}],
    }
    async with connect(settings, emulator, mode) as s:
        estimate = await s.call("create_estimate", arguments)
        found = await s.call("find_customer", {"name": "Amy", "phone": None, "limit": None})
    assert estimate["customer_id"] == "1"
    assert estimate["lines"][0]["quantity"] == "2"
    assert found["matches"]
