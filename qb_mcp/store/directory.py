"""The `directory_objects` and `directory_sync` tables: each company's customers and items.

The objects are stored as QuickBooks sent them (JSON text); `qb_mcp.bookkeeping.directory` keeps
them current and searches them. Money in them is not read from here (lookups only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from qb_mcp.store.connections import Executor
from qb_mcp.store.db import Database

ENTITIES = ("Customer", "Item")


def _body(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


async def load(ex: Executor, realm_id: str, entity: str) -> list[dict[str, Any]]:
    """Every stored object of `entity` for the company."""
    rows = await ex.fetchall(
        "SELECT body FROM directory_objects WHERE realm_id = ? AND entity = ?",
        (realm_id, entity),
    )
    return [json.loads(row[0]) for row in rows]


async def save(
    db: Database,
    realm_id: str,
    entity: str,
    objects: Iterable[Mapping[str, Any]],
    *,
    deleted: Iterable[str] = (),
    replace: bool = False,
    synced_at: float | None = None,
) -> None:
    """Store changed objects and drop deleted ids, in one transaction; `replace` drops every
    other object of `entity` first (a full re-read); `synced_at` records the sync time too."""
    rows = [(realm_id, entity, str(obj.get("Id")), _body(obj)) for obj in objects]
    async with db.transaction() as tx:
        if replace:
            await tx.execute(
                "DELETE FROM directory_objects WHERE realm_id = ? AND entity = ?",
                (realm_id, entity),
            )
        await tx.executemany(
            "INSERT INTO directory_objects (realm_id, entity, entity_id, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (realm_id, entity, entity_id) DO UPDATE SET body = excluded.body",
            rows,
        )
        await tx.executemany(
            "DELETE FROM directory_objects WHERE realm_id = ? AND entity = ? AND entity_id = ?",
            [(realm_id, entity, entity_id) for entity_id in deleted],
        )
        if synced_at is not None:
            await tx.execute(
                "INSERT INTO directory_sync (realm_id, synced_at) VALUES (?, ?) "
                "ON CONFLICT (realm_id) DO UPDATE SET synced_at = excluded.synced_at",
                (realm_id, synced_at),
            )


async def synced_at(ex: Executor, realm_id: str) -> float | None:
    """When the company's index was last brought up to date (None: never)."""
    row = await ex.fetchone("SELECT synced_at FROM directory_sync WHERE realm_id = ?", (realm_id,))
    return None if row is None else float(row[0])
