"""The store: connections, idempotency ledger, events, audit log, tokens, limiter state.

Layers above use the small repositories in this package (one module per table group) and never
write SQL of their own. Each repository runs on the backend-neutral `Database`
(`qb_mcp.store.base`): the SQLite file in QBO_HOME by default, or the PostgreSQL database of
QBO_DATABASE_URL when several replicas share one store (`open_store` picks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qb_mcp.store.base import Database, store_errors
from qb_mcp.store.db import open_database

if TYPE_CHECKING:
    from qb_mcp.config import Settings

__all__ = ["Database", "open_database", "open_store", "store_errors", "store_exists", "store_name"]


def store_name(settings: Settings) -> str:
    """Where the store is, for messages: the SQLite file, or the URL without its password."""
    if settings.database_url is not None:
        from qb_mcp.config import redacted_url

        return redacted_url(settings.database_url)
    return str(settings.database_path)


def store_exists(settings: Settings) -> bool:
    """Whether there may be something stored: always for PostgreSQL (asking would connect),
    else whether the SQLite file exists (commands that only read do not create it)."""
    return settings.database_url is not None or settings.database_path.exists()


async def open_store(settings: Settings) -> Database:
    """The store `settings` name: PostgreSQL when QBO_DATABASE_URL is set, else the SQLite file
    in QBO_HOME. Either is opened with its schema brought up to date; a store that cannot be
    opened is one `ConfigError` line."""
    if settings.database_url is not None:
        from qb_mcp.store.postgres import open_postgres

        return await open_postgres(settings.database_url)
    return await open_database(settings.database_path)
