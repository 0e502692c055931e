"""The API is typed: `mypy --strict` passes on code that uses it and catches misuse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import qb_mcp

HERE = Path(__file__).parent


def test_the_package_ships_its_py_typed_marker() -> None:
    assert (Path(qb_mcp.__file__).parent / "py.typed").is_file()


@pytest.mark.slow
def test_mypy_strict_on_code_using_the_api(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--config-file",
            "/dev/null" if sys.platform != "win32" else "NUL",
            str(HERE / "typed_example.py"),
            str(HERE / "typed_misuse.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: mypy must find qb_mcp as an installed, typed package
    )
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert not [line for line in errors if "typed_example.py" in line], out.stdout
    expected = {}
    for number, line in enumerate((HERE / "typed_misuse.py").read_text().splitlines(), 1):
        if match := re.search(r"#\s*([a-z-]+)$", line):
            expected[number] = match.group(1)
    found = {}
    for line in errors:
        match = re.search(r"typed_misuse\.py:(\d+):.*\[([a-z-]+)\]$", line)
        if match:
            found.setdefault(int(match.group(1)), match.group(2))
    assert found == expected, out.stdout
