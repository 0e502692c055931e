"""The batch endpoint and change data capture (QBO_API.md section 7).

Batch: at most 30 items (more: 1040 for the whole request). Each item is its own unit of work, so
one item's fault changes nothing of the others; items run in the order given (QuickBooks promises
no order). Problems with the batch body itself (not an object, no list, an item without a bId or a
repeated bId) fault the whole request, since no per-item answer could be addressed; problems with
one item (unknown operation, no entity or two, a bad Query) become that item's Fault.

CDC: 30 days of look-back (older: 4002 "Error processing query", the closest documented fault;
QuickBooks' own code is undocumented), at most 1000 objects per answer (oldest changes first),
deleted objects as `{"status": "Deleted", "domain", "Id", "MetaData"}` stubs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from qb_mcp.emulator import values as v
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.pacific import PACIFIC
from qb_mcp.emulator.realms import Obj, Realm, clone

if TYPE_CHECKING:
    from qb_mcp.emulator.backend import Backend

MAX_ITEMS = 30
MAX_BID = 36  # QuickBooks' documented limit for a requestid inside a batch; bId choice alike
CDC_DAYS = 30
CDC_MAX = 1000
_OPERATIONS = ("create", "update", "delete", "void")
_ITEM_KEYS = frozenset({"bId", "operation", "Query", "optionsData"})
# Entities QuickBooks has that this emulator does not: answered per item with 500.
_KNOWN_ELSEWHERE = frozenset(
    {
        "Vendor",
        "Employee",
        "Account",
        "Bill",
        "BillPayment",
        "CreditMemo",
        "RefundReceipt",
        "Purchase",
        "PurchaseOrder",
        "JournalEntry",
        "Deposit",
        "TimeActivity",
        "Class",
        "Department",
        "Term",
        "TaxCode",
        "PaymentMethod",
        "Transfer",
        "VendorCredit",
        "Attachable",
    }
)


def run(backend: Backend, realm_id: str, body: Any) -> dict[str, Any]:
    """`{"BatchItemResponse": [...]}` for a `{"BatchItemRequest": [...]}` body."""
    from qb_mcp.emulator.backend import ENTITIES

    if not isinstance(body, Mapping):
        raise v.invalid_property("failed to parse json object; the batch body must be an object")
    v.only_known(body, frozenset({"BatchItemRequest"}), "IntuitBatchRequest")
    if body.get("BatchItemRequest") is None:
        raise v.required("BatchItemRequest")
    items = v.array(body["BatchItemRequest"], "BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise QBOFault.one(
            "1040",
            "Batch size exceeds allowed limit",
            f"Number of items in batch request {len(items)} exceeds the allowed limit of "
            f"{MAX_ITEMS}",
        )
    seen: set[str] = set()
    checked: list[tuple[str, Mapping[str, Any]]] = []
    for item in items:
        entry = v.obj(item, "BatchItemRequest")
        if entry.get("bId") is None:
            raise v.required("BatchItemRequest.bId")
        bid = v.text(entry["bId"], "bId", MAX_BID)
        if bid in seen:
            raise v.business(f"bId '{bid}' is used by more than one BatchItemRequest.", "bId")
        seen.add(bid)
        checked.append((bid, entry))
    answers: list[dict[str, Any]] = []
    for bid, entry in checked:
        try:
            answers.append({"bId": bid, **_one(backend, realm_id, entry, ENTITIES)})
        except QBOFault as fault:
            answers.append({"bId": bid, "Fault": fault.as_json_fault()})
    return {"BatchItemResponse": answers}


def _one(
    backend: Backend, realm_id: str, entry: Mapping[str, Any], entities: Mapping[str, str]
) -> dict[str, Any]:
    entity_keys = [key for key in entry if key not in _ITEM_KEYS]
    if "Query" in entry:
        if entity_keys or entry.get("operation") is not None:
            raise v.business("A batch item holds either a Query or an operation, not both.")
        return backend.query(realm_id, v.text(entry["Query"], "Query"))
    if entry.get("operation") is None:
        raise v.required("operation")
    operation = v.text(entry["operation"], "operation", 100)
    if operation not in _OPERATIONS:
        raise v.invalid_enum("operation", operation)
    if len(entity_keys) != 1:
        raise v.business(
            "A batch item with an operation must hold exactly one entity object, e.g. "
            '{"bId": "1", "operation": "create", "Customer": {...}}.'
        )
    key = entity_keys[0]
    if not isinstance(key, str) or key.lower() not in entities or key != entities[key.lower()]:
        if isinstance(key, str) and key in _KNOWN_ELSEWHERE:
            raise QBOFault.one(
                "500", "Unsupported Operation", f"The emulator does not support {key}."
            )
        raise v.invalid_property(
            f'Unrecognized field "{str(key)[:100]}" (class com.intuit.schema.finance.v3.'
            f"BatchItemRequest), not marked as ignorable",
            str(key)[:100],
        )
    body = v.obj(entry[key], key)
    # optionsData is the batch item's `include` (node-quickbooks#150: a Payment is voided in a
    # batch with operation "update" and optionsData "void", as over REST).
    options = entry.get("optionsData")
    include = None if options is None else v.text(options, "optionsData", 100)
    return backend.write(
        realm_id,
        key,
        dict(body),
        operation,  # type: ignore[arg-type]
        include=include,
    )


def parse_changed_since(raw: Any) -> datetime:
    """An ISO date or date-time; without an offset it is the company's local time."""
    text = v.text(raw, "changedSince", 100).strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise v.invalid_property(
            f"changedSince '{text[:60]}' is not an ISO 8601 date or date-time", "changedSince"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=PACIFIC)
    try:
        when.timestamp()
    except (OverflowError, ValueError):
        raise v.invalid_property(
            f"changedSince '{text[:60]}' is out of range", "changedSince"
        ) from None
    return when


