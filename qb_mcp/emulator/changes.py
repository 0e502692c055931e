"""What the emulator's backend announces after every committed change (for webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Operation = Literal["Create", "Update", "Delete", "Merge", "Void", "Emailed"]


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    realm_id: str
    entity: str  # canonical name: "Customer", "Invoice", ...
    entity_id: str
    operation: Operation
    last_updated: datetime  # timezone-aware
    deleted_id: str | None = None  # for Merge: the id that was merged away
