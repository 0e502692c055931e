"""The shipped tool schemas (`qb_mcp/tools/schemas.json`) are the models' own, and start-up
stays light: serving `tools/list` needs neither the QBO client nor the bookkeeping layer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qb_mcp.tools import all_specs
from qb_mcp.tools import schemas as schema_file
from qb_mcp.tools.base import cached_schemas


def test_the_shipped_schemas_are_the_models_schemas() -> None:
    # The fingerprint is left out: an edit that changes no schema (a comment) only means the
    # server generates the schemas at start-up until the file is regenerated.
    shipped = json.loads(schema_file.PATH.read_text(encoding="utf-8"))["tools"]
    assert shipped == schema_file.generate()["tools"], (
        "qb_mcp/tools/schemas.json is stale: run `python -m qb_mcp.tools.schemas`"
    )


def test_every_tool_has_shipped_schemas() -> None:
    assert set(cached_schemas()) == {spec.name for spec in all_specs()}


def test_building_the_server_imports_no_client_or_bookkeeping_code() -> None:
    code = (
        "import sys\n"
        "from qb_mcp.config import Settings\n"
        "from qb_mcp.server import build_server\n"
        "build_server(Settings())\n"
        "heavy = [m for m in sys.modules if m.startswith(('qb_mcp.qbo', 'qb_mcp.bookkeeping',"
        " 'qb_mcp.emulator', 'qb_mcp.auth'))]\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_stale_shipped_schemas_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from qb_mcp.tools import base

    base.cached_schemas.cache_clear()
    monkeypatch.setattr(base, "sources_fingerprint", lambda: "another model source")
    try:
        assert base.cached_schemas() == {}
        tools = base.build_tools(all_specs())
    finally:
        base.cached_schemas.cache_clear()
    assert {tool.name: tool.parameters for tool in tools} == {
        name: schemas["input"] for name, schemas in schema_file.generate()["tools"].items()
    }
