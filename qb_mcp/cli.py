"""The `qb-mcp` command. Parses arguments, reads settings, and hands off to one handler module
per command (imported lazily, so `qb-mcp serve` pays nothing for the emulator or OAuth code).

Every expected failure prints one line to stderr and exits 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qb_mcp import __version__
from qb_mcp.config import ENVIRONMENTS, Settings, configure_logging, parse_allowed_hosts
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qb-mcp",
        description="MCP server for QuickBooks Online bookkeeping.",
    )
    parser.add_argument("--version", action="version", version=f"qb-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server")
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--read-only", action="store_true", default=None, help="serve no write tools at all"
    )
    serve.add_argument(
        "--confirm-writes",
        action="store_true",
        default=None,
        help="ask the user before each write, where the client supports elicitation",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="http only, for development on a loopback --host: accept requests without a token",
    )
    serve.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="HOST[:PORT],...",
        help="http: the Host names clients (or a reverse proxy) use, beside loopback "
        "(QBO_ALLOWED_HOSTS)",
    )

    commands.add_parser("demo", help="quote-to-cash walkthrough against the built-in emulator")

    auth = commands.add_parser("auth", help="connect, inspect or disconnect a company")
    auth_commands = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    login = auth_commands.add_parser("login", help="connect a company with Intuit OAuth")
    login.add_argument("--environment", choices=ENVIRONMENTS, default=None)
    login.add_argument(
        "--no-browser", action="store_true", help="print the URL only; do not open a browser"
    )
    auth_commands.add_parser("status", help="list connections and token expiry")
    revoke = auth_commands.add_parser("revoke", help="disconnect a company")
    revoke.add_argument(
        "--realm", default=None, help="realm id (default: QBO_REALM_ID or the only one)"
    )
    revoke.add_argument(
        "--forget",
        action="store_true",
        help="only delete the local connection, without revoking it at Intuit (e.g. a lost key)",
    )
    auth_commands.add_parser("rotate-key", help="re-encrypt every token under the newest key")

    doctor = commands.add_parser(
        "doctor", help="check configuration, keys, database, tokens and API"
    )
    doctor.add_argument(
        "--offline", action="store_true", help="skip the live companyinfo call per connection"
    )

    emulator = commands.add_parser("emulator", help="run the QuickBooks Online emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--state", default=None, help="keep the companies in this JSON file")
    emulator.add_argument("--webhook-url", default=None, help="send signed notifications here")
    emulator.add_argument("--webhook-format", choices=("legacy", "cloudevents"), default="legacy")

    tokens = commands.add_parser("tokens", help="bearer tokens for serve --transport http")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    add = token_commands.add_parser("add", help="make a token; it is printed once, on stdout")
    add.add_argument("name", help="who or what will use it (shown in the audit log)")
    # Checked by the handler rather than by `choices`, for a one-line error like every other.
    add.add_argument("--scope", default="read", help="read (no write tools; the default) or write")
    add.add_argument(
        "--company",
        action="append",
        metavar="REALM_ID",
        help="limit the token to this company (repeat for several; default every company)",
    )
    token_commands.add_parser("list", help="list the tokens (names and scopes, never tokens)")
    revoke_token = token_commands.add_parser("revoke", help="delete a token: it stops working")
    revoke_token.add_argument("name")

    webhooks = commands.add_parser("webhooks", help="run the webhook listener alone")
    webhooks.add_argument("--host", default="127.0.0.1")
    webhooks.add_argument("--port", type=int, default=8001)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    action = getattr(args, f"{args.command}_command", None)
    key = args.command if action is None else f"{args.command} {action}"
    try:
        settings = Settings.from_env().with_overrides(
            read_only=getattr(args, "read_only", None),
            confirm_writes=getattr(args, "confirm_writes", None),
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
