"""Parsing Intuit's two notification formats into one normalised event shape.

Legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
"operation", "lastUpdated", "deletedId"?}]}}]}`. CloudEvents (Intuit's 2026 format): a JSON array
of `{"specversion": "1.0", "id", "source", "type": "qbo.<entity>.<verb>.v1", "time",
"intuitaccountid", "intuitentityid", "datacontenttype", "data"}`.

A delivery is accepted whole or refused whole (`MalformedNotification`, answered 400 with nothing
stored): storing half a delivery and refusing the rest would make Intuit's retry re-send the half
we kept, and a reason logged per delivery is easier to act on than one per event.

Choices where Intuit is silent (QBO_API.md section 8):
- A time without an offset is refused: guessing its zone could misplace a change by hours, which
  would break de-duplication against change data capture.
- An unknown operation or CloudEvents verb is refused (400) rather than stored as something we do
  not understand; the reason is logged so an Intuit format change is noticed.
- `deletedId` (the id merged away) is read from the legacy entity and from CloudEvents `data`.
- An empty delivery (`[]`, or no entities) is valid and stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

SourceFormat = Literal["legacy", "cloudevents", "cdc"]

OPERATIONS = ("Create", "Update", "Delete", "Merge", "Void", "Emailed")
_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
# QBO's entity names, so that CloudEvents' lower-case `qbo.creditmemo...` reads as "CreditMemo".
# Names not listed are still accepted (Intuit adds entities), capitalised as best we can.
KNOWN_ENTITIES = (
    "Account",
    "Bill",
    "BillPayment",
    "Budget",
    "Class",
    "CompanyInfo",
    "CreditMemo",
    "Currency",
    "Customer",
    "Department",
    "Deposit",
    "Employee",
    "Estimate",
    "Invoice",
    "Item",
    "JournalCode",
    "JournalEntry",
    "Payment",
    "PaymentMethod",
    "Preferences",
    "Purchase",
    "PurchaseOrder",
    "RefundReceipt",
    "ReimburseCharge",
    "SalesReceipt",
    "TaxAgency",
    "Term",
    "TimeActivity",
    "Transfer",
    "Vendor",
    "VendorCredit",
)
_ENTITY_BY_LOWER = {name.lower(): name for name in KNOWN_ENTITIES}

_ENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_REALM = re.compile(r"^\d{1,32}$")
_CE_TYPE = re.compile(r"^qbo\.([a-z][a-z0-9]{0,63})\.([a-z]+)\.v\d{1,3}$")
_CE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)


def entity_name(name: str) -> str:
    """QBO's spelling of an entity name given in any case (`creditmemo` -> `CreditMemo`)."""
    return _ENTITY_BY_LOWER.get(name.lower(), name[:1].upper() + name[1:])


