"""The command line: help that names defaults and QBO_ variables, a description for every
command, a command's own usage for its unknown options, --log-level everywhere."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qb_mcp import cli
from qb_mcp.config import Settings

CONFIG = Path(cli.__file__).with_name("config.py")


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by its words ("serve", "auth login", ...)."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    key = f"{words} {name}".strip()
                    found[key] = sub
                    walk(sub, key)

    walk(cli.build_parser(), "")
    return found


def test_top_level_help_names_every_qbo_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    variables = set(re.findall(r'"(QBO_[A-Z_]+)"', CONFIG.read_text(encoding="utf-8")))
    assert variables and {v for v in variables if v not in out} == set()
    assert "(default: production" in out


def test_every_command_has_a_description() -> None:
    for words, parser in _commands().items():
        assert parser.description and parser.description.endswith("."), words


def test_every_option_with_a_value_says_its_default() -> None:
    for words, parser in _commands().items():
        for action in parser._actions:
            takes_value = action.nargs is None and not isinstance(
                action,
                argparse._StoreTrueAction | argparse._HelpAction | argparse._SubParsersAction,
            )
            if takes_value and action.option_strings:
                assert action.help and "default" in action.help, (words, action.dest)


def test_options_read_from_the_environment_name_their_variable() -> None:
    commands = _commands()
    helps = {(words, a.dest): a.help or "" for words, p in commands.items() for a in p._actions}
    assert "QBO_READ_ONLY" in helps[("serve", "read_only")]
    assert "QBO_CONFIRM_WRITES" in helps[("serve", "confirm_writes")]
    assert "QBO_LOG_LEVEL" in helps[("doctor", "log_level")]
    assert "QBO_ENVIRONMENT" in helps[("auth login", "environment")]
    assert "QBO_REALM_ID" in helps[("auth revoke", "realm")]


@pytest.mark.parametrize("words", [["serve"], ["auth", "status"], ["doctor"]])
def test_an_unknown_option_shows_the_commands_own_usage(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main([*words, "--foo"])
    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert f"usage: qb-mcp {' '.join(words)}" in err
    assert f"qb-mcp {' '.join(words)}: error: unrecognized arguments: --foo" in err


def test_every_command_takes_log_level() -> None:
    for words, parser in _commands().items():
        if words == "auth":
            continue  # a group: its actions take it
        args, extras = parser.parse_known_args(["--log-level", "debug"])
        assert not extras and args.log_level == "DEBUG", words


def test_log_level_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QBO_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("QBO_HOME", str(tmp_path))
    monkeypatch.setitem(cli.HANDLERS, "doctor", "tests.test_cli:_record")
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    _SEEN.clear()
    assert cli.main(["doctor", "--log-level", "info"]) == 0
    assert _SEEN[0].log_level == "INFO"


_SEEN: list[Settings] = []


def _record(_args: argparse.Namespace, settings: Settings) -> int:
    _SEEN.append(settings)
    return 0
