"""The QuickBooks Online emulator: a separate world reached only over HTTP (or ASGI).

    from qb_mcp.emulator import Emulator
    emulator = Emulator()
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator.app),
                                base_url="http://emulator")

The names below load lazily, so importing one emulator module (say `faults`) does not pull in the
whole app with Starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qb_mcp.emulator.app import Emulator, EmulatorConfig
    from qb_mcp.emulator.oauth import TokenPair
    from qb_mcp.emulator.seed import DEMO_REALM_ID

__all__ = ["DEMO_REALM_ID", "Emulator", "EmulatorConfig", "TokenPair"]

_HOMES = {
    "Emulator": "qb_mcp.emulator.app",
    "EmulatorConfig": "qb_mcp.emulator.app",
    "TokenPair": "qb_mcp.emulator.oauth",
    "DEMO_REALM_ID": "qb_mcp.emulator.seed",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