class MalformedNotification(ValueError):
    """The body is not a notification we understand; `reason` says why (no body content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Event:
    """One change, normalised: what happened to which object of which company, and when.

    `occurred_at` is UTC with microseconds (CloudEvents' nanoseconds are cut, not rounded).
    `version_second` is `occurred_at` cut to the whole second: with realm, entity, id and
    operation it names one version of one object, and is the de-duplication key shared by all
    three sources (QBO's MetaData.LastUpdatedTime has whole seconds only).
    """

    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime
    source: SourceFormat
    cloudevent_id: str | None = None
    deleted_id: str | None = None

    @property
    def version_second(self) -> int:
        return int(self.occurred_at.timestamp() // 1)

    @property
    def dedupe_key(self) -> str:
        """What makes two deliveries the same event: the CloudEvents id, else the version."""
        if self.cloudevent_id is not None:
            return f"ce:{self.cloudevent_id}"
        return self.version_key

    @property
    def version_key(self) -> str:
        """realm|entity|id|operation|UTC second: one change of one object."""
        return "|".join(
            (self.realm_id, self.entity, self.entity_id, self.operation, str(self.version_second))
        )

    @property
    def event_id(self) -> str:
        """Our public id for the event: stable, URI-safe, derived from `dedupe_key`."""
        return "evt_" + hashlib.sha256(self.dedupe_key.encode()).hexdigest()[:24]


def parse_time(value: Any, where: str) -> datetime:
    """An ISO time with an offset (`-0700`, `-07:00` or `Z`), up to nine fraction digits, as UTC."""
    if not isinstance(value, str):
        raise MalformedNotification(f"{where} must be a string time")
    match = _TIME.match(value.strip())
    if match is None:
        raise MalformedNotification(f"{where} is not an ISO time with an offset")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0").ljust(9, "0")[:6])
    if offset == "Z":
        zone = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise MalformedNotification(f"{where} has an impossible offset")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError:
        raise MalformedNotification(f"{where} is not a real date and time") from None
    return moment.astimezone(UTC)


def parse_body(body: bytes) -> list[Event]:
    """The events in a delivery's body (already verified); MalformedNotification if unusable."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedNotification("the body is not JSON") from None
    except RecursionError:
        raise MalformedNotification("the body nests too deeply") from None
    if isinstance(payload, list):
        return [_cloudevent(item, index) for index, item in enumerate(payload)]
    if isinstance(payload, Mapping) and "eventNotifications" in payload:
        return _legacy(payload["eventNotifications"])
    if isinstance(payload, Mapping) and "specversion" in payload:
        # A single (non-batched) CloudEvent: Intuit sends arrays, but the spec allows one.
        return [_cloudevent(payload, 0)]
    raise MalformedNotification("neither a legacy eventNotifications body nor a CloudEvents array")


def _legacy(notifications: Any) -> list[Event]:
    if not isinstance(notifications, list):
        raise MalformedNotification("eventNotifications must be a list")
    events: list[Event] = []
    for n, notification in enumerate(notifications):
        where = f"eventNotifications[{n}]"
        if not isinstance(notification, Mapping):
            raise MalformedNotification(f"{where} must be an object")
        realm_id = _realm(notification.get("realmId"), f"{where}.realmId")
        change = notification.get("dataChangeEvent")
        if not isinstance(change, Mapping):
            raise MalformedNotification(f"{where}.dataChangeEvent must be an object")
        entities = change.get("entities")
        if not isinstance(entities, list):
            raise MalformedNotification(f"{where}.dataChangeEvent.entities must be a list")
        for e, item in enumerate(entities):
            at = f"{where}.dataChangeEvent.entities[{e}]"
            if not isinstance(item, Mapping):
                raise MalformedNotification(f"{at} must be an object")
            operation = item.get("operation")
            if operation not in OPERATIONS:
                raise MalformedNotification(f"{at}.operation is not one of {', '.join(OPERATIONS)}")
            events.append(
                Event(
                    realm_id=realm_id,
                    entity=_entity(item.get("name"), f"{at}.name"),
                    entity_id=_id(item.get("id"), f"{at}.id"),
                    operation=operation,
                    occurred_at=parse_time(item.get("lastUpdated"), f"{at}.lastUpdated"),
                    source="legacy",
                    deleted_id=_deleted_id(item.get("deletedId"), operation, f"{at}.deletedId"),
                )
            )
    return events


def _cloudevent(item: Any, index: int) -> Event:
    at = f"event[{index}]"
    if not isinstance(item, Mapping):
        raise MalformedNotification(f"{at} must be an object")
    if item.get("specversion") != "1.0":
        raise MalformedNotification(f'{at}.specversion must be "1.0"')
    event_id = item.get("id")
    if not isinstance(event_id, str) or not _CE_ID.match(event_id):
        raise MalformedNotification(f"{at}.id must be a non-empty printable string")
    kind = item.get("type")
    match = _CE_TYPE.match(kind) if isinstance(kind, str) else None
    if match is None:
        raise MalformedNotification(f"{at}.type is not qbo.<entity>.<verb>.v<n>")
    entity_lower, verb = match.groups()
    operation = _VERBS.get(verb)
    if operation is None:
        raise MalformedNotification(f"{at}.type has an unknown verb")
    data = item.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise MalformedNotification(f"{at}.data must be an object")
    deleted = data.get("deletedId") if isinstance(data, Mapping) else None
    return Event(
        realm_id=_realm(item.get("intuitaccountid"), f"{at}.intuitaccountid"),
        entity=entity_name(entity_lower),
        entity_id=_id(item.get("intuitentityid"), f"{at}.intuitentityid"),
        operation=operation,
        occurred_at=parse_time(item.get("time"), f"{at}.time"),
        source="cloudevents",
        cloudevent_id=event_id,
        deleted_id=_deleted_id(deleted, operation, f"{at}.data.deletedId"),
    )


def _realm(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _REALM.match(value):
        raise MalformedNotification(f"{where} must be a numeric realm id")
    return value


def _entity(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ENTITY.match(value):
        raise MalformedNotification(f"{where} must be an entity name")
    return entity_name(value)


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise MalformedNotification(f"{where} must be an entity id")
    return value


def _deleted_id(value: Any, operation: str, where: str) -> str | None:
    if value is None:
        return None
    if operation != "Merge":
        return None  # meaningless outside a merge; ignore rather than refuse the delivery
    return _id(value, where)
