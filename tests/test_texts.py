"""The texts in prompts/: where they are read from, the prompt file format, and the schema
fingerprint covering the tool descriptions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qb_mcp import server_prompts, texts
from qb_mcp.tools import base

ROOT = Path(__file__).resolve().parent.parent


def test_a_checkout_reads_the_top_level_prompts_folder() -> None:
    assert texts.prompts_dir() == ROOT / "prompts"
    assert not (ROOT / "qb_mcp" / "prompts" / texts.MARKER).exists()


def test_an_edited_tool_description_changes_the_schema_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", copy)
    monkeypatch.setattr(texts, "prompts_dir", lambda: copy)
    before = base.sources_fingerprint()
    path = copy / "tools" / "find_customer.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more sentence.\n", "utf-8")
    assert base.sources_fingerprint() != before


def test_a_prompt_argument_without_a_description_stops_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = texts.prompt_text

    def without_work(name: str) -> texts.PromptText:
        text = real(name)
        if name != "quote_to_cash":
            return text
        arguments = {k: v for k, v in text.arguments.items() if k != "work"}
        return texts.PromptText(text.description, arguments, text.template)

    monkeypatch.setattr(server_prompts, "prompt_text", without_work)
    with pytest.raises(ValueError, match="quote_to_cash"):
        server_prompts.build_prompts()


def test_a_malformed_argument_line_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.md").write_text("description: d\nargument: no name\n\nbody", "utf-8")
    monkeypatch.setattr(texts, "prompts_dir", lambda: tmp_path)
    texts.load.cache_clear()
    try:
        with pytest.raises(ValueError, match="argument NAME"):
            texts.prompt_text("bad")
    finally:
        texts.load.cache_clear()
