"""The `qb-mcp` command. Parses arguments, reads settings, and hands off to one handler module
per command (imported lazily, so `qb-mcp serve` pays nothing for the emulator or OAuth code).

Every expected failure prints one line to stderr and exits 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from qb_mcp import __version__
from qb_mcp.config import ENVIRONMENTS, LOG_LEVELS, Settings, configure_logging, parse_allowed_hosts
from qb_mcp.errors import QbMcpError

# command (or "command subcommand") -> "module:function"; each function takes (args, settings)
# and returns an exit code.
HANDLERS: dict[str, str] = {
    "serve": "qb_mcp.server:run_serve",
    "demo": "qb_mcp.demo:run_demo",
    "auth login": "qb_mcp.auth.commands:run_login",
    "auth status": "qb_mcp.auth.commands:run_status",
    "auth revoke": "qb_mcp.auth.commands:run_revoke",
    "auth rotate-key": "qb_mcp.auth.commands:run_rotate_key",
    "doctor": "qb_mcp.doctor:run_doctor",
    "emulator": "qb_mcp.emulator.server:run_emulator",
    "webhooks": "qb_mcp.webhooks.app:run_webhooks",
    "tokens add": "qb_mcp.auth.bearer_commands:run_add",
    "tokens list": "qb_mcp.auth.bearer_commands:run_list",
    "tokens revoke": "qb_mcp.auth.bearer_commands:run_revoke",
}


SETTINGS_HELP = """\
settings (environment variables; command-line options override them):
  QBO_ENVIRONMENT             production, sandbox or emulator (default: production; unset or
                              emulator: the demo company is served while nothing is connected)
  QBO_CLIENT_ID, QBO_CLIENT_SECRET
                              your Intuit app's keys (default: none; needed to connect)
  QBO_REDIRECT_URI            OAuth redirect URI (default: http://localhost:8766/callback)
  QBO_REALM_ID                which connected company to serve (default: the only one)
  QBO_HOME                    data folder (default: ~/.local/share/qb-mcp)
  QBO_TOKEN_KEYS              token encryption keys, newest first (default: a key file in QBO_HOME)
  QBO_DATABASE_URL            postgresql://...: the database replicas share (default: the
                              SQLite file in QBO_HOME; needs QBO_TOKEN_KEYS)
  QBO_WEBHOOK_VERIFIER_TOKEN  Intuit's webhook verifier token (default: none: no webhooks)
  QBO_READ_ONLY               true: no write tools (default: false)
  QBO_CONFIRM_WRITES          true: confirm each write through elicitation (default: false)
  QBO_API_BASE_URL, QBO_OAUTH_BASE_URL
                              other API and OAuth hosts: a proxy, the emulator (default: Intuit's)
  QBO_LOG_LEVEL               DEBUG ... CRITICAL, on stderr (default: WARNING)
  QBO_ALLOWED_HOSTS           serve --transport http: Host names beside loopback, e.g. a reverse
                              proxy's public name (default: none)
  QBO_AUTH_ISSUER, QBO_AUTH_AUDIENCE
                              serve --transport http: accept this identity provider's JWTs for
                              this server's URL (default: none; bearer tokens: `qb-mcp tokens`)
  QBO_EVENTS_FORWARD_URL, QBO_EVENTS_FORWARD_SECRET
                              POST each stored event to the CRM, signed with the secret
                              (default: none: no forwarding)

Run `qb-mcp COMMAND --help` for a command's options."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each option's help names its default and its QBO_ variable."""
    parser = argparse.ArgumentParser(
        prog="qb-mcp",
        description="MCP server for QuickBooks Online bookkeeping. Settings come from QBO_* "
        "environment variables; the options below override them.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qb-mcp {__version__}")
    # Given to every command, so `qb-mcp doctor --log-level DEBUG` works like `serve`'s.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=None,
        help="how much to log on stderr (default: QBO_LOG_LEVEL, else WARNING)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, summary: str, *, details: str = ""
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}.{' ' + details if details else ''}",
            parents=[common],
        )
        return sub

    serve = command(
        commands,
        "serve",
        "run the MCP server",
        details="With no company connected and QBO_ENVIRONMENT unset (or emulator), it serves "
        "the built-in demo company.",
    )
    serve.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio for one client that starts the server; http for streamable HTTP at /mcp "
        "(default: stdio)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on, http only (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on, http only (default: 8000)"
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="serve no write tools at all (default: QBO_READ_ONLY, else off)",
    )
    serve.add_argument(
        "--confirm-writes",
        action="store_true",
        default=None,
        help="ask the user before each write, where the client supports elicitation "
        "(default: QBO_CONFIRM_WRITES, else off)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="http only, for development on a loopback --host: accept requests without a "
        "bearer token (default: off; a token from `qb-mcp tokens add` or QBO_AUTH_ISSUER)",
    )
    serve.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="HOST[:PORT],...",
        help="http only: Host names clients or a reverse proxy use, beside loopback and --host "
        "(default: QBO_ALLOWED_HOSTS, else none)",
    )

    command(
        commands,
        "demo",
        "quote-to-cash walkthrough against the built-in emulator",
        details="It uses a temporary data folder and touches nothing of yours.",
    )

    auth = command(commands, "auth", "connect, inspect or disconnect a company")
    auth_commands = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    login = command(
        auth_commands,
        "login",
        "connect a company with Intuit OAuth",
        details="Needs QBO_CLIENT_ID and QBO_CLIENT_SECRET; the browser opens Intuit's consent "
        "page and the tokens are stored encrypted in QBO_HOME.",
    )
    login.add_argument(
        "--environment",
        choices=ENVIRONMENTS,
        default=None,
        help="where the company lives (default: QBO_ENVIRONMENT, else production)",
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the URL only; do not open a browser"
    )
    login.add_argument(
        "--hosted",
        action="store_true",
        help="print the consent URL for a hosted `serve --transport http`, which answers Intuit "
        "at QBO_REDIRECT_URI (https://HOST/auth/intuit/callback) and serves the company at once",
    )
    status = command(auth_commands, "status", "list connections and token expiry")
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    revoke = command(auth_commands, "revoke", "disconnect a company")
    revoke.add_argument(
        "--realm",
        default=None,
        help="realm id of the company (default: QBO_REALM_ID, else the only one connected)",
    )
    revoke.add_argument(
        "--forget",
        action="store_true",
        help="only delete the local connection, without revoking it at Intuit (e.g. a lost key)",
    )
    command(
        auth_commands,
        "rotate-key",
        "re-encrypt every token under the newest key",
        details="The newest key is the first of QBO_TOKEN_KEYS.",
    )

    doctor = command(
        commands,
        "doctor",
        "check configuration, keys, database, tokens and API",
        details="Each line is OK, INFO, WARN or FIX. Exit status: 0 when nothing needs doing "
        "(OK and INFO only), 1 when a line says WARN or FIX, 2 when a setting is malformed.",
    )
    doctor.add_argument(
        "--offline", action="store_true", help="skip the live companyinfo call per connection"
    )
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")

    emulator = command(
        commands,
        "emulator",
        "run the QuickBooks Online emulator",
        details="Intuit's API and OAuth paths on one host, with signed webhooks and fault "
        "injection, for your own tests.",
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    emulator.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    emulator.add_argument(
        "--state", default=None, help="keep the companies in this JSON file (default: in memory)"
    )
    emulator.add_argument(
        "--webhook-url", default=None, help="send signed notifications here (default: none)"
    )
    emulator.add_argument(
        "--webhook-format",
        choices=("legacy", "cloudevents"),
        default="legacy",
        help="the notifications' format (default: legacy)",
    )

    webhooks = command(
        commands,
        "webhooks",
        "run the webhook listener alone",
        details="Needs QBO_WEBHOOK_VERIFIER_TOKEN; events are stored in QBO_HOME, where a "
        "running `qb-mcp serve` sees them.",
    )
    webhooks.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    webhooks.add_argument("--port", type=int, default=8001, help="port (default: 8001)")

    tokens = command(
        commands,
        "tokens",
        "bearer tokens for serve --transport http",
        details="A token is printed once and only its hash is stored in QBO_HOME; revoking it "
        "takes effect on the next request.",
    )
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    add = command(
        token_commands,
        "add",
        "make a token; it is printed once, alone on stdout",
        details="Send it as `Authorization: Bearer <token>`.",
    )
    add.add_argument("name", help="who or what will use it (shown in the audit log)")
    # Checked by the handler rather than by `choices`, for a one-line error like every other.
    add.add_argument(
        "--scope", default="read", help="read (no write tools) or write (default: read)"
    )
    add.add_argument(
        "--company",
        action="append",
        metavar="REALM_ID",
        help="limit the token to this company; repeat for several (default: every company)",
    )
    command(token_commands, "list", "list the tokens: names, scopes, companies, never tokens")
    revoke_token = command(
        token_commands, "revoke", "delete a token: requests carrying it are refused from now on"
    )
    revoke_token.add_argument("name", help="the token's name, as `tokens list` shows it")
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse `argv`; an unknown option is reported with the usage of the command it was given
    to (`serve --foo` shows serve's usage, not the top level's)."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparser(parser, args.command)
        action = getattr(args, f"{args.command}_command", None)
        if action is not None and sub is not None:
            sub = _subparser(sub, action) or sub
        (sub or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser | None = action.choices.get(name or "")
            return found
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    action = getattr(args, f"{args.command}_command", None)
    key = args.command if action is None else f"{args.command} {action}"
    try:
        settings = Settings.from_env().with_overrides(
            read_only=getattr(args, "read_only", None),
            confirm_writes=getattr(args, "confirm_writes", None),
            log_level=getattr(args, "log_level", None),
            allowed_hosts=parse_allowed_hosts(
                "--allowed-hosts", getattr(args, "allowed_hosts", None)
            ),
        )
        configure_logging(settings.log_level)
        module_name, _, function_name = HANDLERS[key].partition(":")
        handler = getattr(importlib.import_module(module_name), function_name)
        return int(handler(args, settings))
    except QbMcpError as exc:
        print(f"qb-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
