"""`qb-mcp emulator`: the QBO emulator as an HTTP server under uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError
from qb_mcp.sockets import listen


class _QuietDrops(logging.Filter):
    """Keep uvicorn from printing a traceback for each connection the emulator cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        from qb_mcp.emulator.api import DroppedConnection

        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def run_emulator(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the emulator until interrupted; expected problems are one-line ConfigErrors."""
    import uvicorn

    from qb_mcp.emulator.app import Emulator, EmulatorConfig
    from qb_mcp.emulator.seed import DEMO_REALM_ID

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1 to 65535; got {args.port}")
    webhook_url: str | None = args.webhook_url
    if webhook_url and not settings.webhook_verifier_token:
        raise ConfigError(
            "--webhook-url needs QBO_WEBHOOK_VERIFIER_TOKEN (the token webhooks are signed with)"
        )
    config = EmulatorConfig(
        webhook_url=webhook_url,
        webhook_verifier_token=settings.webhook_verifier_token if webhook_url else None,
        webhook_format=args.webhook_format,
        state_path=Path(args.state).expanduser() if args.state else None,
    )
    try:
        emulator = Emulator(config)
    except ValueError as exc:  # e.g. a malformed --webhook-url
        raise ConfigError(f"qb-mcp emulator: {exc}") from None
    sock = listen(args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    print(
        f"QBO emulator at {base} (API {base}/v3/company/{DEMO_REALM_ID}/...), "
        f"demo realm {DEMO_REALM_ID}; get a token: curl -s -X POST {base}/_emulator/tokens",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(emulator.app, log_level="warning", lifespan="on", access_log=False)
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
