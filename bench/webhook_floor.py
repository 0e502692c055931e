"""The floor for bench/webhooks.py: a Starlette endpoint that only checks the signature.

Same server as `qb-mcp webhooks` (uvicorn with `server_config`, one worker) and the same
signature check on the raw bytes, but nothing parsed or stored: what any listener that verifies
Intuit's signature must at least spend. The socket comes from `qb_mcp.sockets.listen` (through
getaddrinfo, so asyncio sets TCP_NODELAY on each connection) and has TCP_NODELAY set as well:
without it Nagle's algorithm would make the floor measure its own delayed ACKs.

    .venv/bin/python bench/webhook_floor.py --port 19001     # prints a banner once listening
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qb_mcp.http_serving import server_config
from qb_mcp.sockets import listen
from qb_mcp.webhooks.signature import SIGNATURE_HEADER, verify


def floor_app(token: str) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify(body, request.headers.get(SIGNATURE_HEADER), token):
            return JSONResponse({"error": "missing or invalid intuit-signature"}, status_code=401)
        return JSONResponse({"stored": 0, "duplicates": 0})

    return Starlette(routes=[Route("/webhooks/intuit", receive, methods=["POST"])])


async def serve(sock: socket.socket, token: str) -> None:
    server = uvicorn.Server(server_config(floor_app(token)))
    print(f"webhook listener at http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr)
    sys.stderr.flush()
    await server.serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sock = listen("127.0.0.1", args.port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    anyio.run(serve, sock, os.environ["QBO_WEBHOOK_VERIFIER_TOKEN"])


if __name__ == "__main__":
    main()
