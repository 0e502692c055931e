"""The `--state` file: the companies and OAuth grants, kept across restarts.

Written atomically (a temporary file beside it, then a rename) with mode 0600, at shutdown and
at most once a second after a change, so a killed server loses at most about a second of work.
A file that cannot be read is never overwritten: the emulator refuses to start instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from qb_mcp.emulator.wire import dumps
from qb_mcp.errors import QbMcpError

log = logging.getLogger(__name__)

FORMAT = "qb-mcp-emulator-state"
VERSION = 1


class StateFileError(QbMcpError):
    """The state file exists but cannot be read or restored; the message names the file."""


def read_state(path: Path) -> dict[str, Any] | None:
    """The saved parts ({"backend": ..., "oauth": ...}), or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(
            f"cannot read the emulator state file {path}: {_reason(exc)}"
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"the emulator state file {path} is not valid JSON: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("version") != VERSION
        or not isinstance(data.get("backend"), dict)
        or not isinstance(data.get("oauth"), dict)
    ):
        raise StateFileError(
            f"the emulator state file {path} is not a qb-mcp emulator state (version {VERSION})"
        )
    return data


def write_state(path: Path, backend: dict[str, Any], oauth: dict[str, Any]) -> None:
    """Replace the file atomically with mode 0600 (a crash leaves the old file or the new one)."""
    body = dumps({"format": FORMAT, "version": VERSION, "backend": backend, "oauth": oauth})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


class StateSaver:
    """Saves a snapshot after changes, at most once per `min_interval` seconds."""

    def __init__(
        self,
        path: Path,
        snapshot: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
        *,
        min_interval: float = 1.0,
    ) -> None:
        self.path = path
        self._snapshot = snapshot
        self.min_interval = min_interval
        self._dirty = False
        self._wake: anyio.Event | None = None
        self.saves = 0

    def mark_dirty(self) -> None:
        """Something changed; the running saver writes it within `min_interval`."""
        self._dirty = True
        if self._wake is not None:
            self._wake.set()

    def save(self) -> None:
        """Write the current state now (errors are logged, never raised into a request)."""
        self._dirty = False
        backend, oauth = self._snapshot()
        try:
            write_state(self.path, backend, oauth)
        except OSError as exc:
            self._dirty = True
            log.error("cannot save the emulator state to %s: %s", self.path, _reason(exc))
            return
        self.saves += 1

    async def run(self) -> None:
        """Save after each burst of changes, then rest `min_interval`; runs until cancelled."""
        while True:
            self._wake = anyio.Event()
            if not self._dirty:
                await self._wake.wait()
            started = time.monotonic()
            self.save()
            # Real time on purpose: this paces disk writes, it is not emulated business time.
            await anyio.sleep(max(0.0, self.min_interval - (time.monotonic() - started)))
