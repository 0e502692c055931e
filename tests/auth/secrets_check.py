"""Finding tokens where none may be: the shapes of the emulator's tokens, plus known values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Access tokens start with the header of Intuit's compact JWE; refresh tokens and authorization
# codes are "AB1" + an epoch + 33 letters and digits (qb_mcp/emulator/oauth.py imitates both).
TOKEN_SHAPES = (
    re.compile(r"eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"),
    re.compile(r"AB1\d{10}[A-Za-z0-9]{33}"),
)


def leaks(text: str, known: Iterable[str] = ()) -> list[str]:
    """What in `text` looks like (or is) a token; empty when it holds none."""
    found = [m.group(0)[:12] + "..." for shape in TOKEN_SHAPES for m in shape.finditer(text)]
    found.extend(secret[:12] + "..." for secret in known if secret and secret in text)
    return found


def database_bytes(path: Path) -> str:
    """The database and its -wal/-shm files, as text (latin-1 keeps every byte)."""
    return "".join(
        p.read_bytes().decode("latin-1")
        for p in sorted(path.parent.iterdir())
        if p.name.startswith(path.name)
    )
