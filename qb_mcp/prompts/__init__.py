"""Text the server shows to models: instructions, tool descriptions and MCP prompts.

Kept as package data (`qb_mcp/prompts/`, not DESIGN's top-level `prompts/`) so an installed wheel
carries it; editing the wording never means editing code. Files:
- `instructions.md`: the server's instructions to the model;
- `tools/<tool>.md`: each tool's description;
- `<prompt>.md`: an MCP prompt, a `description:` line, a blank line, then the template, whose
  `$name` placeholders are the prompt's arguments (`string.Template`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of `qb_mcp/prompts/<name>` (e.g. "tools/find_customer.md"), stripped."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8").strip()


def tool_description(tool: str) -> str:
    """The description of `tool`, written for a model."""
    return load(f"tools/{tool}.md")


@dataclass(frozen=True, slots=True)
class PromptText:
    """An MCP prompt's description and template."""

    description: str
    template: str


def prompt_text(name: str) -> PromptText:
    """Split `<name>.md` into its `description:` line and its template."""
    text = load(f"{name}.md")
    head, _, template = text.partition("\n\n")
    if not head.startswith("description:"):
        raise ValueError(f"qb_mcp/prompts/{name}.md must start with a 'description:' line")
    return PromptText(description=head.removeprefix("description:").strip(), template=template)
