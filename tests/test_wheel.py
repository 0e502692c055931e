"""The built wheel is a complete server: it carries the prompts, the tool schemas and the
migrations, and an installed `qb-mcp serve` answers with the texts from the wheel, not from a
checkout (issue 15). One test installs it with `uv tool install`, as the README says a user can.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
MARKER = "(text from the built wheel)"
# Not copied into the source tree the wheel is built from: environments, caches, git.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".ci-*",  # CI's venv and npm folders (not .ci itself: the pattern needs the dash)
    "node_modules",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "*.egg-info",
    "dist",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout whose texts carry MARKER, so a server that
    answers with MARKER read them from the wheel (the checkout has no MARKER)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    for name in ("tools/find_customer.md", "quote_to_cash.md"):
        path = source / "prompts" / name
        path.write_text(path.read_text(encoding="utf-8").rstrip() + f"\n{MARKER}\n", "utf-8")
    dist = base / "dist"
    build = ["wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build, str(source)],
        check=True,
        timeout=300,
    )
    (built,) = dist.glob("qb_mcp-*.whl")
    return built


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "PYTHON"))}
    env["QBO_HOME"] = str(home)
    return env


async def _answers_from_the_wheel(command: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(command), args=["serve"], env=_env(tmp_path / "home"), cwd=str(tmp_path)
    )
    async with Client(params) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        prompt = await client.get_prompt(
            "quote_to_cash", {"customer": "Rosa Diaz", "work": "a garden design"}
        )
    assert MARKER in (tools["find_customer"].description or "")
    assert MARKER in prompt.messages[0].content.text  # type: ignore[union-attr]
    assert MARKER not in (ROOT / "prompts" / "tools" / "find_customer.md").read_text("utf-8")


def test_the_wheel_carries_prompts_schemas_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    texts = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "prompts").rglob("*")
        if path.is_file()
    }
    assert {f"qb_mcp/{name}" for name in texts} <= names
    assert "qb_mcp/tools/schemas.json" in names
    for folder in ("migrations", "migrations/postgresql"):  # SQLite's and PostgreSQL's
        migrations = {p.name for p in (ROOT / "qb_mcp" / "store" / folder).glob("*.sql")}
        assert migrations and {f"qb_mcp/store/{folder}/{m}" for m in migrations} <= names
    assert not [name for name in names if name.startswith(("prompts/", "tests/"))]
    assert [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    assert "qb_mcp/py.typed" in names  # the Python API is typed for its users (PEP 561)


@pytest.fixture
def installed(wheel: Path, tmp_path: Path) -> Path:
    """`qb-mcp` from the wheel installed in a fresh virtual environment."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = ["--python", str(python), "install", "--quiet", "--no-deps", str(wheel)]
    subprocess.run([sys.executable, "-m", "pip", *install], check=True, timeout=300)
    # The dependencies come from this environment (no download), after the wheel's own files:
    # a path line in a .pth file, whose own .pth files (this checkout's editable install) are
    # not read.
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    fresh = subprocess.run(
        [str(python), "-c", where], capture_output=True, text=True, check=True
    ).stdout.strip()
    (Path(fresh) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", "utf-8")
    return venv / "bin" / "qb-mcp"


@pytest.fixture
def uv_installed(wheel: Path, tmp_path: Path) -> Path:
    """`qb-mcp` installed from the wheel with `uv tool install` (the README's way)."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is missing (it is in the test extras)")
        pytest.skip("uv is not installed")
    env = _env(tmp_path / "home")
    env.update(UV_TOOL_DIR=str(tmp_path / "tools"), UV_TOOL_BIN_DIR=str(tmp_path / "bin"))
    subprocess.run(
        [uv, "tool", "install", "--quiet", "--python", sys.executable, str(wheel)],
        env=env,
        check=True,
        timeout=600,
    )
    return tmp_path / "bin" / "qb-mcp"


async def test_an_installed_wheel_serves_its_own_texts(installed: Path, tmp_path: Path) -> None:
    await _answers_from_the_wheel(installed, tmp_path)


async def test_uv_tool_install_of_the_wheel_serves(uv_installed: Path, tmp_path: Path) -> None:
    await _answers_from_the_wheel(uv_installed, tmp_path)
