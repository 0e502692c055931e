"""`requestid`: a repeated write is answered from memory instead of being done twice.

What QBO documents: a repeated requestid for the same realm gets the original response, not a
second write. The rest are choices where Intuit is silent, written down here:

- The request is identified by method, path, query string without `requestid` and
  `minorversion` (every request is served as minor version 75 anyway), and the body bytes.
- The same id with a different request answers fault 600 "Duplicate Request ID" (HTTP 400).
- Only successful (2xx) answers are remembered. A fault is not: a write that failed (a stale
  SyncToken, a throttle, an injected 500) must be able to succeed when retried with the same id,
  which is exactly what a careful client does.
- Only POST requests use requestid (writes, batch, POST query); on a GET it is ignored.
- At most `max_per_realm` ids are kept per realm, least recently used forgotten first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from qb_mcp.emulator.faults import QBOFault

MAX_REQUEST_ID_LENGTH = 50


@dataclass(frozen=True, slots=True)
class Answer:
    """A remembered answer, replayed byte for byte (with its original `time`)."""

    status: int
    content_type: str
    body: bytes


def fingerprint(method: str, path: str, query: list[tuple[str, str]], body: bytes) -> str:
    """What makes two requests "the same request" for requestid purposes."""
    kept = sorted((k, v) for k, v in query if k.lower() not in ("requestid", "minorversion"))
    digest = hashlib.sha256()
    for part in (method.upper(), path.lower(), repr(kept)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def check_request_id(request_id: str) -> None:
    """Fault 2030-style validation of the id itself: at most 50 characters, not blank."""
    if not request_id.strip() or len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise QBOFault.one(
            "2030",
            "Invalid ID",
            f"requestid must be 1 to {MAX_REQUEST_ID_LENGTH} characters; got {len(request_id)}",
            element="requestid",
        )


def duplicate_request_id(request_id: str) -> QBOFault:
    return QBOFault.one(
        "600",
        "Duplicate Request ID",
        f"Request id {request_id} was already used for a different request",
        element="requestid",
    )


class RequestIds:
    """Per-realm memory of requestid -> (fingerprint, answer), bounded and least-recently-used."""

    def __init__(self, *, max_per_realm: int = 10_000) -> None:
        self.max_per_realm = max_per_realm
        self._realms: dict[str, OrderedDict[str, tuple[str, Answer]]] = {}
        self.replays = 0

    def lookup(self, realm_id: str, request_id: str, print_: str) -> Answer | None:
        """The answer to replay, None for a new id, or fault 600 for a reused one."""
        seen = self._realms.get(realm_id)
        if seen is None or request_id not in seen:
            return None
        stored_print, answer = seen[request_id]
        if stored_print != print_:
            raise duplicate_request_id(request_id)
        seen.move_to_end(request_id)
        self.replays += 1
        return answer

    def remember(self, realm_id: str, request_id: str, print_: str, answer: Answer) -> None:
        if not 200 <= answer.status < 300:
            return
        seen = self._realms.setdefault(realm_id, OrderedDict())
        seen[request_id] = (print_, answer)
        seen.move_to_end(request_id)
        while len(seen) > self.max_per_realm:
            seen.popitem(last=False)

    def count(self) -> int:
        return sum(len(seen) for seen in self._realms.values())

    def clear(self) -> None:
        self._realms.clear()
        self.replays = 0
