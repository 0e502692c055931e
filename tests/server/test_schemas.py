"""The shipped tool schemas (`qb_mcp/tools/schemas.json`) are the models' own, and start-up
stays light: serving `tools/list` needs neither the QBO client nor the bookkeeping layer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver.tools import Tool

import qb_mcp
from qb_mcp.tools import all_specs, base
from qb_mcp.tools import schemas as schema_file


def shipped_file() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(schema_file.PATH.read_text(encoding="utf-8"))
    return found


def published(tools: list[Tool]) -> dict[str, dict[str, Any]]:
    return {
        tool.name: {"input": tool.parameters, "output": tool.fn_metadata.output_schema}
        for tool in tools
    }


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    base.cached_schemas.cache_clear()
    yield
    base.cached_schemas.cache_clear()


def test_the_shipped_schemas_are_what_the_installed_libraries_make(fresh_cache: None) -> None:
    # The fingerprint is left out: an edit that changes no schema (a comment) only means the
    # server generates the schemas at start-up until the file is regenerated.
    shipped = shipped_file()
    fresh = schema_file.generate()
    if shipped["made_with"] == base.schema_makers():
        # Made by the installed pydantic and mcp: it must be exactly what they make, and be used.
        assert shipped["tools"] == fresh["tools"], (
            "qb_mcp/tools/schemas.json is stale: run `python -m qb_mcp.tools.schemas`"
        )
        assert base.cached_schemas() == shipped["tools"]
    else:
        # Made by other releases in range (older or newer): its content cannot be judged here,
        # and the server must not publish it.
        assert base.cached_schemas() == {}
        warnings.warn(
            f"schemas.json was made with {shipped['made_with']}, the installed versions are"
            f" {base.schema_makers()}: the server generates the schemas at start-up",
            stacklevel=1,
        )
    # Either way the server publishes what the installed libraries make of the models as they are.
    assert published(base.build_tools(all_specs())) == fresh["tools"]


def test_the_shipped_schemas_say_which_libraries_made_them() -> None:
    made_with = shipped_file()["made_with"]
    assert set(made_with) == {"pydantic", "mcp"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in made_with.values())


def test_every_tool_has_shipped_schemas() -> None:
    assert set(shipped_file()["tools"]) == {spec.name for spec in all_specs()}


def test_building_the_server_imports_no_client_or_bookkeeping_code(tmp_path: Path) -> None:
    # Start-up is light only with a schemas.json that the installed pydantic and mcp made (with
    # other releases the server rightly generates the schemas, importing every model). So on
    # other releases the check runs on a copy of the package whose file they made.
    env = None
    if shipped_file()["made_with"] != base.schema_makers():
        package = Path(qb_mcp.__file__).parent
        shutil.copytree(package, tmp_path / "qb_mcp", ignore=shutil.ignore_patterns("__pycache__"))
        # A checkout's package reads its texts from the top-level prompts/ beside it.
        shutil.copytree(package.parent / "prompts", tmp_path / "prompts")
        env = {**os.environ, "PYTHONPATH": str(tmp_path)}
        run = [sys.executable, "-m", "qb_mcp.tools.schemas"]
        # In tmp_path: `-m` puts the working directory first on the path, before PYTHONPATH.
        subprocess.run(run, capture_output=True, cwd=tmp_path, env=env, timeout=120, check=True)
    code = (
        "import sys\n"
        "import qb_mcp\n"
        "from qb_mcp.config import Settings\n"
        "from qb_mcp.server import build_server\n"
        "build_server(Settings())\n"
        "heavy = [m for m in sys.modules if m.startswith(('qb_mcp.qbo', 'qb_mcp.bookkeeping',"
        " 'qb_mcp.emulator', 'qb_mcp.auth'))]\n"
        "print(qb_mcp.__file__)\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=True,
    )
    where, heavy = done.stdout.strip().splitlines()
    assert heavy == "[]"
    if env is not None:
        assert where.startswith(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("sources_fingerprint", lambda: "another model source"),
        ("schema_makers", lambda: {"pydantic": "2.7.0", "mcp": "2.3.0"}),
        ("schema_makers", lambda: {"pydantic": "2.14.4", "mcp": "2.99.0"}),
    ],
    ids=["edited-models", "other-pydantic", "other-mcp"],
)
def test_stale_shipped_schemas_are_not_used(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None, name: str, other: Callable[[], Any]
) -> None:
    fresh = schema_file.generate()
    monkeypatch.setattr(base, name, other)
    assert base.cached_schemas() == {}
    assert published(base.build_tools(all_specs())) == fresh["tools"]


def test_shipped_schemas_made_by_the_installed_libraries_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_cache: None
) -> None:
    # The file is what start-up reads instead of importing every model: prove it is read (a
    # marker that generation would never produce reaches the published tool).
    made = schema_file.generate()
    made["tools"]["find_customer"]["input"]["description"] = "read from the shipped file"
    package = tmp_path / "package"
    package.mkdir()
    (package / base.SCHEMA_FILE).write_text(json.dumps(made), encoding="utf-8")
    monkeypatch.setattr(base.resources, "files", lambda _package: package)
    tools = {tool.name: tool for tool in base.build_tools(all_specs())}
    assert tools["find_customer"].parameters["description"] == "read from the shipped file"
