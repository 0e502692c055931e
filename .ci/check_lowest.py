"""Check that every direct dependency is installed at its declared lower bound.

Run in the venv that `uv pip install --resolution lowest-direct -e '.[test]'` made. A dependency
installed above its `>=` bound means the bound cannot be reached (another requirement, usually a
dependency's own, asks for more), so it is not what the tests run on and must be raised.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version


def lower_bound(requirement: Requirement) -> Version | None:
    found = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return min(found) if found else None


def main() -> int:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"
    ]
    declared = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    wrong = []
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        bound = lower_bound(requirement)
        installed = Version(metadata.version(requirement.name))
        if bound is None:
            wrong.append(f"{requirement.name}: no lower bound (installed {installed})")
        elif installed != bound:
            wrong.append(
                f"{requirement.name}: declared >={bound}, lowest-direct installs {installed}"
            )
        else:
            print(f"ok  {requirement.name}=={installed}")
    for line in wrong:
        print(f"BAD {line}: raise the bound in pyproject.toml", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
