"""Change data capture: checking the request before it is sent, and flattening the answer.

QuickBooks looks back at most 30 days (`changedSince` older than that is refused), returns at most
1000 objects per answer, and shapes the answer as
`{"CDCResponse": [{"QueryResponse": [{"Customer": [...]}, {"Invoice": [...]}]}]}`; deleted objects
come back as `{"Id": ..., "status": "Deleted"}` stubs, which are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from qb_mcp.errors import InvalidArgumentError

MAX_LOOKBACK = timedelta(days=30)


def check_changed_since(changed_since: datetime, now: datetime) -> str:
    """The `changedSince` parameter; refuses naive, future and older-than-30-days times."""
    if not isinstance(changed_since, datetime):
        raise InvalidArgumentError("changed_since must be a datetime")
    if changed_since.tzinfo is None or changed_since.utcoffset() is None:
        raise InvalidArgumentError(
            "changed_since must carry a time zone (e.g. datetime.now(UTC) - timedelta(days=1))"
        )
    if changed_since > now:
        raise InvalidArgumentError("changed_since is in the future")
    if now - changed_since > MAX_LOOKBACK:
        raise InvalidArgumentError(
            "changed_since is more than 30 days ago; QuickBooks' change data capture looks back "
            "at most 30 days (use a query on MetaData.LastUpdatedTime for older changes)"
        )
    return changed_since.astimezone(UTC).isoformat(timespec="seconds")


def flatten(answer: Mapping[str, Any], entities: list[str]) -> dict[str, list[dict[str, Any]]]:
    """`{entity: [objects]}` for every entity asked for (an empty list when nothing changed)."""
    found: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
    by_lower = {entity.lower(): entity for entity in entities}
    for block in _list(answer.get("CDCResponse")):
        for response in _list(block.get("QueryResponse") if isinstance(block, Mapping) else None):
            if not isinstance(response, Mapping):
                continue
            for key, rows in response.items():
                name = by_lower.get(key.lower())
                if name is None:
                    continue  # startPosition, maxResults, totalCount
                found[name].extend(dict(row) for row in _list(rows) if isinstance(row, Mapping))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
