"""`recent_changes`: the changes QuickBooks announced (webhooks and change data capture).

Read-only for QuickBooks: with `catch_up` it asks QuickBooks' CDC endpoint and stores what no
webhook announced in our own event store (the same thing the periodic catch-up does), which is
a read of the books, so read-only mode keeps the tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.texts import tool_description
from qb_mcp.tools.base import AppState, ToolSpec

if TYPE_CHECKING:
    from qb_mcp.store.events import StoredEvent
    from qb_mcp.tools.events_models import Change, RecentChangesInput, RecentChangesResult

MODELS = "qb_mcp.tools.events_models"
NO_EVENTS = (
    "No changes match. Changes appear once the webhook listener receives QuickBooks' "
    "notifications for this company (`qb-mcp webhooks`, or `serve --transport http` with "
    "QBO_WEBHOOK_VERIFIER_TOKEN set), or after a catch-up (call again with catch_up=true)."
)


async def recent_changes(
    state: AppState, args: RecentChangesInput, _ctx: Context[Any, Any]
) -> RecentChangesResult:
    """Stored changes, newest first, after an optional catch-up."""
    from qb_mcp.store.events import format_time
    from qb_mcp.tools.events_models import CatchUpSummary, RecentChangesResult
    from qb_mcp.webhooks.feed import recent_events

    if state.realm_id is None:
        await state.qbo()  # the demo company's realm is known once it is opened
    realm = state.realm_id
    summary = None
    if args.catch_up:
        if realm is None or state.catch_up is None:
            raise InvalidArgumentError(
                "catch_up: this server cannot catch up now; set catch_up to false"
            )
        [result] = await state.catch_up.run_once(realm)
        summary = CatchUpSummary(
            realm_id=result.realm_id,
            changed_since=None
            if result.changed_since is None
            else format_time(result.changed_since),
            seen=result.seen,
            new_events=len(result.stored),
            error=result.error,
        )
    found = await recent_events(
        state.database,
        realm_id=realm,
        entity=args.entity,
        operation=args.operation,
        since=args.since,
        limit=args.limit,
    )
    changes = [_change(event) for event in found]
    return RecentChangesResult(
        changes=changes,
        count=len(changes),
        caught_up=summary,
        note=None if changes else NO_EVENTS,
    )


def _change(event: StoredEvent) -> Change:
    from qb_mcp.store.events import format_time
    from qb_mcp.tools.events_models import Change

    return Change(
        event_id=event.event_id,
        realm_id=event.realm_id,
        entity=event.entity,
        entity_id=event.entity_id,
        operation=event.operation,
        occurred_at=format_time(event.occurred_at),
        source=event.source,  # type: ignore[arg-type]
        merged_away_id=event.deleted_id,
    )


SPECS = (
    ToolSpec(
        name="recent_changes",
        title="Recent changes",
        description=tool_description("recent_changes"),
        input_model=f"{MODELS}:RecentChangesInput",
        output_model=f"{MODELS}:RecentChangesResult",
        body=recent_changes,
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    ),
)