def cdc(realm: Realm, entities: Any, changed_since: Any, now: float) -> dict[str, Any]:
    """`{"CDCResponse": [{"QueryResponse": [...]}]}` for one realm."""
    from qb_mcp.emulator.backend import ENTITIES

    if entities is None or not v.text(entities, "entities").strip():
        raise v.required("entities")
    names: list[str] = []
    for raw in v.text(entities, "entities", 1000).split(","):
        token = raw.strip()
        if token.lower() not in ENTITIES:
            raise v.invalid_enum(
                "entities",
                f"{token[:60]} (supported: {', '.join(sorted(ENTITIES.values()))})",
            )
        name = ENTITIES[token.lower()]
        if name not in names:
            names.append(name)
    if changed_since is None:
        raise v.required("changedSince")
    since = parse_changed_since(changed_since)
    earliest = datetime.fromtimestamp(now, UTC) - timedelta(days=CDC_DAYS)
    if since < earliest:
        raise QBOFault.one(
            "4002",
            "Error processing query",
            f"QueryProcessingError: changedSince must be within the last {CDC_DAYS} days",
            element="changedSince",
        )
    cutoff = since.timestamp()
    changed: list[tuple[float, int, str, Obj]] = []
    for order, name in enumerate(names):
        stamps = realm.stamps.get(name, {})
        for entity_id, stamp in stamps.items():
            if stamp < cutoff:
                continue
            obj = realm.objects.get(name, {}).get(entity_id) or realm.deleted.get(name, {}).get(
                entity_id
            )
            if obj is not None:
                changed.append((stamp, order, name, obj))
    changed.sort(key=lambda row: (row[0], row[1]))
    kept = changed[:CDC_MAX]
    responses: list[dict[str, Any]] = []
    for name in names:
        rows = [clone(obj) for _, _, n, obj in kept if n == name]
        rows.sort(key=lambda o: (len(o["Id"]), o["Id"]))
        if rows:
            responses.append({name: rows, "startPosition": 1, "maxResults": len(rows)})
        else:
            responses.append({})
    return {"CDCResponse": [{"QueryResponse": responses}]}
