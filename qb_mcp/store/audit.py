"""The `audit_log` table: one row per write the MCP server made (for `qbo://audit/recent`).

The server appends after each write tool's call, successful or refused by QuickBooks, so that a
user can see what an assistant did in their books and quote the `intuit_tid` to Intuit support.
`by` says who asked: the bearer token's name or the JWT subject over HTTP (None over stdio and
with `--no-auth`, where the caller is whoever runs the process).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qb_mcp.store.connections import Executor

# Enough for "what did the assistant just do"; the table itself keeps everything.
DEFAULT_RECENT = 50
MAX_RECENT = 500


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One write: when, which tool, what it touched, and the ids to trace it at Intuit."""

    at: str
    realm_id: str
    tool: str
    entity: str
    entity_id: str | None
    request_id: str | None
    intuit_tid: str | None
    outcome: str
    by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "realm_id": self.realm_id,
            "tool": self.tool,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "request_id": self.request_id,
            "intuit_tid": self.intuit_tid,
            "outcome": self.outcome,
            "by": self.by,
        }


def now_text(epoch: float) -> str:
    """ISO 8601 UTC with seconds, the audit log's time format."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def append(
    ex: Executor,
    *,
    at: float,
    realm_id: str,
    tool: str,
    entity: str,
    entity_id: str | None,
    request_id: str | None,
    intuit_tid: str | None,
    outcome: str,
    by: str | None = None,
) -> None:
    """Record one write."""
    await ex.execute(
        "INSERT INTO audit_log (at, realm_id, tool, entity, entity_id, request_id, intuit_tid, "
        "outcome, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now_text(at), realm_id, tool, entity, entity_id, request_id, intuit_tid, outcome, by),
    )


async def recent(
    ex: Executor, *, realm_id: str | None = None, limit: int = DEFAULT_RECENT
) -> list[AuditEntry]:
    """The last `limit` writes, newest first (of one company with `realm_id`)."""
    limit = max(1, min(int(limit), MAX_RECENT))
    columns = "at, realm_id, tool, entity, entity_id, request_id, intuit_tid, outcome, actor"
    if realm_id is None:
        rows = await ex.fetchall(
            f"SELECT {columns} FROM audit_log ORDER BY id DESC LIMIT ?",  # noqa: S608 (constant)
            (limit,),
        )
    else:
        rows = await ex.fetchall(
            f"SELECT {columns} FROM audit_log WHERE realm_id = ? ORDER BY id DESC LIMIT ?",  # noqa: S608
            (realm_id, limit),
        )
    return [
        AuditEntry(
            at=str(row["at"]),
            realm_id=str(row["realm_id"]),
            tool=str(row["tool"]),
            entity=str(row["entity"]),
            entity_id=row["entity_id"],
            request_id=row["request_id"],
            intuit_tid=row["intuit_tid"],
            outcome=str(row["outcome"]),
            by=row["actor"],
        )
        for row in rows
    ]


async def count(ex: Executor) -> int:
    """How many writes are recorded."""
    row = await ex.fetchone("SELECT COUNT(*) FROM audit_log")
    return int(row[0]) if row else 0
