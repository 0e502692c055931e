"""Text the server shows to models: instructions, tool descriptions and MCP prompts.

The files live in the top-level `prompts/` folder of the repository, where a person who edits
what the assistant reads finds them first (see prompts/README.md). The wheel carries the same
files as package data in `qb_mcp/prompts/` (pyproject.toml: hatchling's `force-include`), so an
installed server reads them from there; a checkout (an editable install) reads `prompts/` itself.
Files:
- `instructions.md`: the server's instructions to the model;
- `tools/<tool>.md`: each tool's description;
- `<prompt>.md`: an MCP prompt: a `description:` line, one `argument NAME: text` line per
  argument, a blank line, then the template, whose `$name` placeholders are filled from the
  arguments (`string.Template`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# A file every copy of the folder has: an old checkout may still hold an empty `qb_mcp/prompts/`
# (a leftover `__pycache__` from when the texts lived there), which must not win over `prompts/`.
MARKER = "instructions.md"


@cache
def prompts_dir() -> Path:
    """The folder the texts are read from: the wheel's package data, else the checkout's."""
    for candidate in (PACKAGE / "prompts", PACKAGE.parent / "prompts"):
        if (candidate / MARKER).is_file():
            return candidate
    raise FileNotFoundError(
        f"qb-mcp's prompts folder is missing (looked in {PACKAGE / 'prompts'} and "
        f"{PACKAGE.parent / 'prompts'}): reinstall qb-mcp"
    )


@cache
def load(name: str) -> str:
    """The text of `prompts/<name>` (e.g. "tools/find_customer.md"), stripped."""
    return (prompts_dir() / name).read_text(encoding="utf-8").strip()


def tool_description(tool: str) -> str:
    """The description of `tool`, written for a model."""
    return load(f"tools/{tool}.md")


def tool_description_files() -> list[Path]:
    """Every tool description file, in a stable order (for the schema fingerprint)."""
    return sorted((prompts_dir() / "tools").glob("*.md"))


@dataclass(frozen=True, slots=True)
class PromptText:
    """An MCP prompt's description, its arguments' descriptions, and its template."""

    description: str
    arguments: dict[str, str]
    template: str


def prompt_text(name: str) -> PromptText:
    """Split `<name>.md` into its `description:` line, its `argument` lines and its template."""
    text = load(f"{name}.md")
    head, _, template = text.partition("\n\n")
    lines = head.splitlines()
    if not lines or not lines[0].startswith("description:"):
        raise ValueError(f"prompts/{name}.md must start with a 'description:' line")
    arguments: dict[str, str] = {}
    for line in lines[1:]:
        label, _, described = line.partition(":")
        kind, _, argument = label.partition(" ")
        if kind != "argument" or not argument.strip() or not described.strip():
            raise ValueError(f"prompts/{name}.md: expected 'argument NAME: text', got {line!r}")
        arguments[argument.strip()] = described.strip()
    return PromptText(
        description=lines[0].removeprefix("description:").strip(),
        arguments=arguments,
        template=template,
    )
