"""The one SQLite database: connections, idempotency ledger, events, audit log.

Layers above use the small repositories in this package (one module per table group) and never
write SQL of their own, so a PostgreSQL backend can replace this package alone.
"""

from qb_mcp.store.db import Database, open_database

__all__ = ["Database", "open_database"]
