"""The shipped tool schemas (`qb_mcp/tools/schemas.json`) are the models' own, and start-up
stays light: serving `tools/list` needs neither the QBO client nor the bookkeeping layer."""

from __future__ import annotations

import subprocess
import sys

from qb_mcp.tools import all_specs
from qb_mcp.tools import schemas as schema_file
from qb_mcp.tools.base import cached_schemas


def test_the_shipped_schemas_are_up_to_date() -> None:
    assert schema_file.PATH.read_text(encoding="utf-8") == schema_file.render(), (
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
