"""Input and output models of `recent_changes` (loaded on first use)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from qb_mcp.bookkeeping.common import EARLIEST_DATE, LATEST_DATE

# Kept in step with qb_mcp.webhooks.feed.MAX_LIMIT and webhooks.events.OPERATIONS (a test checks).
MAX_LIMIT = 500
Operation = Literal["Create", "Update", "Delete", "Merge", "Void", "Emailed"]


def _within_range(moment: datetime) -> datetime:
    # Stored times are UTC: a time whose UTC date is outside the range would overflow (year 1
    # minus an offset) or ask QuickBooks (catch-up) about a date it does not take.
    try:
        day = moment.astimezone(UTC).date()
    except OverflowError:
        day = None
    if day is None or not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(
            f"{moment.isoformat()} is outside the times this takes (UTC dates "
            f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()})"
        )
    return moment


class RecentChangesInput(BaseModel):
    """Filters over the stored events (all optional)."""

    model_config = ConfigDict(extra="forbid")

    entity: Annotated[
        str | None,
        Field(
            description="e.g. Invoice (any case)",
            max_length=64,
            pattern=r"^[A-Za-z][A-Za-z0-9]*$",
        ),
    ] = None
    operation: Annotated[Operation | None, Field(description="only this kind")] = None
    since: Annotated[
        Annotated[AwareDatetime, AfterValidator(_within_range)] | None,
        Field(description="e.g. 2026-11-24T09:00:00Z"),
    ] = None
    limit: Annotated[
        int,
        Field(description="most returned", ge=1, le=MAX_LIMIT),
    ] = 20
    catch_up: Annotated[
        bool,
        Field(description="first poll for changes webhooks missed; costs requests"),
    ] = False


class Change(BaseModel):
    """One change QuickBooks announced: ids only (read the object to see it)."""

    event_id: str = Field(description="read qbo://events/{event_id} for the changed object")
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: str = Field(description="when QuickBooks made the change (UTC)")
    source: Literal["legacy", "cloudevents", "cdc"] = Field(
        description="how we learnt of it: a webhook (either format) or change data capture"
    )
    merged_away_id: str | None = Field(
        default=None, description="for a Merge: the id merged into entity_id"
    )


class CatchUpSummary(BaseModel):
    """What an on-demand catch-up found."""

    realm_id: str
    changed_since: str | None = Field(default=None, description="the start of the window asked")
    seen: int = Field(description="objects QuickBooks reported changed")
    new_events: int = Field(description="of them, changes no event had yet")
    error: str | None = Field(default=None, description="why catch-up failed, if it did")


class RecentChangesResult(BaseModel):
    """Stored changes, newest first."""

    changes: list[Change]
    count: int
    caught_up: CatchUpSummary | None = None
    note: str | None = None
