"""Batch operations: what one item asks for, how items are chunked, and what each item got back.

QuickBooks takes at most 30 items per batch request (more gives fault 1040), answers HTTP 200 with
a `BatchItemResponse` per item (a `Fault` in the failed ones), and runs items in no guaranteed
order. So each item gets a `bId` (its position in the caller's list), answers are matched back by
`bId`, and results come out in input order. Each chunk of 30 is one write with its own
`requestid` (see `qb_mcp.qbo.client`): a chunk whose answer was lost is re-sent with the same id
and QuickBooks replays it, so no item is done twice.

To re-run only the items that failed, submit just those: they form different chunks with
different keys. Re-submitting the same chunk within the replay period returns the recorded
answer, failed items included, because re-sending it as new would repeat the items that worked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qb_mcp.errors import InvalidArgumentError, QBOError, ServerError

BATCH_LIMIT = 30
# QuickBooks voids these with a sparse update carrying the void option: over REST
# `?operation=update&include=void` (Intuit's Payment reference, "Void a payment"), in a batch
# operation "update" with optionsData "void". `operation=void` is the Invoice form only. A
# SalesReceipt is voided the same way (Intuit's SalesReceipt reference, "Void a salesreceipt").
VOID_BY_UPDATE = frozenset({"Payment", "SalesReceipt"})
Operation = Literal["create", "update", "delete", "void", "query"]


@dataclass(frozen=True)
class BatchOp:
    """One item of a batch. Build with the class methods; `entity` is None for a query."""

    operation: Operation
    entity: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None

    @classmethod
    def create(cls, entity: str, body: Mapping[str, Any]) -> BatchOp:
        """Create an object."""
        return cls("create", entity, body)

    @classmethod
    def update(
        cls, entity: str, entity_id: str, changes: Mapping[str, Any], *, sync_token: str
    ) -> BatchOp:
        """Sparse update: only `changes` are written (no read-first inside a batch)."""
        return cls(
            "update", entity, {**changes, "Id": entity_id, "SyncToken": sync_token, "sparse": True}
        )

    @classmethod
    def delete(cls, entity: str, entity_id: str, *, sync_token: str) -> BatchOp:
        """Delete a transaction."""
        return cls("delete", entity, {"Id": entity_id, "SyncToken": sync_token})

    @classmethod
    def void(cls, entity: str, entity_id: str, *, sync_token: str) -> BatchOp:
        """Void a transaction."""
        return cls("void", entity, {"Id": entity_id, "SyncToken": sync_token})

    @classmethod
    def select(cls, text: object) -> BatchOp:
        """A query (`str` or a `Query`) run inside the batch."""
        return cls("query", None, {}, str(text))


@dataclass(frozen=True)
class BatchResult:
    """What one item got: `entity` (the object, or the QueryResponse of a query) or `error`."""

    bid: str
    operation: Operation
    entity_name: str | None
    entity: dict[str, Any] | None = None
    error: QBOError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def chunks(count: int, size: int = BATCH_LIMIT) -> list[range]:
    """Index ranges of at most `size` items."""
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def request_body(items: Sequence[tuple[str, BatchOp]]) -> dict[str, Any]:
    """`{"BatchItemRequest": [...]}` for (bId, op) pairs whose entity names are canonical."""
    requests: list[dict[str, Any]] = []
    for bid, op in items:
        if op.operation == "query":
            requests.append({"bId": bid, "Query": op.query})
        elif op.operation == "void" and op.entity in VOID_BY_UPDATE:
            # In a batch QuickBooks voids a Payment as over REST, with an update that carries
            # the void option (node-quickbooks#150): operation "update", optionsData "void".
            requests.append(
                {
                    "bId": bid,
                    "operation": "update",
                    "optionsData": "void",
                    op.entity: {**op.body, "sparse": True},
                }
            )
        else:
            assert op.entity is not None
            requests.append({"bId": bid, "operation": op.operation, op.entity: dict(op.body)})
    return {"BatchItemRequest": requests}


def results(
    items: Sequence[tuple[str, BatchOp]],
    answer: Mapping[str, Any],
    *,
    intuit_tid: str | None,
    error_from_fault: Any,
) -> list[BatchResult]:
    """Match a `BatchItemResponse` back to the items, in the items' order."""
    by_bid: dict[str, Mapping[str, Any]] = {}
    responses = answer.get("BatchItemResponse")
    if isinstance(responses, list):
        for response in responses:
            if isinstance(response, Mapping) and isinstance(response.get("bId"), str):
                by_bid[response["bId"]] = response
    found: list[BatchResult] = []
    for bid, op in items:
        response = by_bid.get(bid)
        if response is None:
            found.append(
                failed(
                    bid,
                    op,
                    ServerError(
                        f"QuickBooks' batch answer has no item bId {bid}",
                        status_code=200,
                        intuit_tid=intuit_tid,
                    ),
                )
            )
            continue
        fault = response.get("Fault")
        if isinstance(fault, Mapping):
            error = error_from_fault(fault, status_code=200, intuit_tid=intuit_tid)
            found.append(failed(bid, op, error))
            continue
        key = "QueryResponse" if op.operation == "query" else op.entity
        value = response.get(key) if key else None
        if not isinstance(value, Mapping):
            value = {}
        found.append(BatchResult(bid, op.operation, op.entity, dict(value)))
    return found


def failed(bid: str, op: BatchOp, error: QBOError) -> BatchResult:
    """The result of an item whose chunk (or itself) failed."""
    return BatchResult(bid, op.operation, op.entity, None, error)


def check_op(op: object, index: int) -> BatchOp:
    """Refuse anything that is not a `BatchOp` with what its operation needs."""
    if not isinstance(op, BatchOp):
        raise InvalidArgumentError(f"batch item {index} must be a BatchOp, got {type(op).__name__}")
    if op.operation == "query":
        if not op.query or not op.query.strip():
            raise InvalidArgumentError(f"batch item {index}: the query is empty")
        return op
    if op.operation not in ("create", "update", "delete", "void"):
        raise InvalidArgumentError(f"batch item {index}: unknown operation {op.operation!r}")
    if not isinstance(op.body, Mapping) or not op.body:
        raise InvalidArgumentError(f"batch item {index}: the {op.operation} has an empty body")
    return op
