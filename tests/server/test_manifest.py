"""`server.json`, the MCP registry manifest, agrees with pyproject, the README and the settings."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "QBO_CLIENT_SECRET",
    "QBO_TOKEN_KEYS",
    "QBO_DATABASE_URL",  # may hold the database password
    "QBO_WEBHOOK_VERIFIER_TOKEN",
    "QBO_EVENTS_FORWARD_SECRET",
}


@pytest.fixture
def manifest() -> dict[str, Any]:
    return dict(json.loads((ROOT / "server.json").read_text(encoding="utf-8")))


def test_versions_equal_pyproject(manifest: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert manifest["version"] == project["version"]
    (package,) = manifest["packages"]
    assert package["version"] == project["version"]
    assert package["identifier"] == project["name"]


def test_name_is_the_readme_mcp_name_line(manifest: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^mcp-name: (\S+)$", readme, re.MULTILINE)
    assert found is not None
    assert manifest["name"] == found.group(1) == "io.github.qb-mcp/qb-mcp"


def test_registry_fields(manifest: dict[str, Any]) -> None:
    assert manifest["$schema"].endswith("/2025-12-11/server.schema.json")
    assert 0 < len(manifest["description"]) <= 100
    (package,) = manifest["packages"]
    assert package["registryType"] == "pypi"
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}


def test_secrets_are_marked_and_every_variable_is_a_setting(manifest: dict[str, Any]) -> None:
    (package,) = manifest["packages"]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert {name for name, v in variables.items() if v["isSecret"]} == SECRETS
    for name, variable in variables.items():
        assert variable["description"], name
        # Each one is read by Settings: a bad value is refused naming the variable.
        assert name.startswith("QBO_")
    assert Settings.from_env({"QBO_READ_ONLY": "yes"}).read_only is True
    config = (ROOT / "qb_mcp" / "config.py").read_text(encoding="utf-8")
    for name in variables:
        assert f'"{name}"' in config, name
    # And the other way: every setting Settings reads is listed for the registry.
    read = set(re.findall(r'get\("(QBO_[A-Z_]+)"\)', config))
    assert read, "no QBO_ settings found in config.py"
    assert read <= set(variables), sorted(read - set(variables))
