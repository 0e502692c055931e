"""The async QuickBooks Online client: one request pipeline, and the operations built on it.

The pipeline (`_send`), for every request:
  token from the TokenSource -> `Authorization: Bearer`, `Accept: application/json`,
  `minorversion=75` -> a slot from the realm's limiter (shared by every client of the realm in
  the process, and through the database with the other processes on it) -> the request, with a timeout -> `intuit_tid` kept -> the answer mapped by
  `faults.error_from_response` (the one mapping) -> retried per `RetryPolicy` (the one policy) ->
  a 401 refreshes the token once (`refresh_after_rejection`) and is tried once more.
No token or Authorization header is ever logged or put in an exception.

Writes that cannot double (DESIGN.md invariant 2). Every write (create, update, delete, void,
deactivate, each batch chunk) carries a `requestid`:
- the caller's `idempotency_key` (1-36 characters), or a key derived from the realm, operation,
  entity and normalised body (UUID-shaped; see `qb_mcp.qbo.idempotency`);
- recorded in the ledger as *pending*, with a hash of the request, BEFORE it is sent, and marked
  *done* (with the answer body) or *failed* (with the fault code) after;
- every retry of the request re-sends the same id, so QuickBooks replays instead of writing again.
At the start of a write the ledger is consulted for the key:
- nothing recorded: send generation 0 (the key itself);
- *pending* (an earlier attempt's outcome is unknown: a timeout, a reset, a 5xx, a crash): send
  the same id again, which settles it (QuickBooks replays the original answer if it committed);
- *done* with the same request hash: return the recorded answer without sending, for 24 hours
  for a derived key (`replay_window`; so two genuinely identical writes a day apart are not
  merged) and forever for an explicit key; after that, a derived key sends a new generation;
- *failed* (QuickBooks refused it, nothing was written): send a new generation (a fresh id
  derived from the key), since re-sending the refused id could only repeat the refusal;
- the same key with a different request hash: refused (InvalidArgumentError), nothing sent.
The request hash identifies the intent (operation, entity, normalised body without SyncToken),
so an explicit key survives the SyncToken change of a stale-object re-apply; a derived key
includes the SyncToken, so setting a field back to an earlier value is never "replayed".
Two tasks running the same write at once share the id; QuickBooks replays for the second.

Stale objects (fault 5010) on update: the object is re-read and the change re-applied only if
none of the fields it touches changed since the caller's view (`expected`, or our own read when
no SyncToken was given); otherwise `ConflictError` names the fields. A field already holding the
value we meant to write does not count as a conflict.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx2

from qb_mcp import money
from qb_mcp.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    QBOError,
    ServerError,
    StaleObjectError,
    TransportError,
)
from qb_mcp.qbo import batch as batching
from qb_mcp.qbo import cdc as cdc_
from qb_mcp.qbo import faults, wire
from qb_mcp.qbo.batch import BatchOp, BatchResult
from qb_mcp.qbo.idempotency import (
    check_key,
    derive_key,
    generation_key,
    key_of_hash,
    normalise,
    request_hash,
)
from qb_mcp.qbo.limiter import RealmLimiter, limiter_for
from qb_mcp.qbo.models import ENTITY_NAMES
from qb_mcp.qbo.query import Query, paginate
from qb_mcp.qbo.retry import RetryPolicy, is_throttle
from qb_mcp.qbo.token_source import TokenSource
from qb_mcp.store.ledger import Ledger, LedgerEntry, LedgerStore, MemoryLedger

if TYPE_CHECKING:
    from qb_mcp.config import Settings
    from qb_mcp.store.db import Database

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
REPLAY_WINDOW = 86_400.0  # how long a derived key's recorded answer is replayed (24 h)
STALE_RETRIES = 3  # re-applies after 5010 before giving up (a very busy object)

# Name lists cannot be deleted, only made inactive; transactions are deleted or voided.
NAME_LISTS = frozenset({"Customer", "Item"})
TRANSACTIONS = frozenset(
    {"Estimate", "Invoice", "Payment", "SalesReceipt", "CreditMemo", "RefundReceipt"}
)
VOIDABLE = frozenset({"Invoice", "Payment", "SalesReceipt"})
WRITABLE = NAME_LISTS | TRANSACTIONS
# Money fields checked (and turned into Decimal) before sending: cents only, never negative.
AMOUNT_FIELDS = frozenset({"Amount", "TotalAmt"})
QUANTITY_FIELDS = frozenset({"Qty"})
PRICE_FIELDS = frozenset({"UnitPrice"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_REALM = re.compile(r"^\d{1,32}$")
_REPORT = re.compile(r"^[A-Za-z]{1,60}$")

WriteOp = Literal["create", "update", "delete", "void", "batch", "send"]
# Transactions QuickBooks e-mails with `POST {entity}/{id}/send` (the emulator sends invoices).
SENDABLE = frozenset({"Invoice", "Estimate", "SalesReceipt"})
# Sales forms QuickBooks prints with `GET {entity}/{id}/pdf` (each entity's reference).
PRINTABLE = frozenset({"Invoice", "Estimate", "SalesReceipt", "CreditMemo", "RefundReceipt"})
PDF_TYPE = "application/pdf"


class QBOClient:
    """An async client for one QuickBooks company (realm)."""

    def __init__(
        self,
        *,
        realm_id: str,
        token_source: TokenSource,
        base_url: str,
        database: Database | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        limiter: RealmLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        replay_window: float = REPLAY_WINDOW,
    ) -> None:
        if not isinstance(realm_id, str) or not _REALM.match(realm_id):
            raise InvalidArgumentError(
                f"realm_id must be a numeric QuickBooks realm id; got {realm_id!r}"
            )
        if timeout <= 0:
            raise InvalidArgumentError("timeout must be positive")
        self.realm_id = realm_id
        self._tokens = token_source
        self._limiter = limiter or limiter_for(realm_id, database=database)
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._timeout = timeout
        self._replay_window = replay_window
        self._ledger: LedgerStore = (
            Ledger(database, clock=clock) if database is not None else MemoryLedger(clock=clock)
        )
        self._http = httpx2.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx2.Timeout(timeout),
            follow_redirects=False,
        )
        self.last_intuit_tid: str | None = None

    def now(self) -> float:
        """The client's clock reading, epoch seconds (the one its checks use)."""
        return self._clock()

    @property
    def limiter(self) -> RealmLimiter:
        """The realm's request budget (shared with every other client of the realm)."""
        return self._limiter

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        token_source: TokenSource,
        realm_id: str | None = None,
        database: Database | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> QBOClient:
        """A client for `settings.realm_id` (or `realm_id`) at `settings.resolved_api_base_url`.

        The emulator run in process has no URL: pass its ASGI transport and the client uses
        `http://emulator`.
        """
        realm = realm_id or settings.realm_id
        if realm is None:
            raise ConfigError("QBO_REALM_ID is not set: which company should the client use?")
        base_url = settings.resolved_api_base_url
        if base_url is None:
            if transport is None:
                raise ConfigError(
                    "QBO_API_BASE_URL is not set: the emulator environment needs its URL "
                    "(or an in-process transport)"
                )
            base_url = "http://emulator"
        return cls(
            realm_id=realm,
            token_source=token_source,
            base_url=base_url,
            database=database,
            transport=transport,
            **options,
        )

    async def __aenter__(self) -> QBOClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    # ---- reads ---------------------------------------------------------------------------------

    async def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        """Read one object by Id."""
        name = canonical_entity(entity)
        _check_id(entity_id)
        answer = await self._json("GET", f"{name.lower()}/{entity_id}")
        return _member(answer, name)

    async def query(self, text: str | Query) -> dict[str, Any]:
        """Run one query; returns the `QueryResponse` object (`{}` when nothing matched)."""
        answer = await self._query_answer(str(text))
        response = answer.get("QueryResponse")
        return dict(response) if isinstance(response, Mapping) else {}

    def query_all(self, query: Query, *, page_size: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every row of `query`, page by page (STARTPOSITION/MAXRESULTS, up to 1000 a page)."""
        return paginate(self._query_answer, query, page_size=page_size)

    async def company_info(self) -> dict[str, Any]:
        """The company's CompanyInfo object."""
        answer = await self._json("GET", f"companyinfo/{self.realm_id}")
        return _member(answer, "CompanyInfo")

    async def report(self, name: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """`GET reports/{name}` (AgedReceivables, ProfitAndLoss, ...): QuickBooks' report object,
        Header, Columns and Rows, as answered."""
        if not isinstance(name, str) or not _REPORT.match(name):
            raise InvalidArgumentError(f"report name {name!r} is not a QuickBooks report name")
        return await self._json("GET", f"reports/{name}", params=dict(params or {}))

    async def pdf(self, entity: str, entity_id: str) -> bytes:
        """A sales form as QuickBooks prints it: `GET {entity}/{id}/pdf`, `Accept:
        application/pdf` (Intuit's Invoice reference, "Get an invoice as PDF"). The bytes come
        through the same pipeline as JSON (limiter, retries, fault mapping)."""
        name = canonical_entity(entity)
        if name not in PRINTABLE:
            raise InvalidArgumentError(f"{name} has no PDF; pdf works on {sorted(PRINTABLE)}")
        _check_id(entity_id)
        raw, tid = await self._send("GET", f"{name.lower()}/{entity_id}/pdf", accept=PDF_TYPE)
        if not raw.startswith(b"%PDF-"):
            raise ServerError(
                "QuickBooks answered the PDF request with something that is not a PDF",
                status_code=200,
                intuit_tid=tid,
            )
        return raw

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Objects of `entities` changed since `changed_since` (at most 30 days ago)."""
        if isinstance(entities, str) or not entities:
            raise InvalidArgumentError("entities must be a non-empty list of entity names")
        names = list(dict.fromkeys(canonical_entity(entity) for entity in entities))
        since = cdc_.check_changed_since(changed_since, datetime.fromtimestamp(self._clock(), UTC))
        answer = await self._json(
            "GET", "cdc", params={"entities": ",".join(names), "changedSince": since}
        )
        return cdc_.flatten(answer, names)

    # ---- writes --------------------------------------------------------------------------------

    async def create(
        self, entity: str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Create an object; a retry (or the same call again) never creates a second one."""
        name = canonical_entity(entity, writable=True)
        prepared = prepare_body(body, what=f"{name} body")
        if "Id" in prepared:
            raise InvalidArgumentError(f"a new {name} has no Id; use update() to change one")
        answer, _ = await self._write("create", name, name.lower(), prepared, idempotency_key)
        return _member(answer, name)

    async def update(
        self,
        entity: str,
        entity_id: str,
        changes: Mapping[str, Any],
        *,
        sync_token: str | None = None,
        expected: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Sparse update: write only `changes`.

        `sync_token`: the SyncToken the caller holds; without one the object is read first.
        `expected`: the object (or just the fields) as the caller last saw it; its SyncToken is
        used when `sync_token` is not given. On a stale SyncToken (5010) the object is re-read
        and the change re-applied only if the fields in `changes` still hold the values in
        `expected` (or in our own read); else `ConflictError` names the changed fields. With a
        `sync_token` and no `expected`, nothing can be compared and the `StaleObjectError` is
        raised as is.
        """
        name = canonical_entity(entity, writable=True)
        _check_id(entity_id)
        prepared = prepare_body(changes, what=f"{name} changes")
        if not prepared:
            raise InvalidArgumentError("changes is empty: nothing to update")
        reserved = sorted(set(prepared) & {"Id", "SyncToken", "sparse"})
        if reserved:
            raise InvalidArgumentError(
                f"changes must not hold {', '.join(reserved)}: pass entity_id and sync_token"
            )
        if expected is not None and not isinstance(expected, Mapping):
            raise InvalidArgumentError("expected must be a mapping of field -> value seen")
        if sync_token is None and expected is not None and expected.get("SyncToken") is not None:
            sync_token = str(expected["SyncToken"])
        seen: Mapping[str, Any] | None = expected
        if sync_token is None:
            current = await self.get(name, entity_id)
            sync_token = _sync_token(current, name, entity_id)
            seen = expected if expected is not None else current
        else:
            _check_sync_token(sync_token)
        for attempt in range(STALE_RETRIES + 1):
            body = {**prepared, "Id": entity_id, "SyncToken": sync_token, "sparse": True}
            try:
                answer, _ = await self._write("update", name, name.lower(), body, idempotency_key)
                return _member(answer, name)
            except StaleObjectError:
                if seen is None or attempt == STALE_RETRIES:
                    raise
            current = await self.get(name, entity_id)
            changed = [
                field
                for field, value in prepared.items()
                if normalise(current.get(field))
                not in (normalise(seen.get(field)), normalise(value))
            ]
            if changed:
                raise ConflictError(
                    f"{name} {entity_id} was changed by someone else since it was read: "
                    f"{', '.join(changed)} no longer hold the values seen; read it again and "
                    "decide",
                    entity=name,
                    entity_id=entity_id,
                    changed=changed,
                )
            log.info("%s %s was stale; re-applying %s", name, entity_id, ", ".join(prepared))
            sync_token = _sync_token(current, name, entity_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def delete(
        self,
        entity: str,
        entity_id: str,
        *,
        sync_token: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Delete a transaction (Estimate, Invoice, Payment): `{"status": "Deleted", "Id": ...}`."""
        return await self._remove("delete", entity, entity_id, sync_token, idempotency_key)

    async def void(
        self,
        entity: str,
        entity_id: str,
        *,
        sync_token: str | None = None,
        private_note: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Void a transaction (Invoice, Payment, SalesReceipt): amounts become 0, the record
        stays. `private_note` goes with the void of a Payment or SalesReceipt (a sparse update,
        which QuickBooks prefixes with "Voided"); an Invoice's `operation=void` takes none."""
        return await self._remove(
            "void", entity, entity_id, sync_token, idempotency_key, private_note=private_note
        )

    async def send(
        self,
        entity: str,
        entity_id: str,
        *,
        send_to: str | None = None,
        sync_token: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """E-mail a transaction: `POST {entity}/{id}/send[?sendTo=]`, an empty octet-stream body
        (Intuit's Invoice reference, "Send an invoice"). QuickBooks does not deduplicate sends,
        so the requestid is derived from the object, its `sync_token` and the address: a retry
        of one send is replayed, a send after the object changed is a new one."""
        name = canonical_entity(entity, writable=True)
        if name not in SENDABLE:
            raise InvalidArgumentError(
                f"{name} cannot be e-mailed; send works on {sorted(SENDABLE)}"
            )
        _check_id(entity_id)
        params = {"sendTo": send_to} if send_to else {}
        basis = {"Id": entity_id, "SyncToken": sync_token or "", "sendTo": send_to or ""}
        answer, _ = await self._write(
            "send",
            name,
            f"{name.lower()}/{entity_id}/send",
            basis,
            idempotency_key,
            params=params,
            content=b"",
            content_type="application/octet-stream",
        )
        return _member(answer, name)

    async def deactivate(
        self,
        entity: str,
        entity_id: str,
        *,
        sync_token: str | None = None,
        expected: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Make a name-list object (Customer, Item) inactive: QuickBooks never deletes them."""
        name = canonical_entity(entity, writable=True)
        if name not in NAME_LISTS:
            raise InvalidArgumentError(
                f"{name} is a transaction: delete() or void() it; deactivate() is for "
                f"{', '.join(sorted(NAME_LISTS))}"
            )
        return await self.update(
            name,
            entity_id,
            {"Active": False},
            sync_token=sync_token,
            expected=expected,
            idempotency_key=idempotency_key,
        )

    async def batch(
        self, items: Sequence[BatchOp], *, idempotency_key: str | None = None
    ) -> list[BatchResult]:
        """Run `items` through the batch API, 30 per request; one result per item, in order.

        Every item is checked before anything is sent. A chunk that fails as a whole (after its
        retries) gives each of its items that error; other chunks are unaffected.
        """
        given: object = items  # callers outside mypy's reach pass anything
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
            raise InvalidArgumentError("items must be a list of BatchOp")
        if idempotency_key is not None:
            check_key(idempotency_key)
        prepared: list[tuple[str, BatchOp]] = []
        for index, item in enumerate(items):
            op = batching.check_op(item, index)
            if op.operation != "query":
                assert op.entity is not None
                name = canonical_entity(op.entity, writable=True)
                _check_operation(op.operation, name)
                body = prepare_body(op.body, what=f"batch item {index}")
                if op.operation != "create":
                    _check_id(str(body.get("Id", "")))
                    _check_sync_token(body.get("SyncToken"))
                op = BatchOp(op.operation, name, body)
            prepared.append((str(index), op))
        if not prepared:
            return []
        spans = batching.chunks(len(prepared))
        outcomes = await asyncio.gather(
            *(
                self._batch_chunk(
                    [prepared[i] for i in span],
                    _chunk_key(idempotency_key, number, len(spans)),
                )
                for number, span in enumerate(spans)
            )
        )
        return [result for outcome in outcomes for result in outcome]

    async def _batch_chunk(
        self, items: list[tuple[str, BatchOp]], key: str | None
    ) -> list[BatchResult]:
        body = batching.request_body(items)
        try:
            if all(op.operation == "query" for _, op in items):
                # Reads change nothing: no requestid, no ledger, and never a day-old replay.
                raw, tid = await self._send("POST", "batch", content=wire.encode(body), batch=True)
                answer = _decode(raw, tid)
            else:
                answer, tid = await self._write("batch", "Batch", "batch", body, key, batch=True)
        except QBOError as error:
            return [batching.failed(bid, op, error) for bid, op in items]
        return batching.results(
            items,
            answer,
            intuit_tid=tid,
            error_from_fault=faults.error_from_fault,
        )

    async def _remove(
        self,
        operation: Literal["delete", "void"],
        entity: str,
        entity_id: str,
        sync_token: str | None,
        idempotency_key: str | None,
        *,
        private_note: str | None = None,
    ) -> dict[str, Any]:
        name = canonical_entity(entity, writable=True)
        _check_operation(operation, name)
        _check_id(entity_id)
        by_update = operation == "void" and name in batching.VOID_BY_UPDATE
        if private_note is not None and not (by_update and isinstance(private_note, str)):
            raise InvalidArgumentError(
                f"private_note goes only with the void of {', '.join(batching.VOID_BY_UPDATE)}"
            )
        read_first = sync_token is None
        if sync_token is not None:
            _check_sync_token(sync_token)
        for attempt in range(2):
            if read_first:
                sync_token = _sync_token(await self.get(name, entity_id), name, entity_id)
            body: dict[str, Any] = {"Id": entity_id, "SyncToken": sync_token}
            params: dict[str, str] = {"operation": operation}
            if by_update:
                body["sparse"] = True
                params = {"operation": "update", "include": "void"}
                if private_note is not None:
                    body["PrivateNote"] = private_note
            try:
                answer, _ = await self._write(
                    operation, name, name.lower(), body, idempotency_key, params=params
                )
                return _member(answer, name)
            except StaleObjectError:
                # Only our own read can be stale in between; a token the caller gave means the
                # object changed since they saw it, which is theirs to judge.
                if not read_first or attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- the idempotent write ------------------------------------------------------------------

    async def _write(
        self,
        operation: WriteOp,
        entity: str,
        path: str,
        body: Mapping[str, Any],
        idempotency_key: str | None,
        *,
        params: Mapping[str, str] | None = None,
        batch: bool = False,
        content: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[dict[str, Any], str | None]:
        """Send one write under the ledger's rules (module docstring).

        `body` identifies the write (key and request hash); it is also what is sent, unless
        `content` is given (a send's empty body). Returns the answer body and its intuit_tid
        (the recorded ones when replayed).
        """
        if content is None:
            content = wire.encode(body)
        explicit = idempotency_key is not None
        unsigned = _without_token(body)
        intent = request_hash(self.realm_id, operation, entity, unsigned)
        if idempotency_key is not None:
            base_key = check_key(idempotency_key)
        elif len(unsigned) == len(body):
            base_key = key_of_hash(intent)  # no SyncToken (a batch, a create): the same hash
        else:
            base_key = derive_key(self.realm_id, operation, entity, body)
        now = self._clock()
        latest = await self._ledger.latest(self.realm_id, base_key)
        generation = 0
        if latest is not None:
            if latest.request_hash != intent:
                raise InvalidArgumentError(
                    f"idempotency key {base_key!r} was already used for a different request "
                    f"({latest.operation} {latest.entity}); use a new key for a new write"
                )
            if latest.status == "done" and latest.response is not None:
                if latest.explicit or now - latest.created_at < self._replay_window:
                    log.debug(
                        "%s %s: replaying the recorded answer of requestid %s",
                        operation,
                        entity,
                        latest.request_id,
                    )
                    self.last_intuit_tid = latest.intuit_tid
                    return _object(wire.decode(latest.response.encode())), latest.intuit_tid
                generation = latest.generation + 1
            elif latest.status == "pending":
                generation = latest.generation  # settle it: same id again
            else:
                generation = latest.generation + 1
        request_id = generation_key(base_key, generation)
        await self._ledger.begin(
            LedgerEntry(
                realm_id=self.realm_id,
                request_id=request_id,
                base_key=base_key,
                generation=generation,
                explicit=explicit,
                operation=operation,
                entity=entity,
                request_hash=intent,
                status="pending",
                created_at=now,
                updated_at=now,
            )
        )
        try:
            raw, tid = await self._send(
                "POST",
                path,
                params={**(params or {}), "requestid": request_id},
                content=content,
                batch=batch,
                content_type=content_type,
            )
        except QBOError as error:
            if error.status_code is not None and not self._retry.is_retryable(error):
                # QuickBooks answered and refused: nothing was written.
                await self._ledger.fail(self.realm_id, request_id, error.code, error.intuit_tid)
            # Otherwise the outcome is unknown and the entry stays pending: the next attempt
            # re-sends this id and QuickBooks replays whatever happened.
            raise
        answer = _decode(raw, tid)
        await self._ledger.complete(self.realm_id, request_id, raw.decode("utf-8"), tid)
        return answer, tid

    # ---- the pipeline --------------------------------------------------------------------------

    async def _query_answer(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("the query is empty")
        return await self._json("GET", "query", params={"query": text})

    async def _json(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        raw, tid = await self._send(method, path, params=params)
        return _decode(raw, tid)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        batch: bool = False,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[bytes, str | None]:
        """One request through the whole pipeline; returns (body, intuit_tid) of a 2xx answer."""
        url = f"/v3/company/{self.realm_id}/{path}"
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        attempt = 0
        throttled = 0
        refreshed = False
        token: str | None = None
        while True:
            attempt += 1
            error: QBOError
            retry_after: float | None = None
            response: httpx2.Response | None = None
            async with self._limiter.slot(batch=batch):
                # The token is taken only once a slot is ours: a wait for the limiter can outlast
                # a token's remaining life, and a stale one would cost a 401 and a refresh.
                if token is None:
                    token = await self._tokens.access_token(self.realm_id)
                headers = {"Authorization": f"Bearer {token}", "Accept": accept}
                if content is not None:
                    headers["Content-Type"] = content_type
                try:
                    response = await self._http.request(
                        method, url, params=query, content=content, headers=headers
                    )
                except httpx2.TimeoutException as exc:
                    error = TransportError(
                        f"QuickBooks did not answer {method} {path} within {self._timeout:g} s "
                        f"({type(exc).__name__})"
                    )
                except httpx2.TransportError as exc:
                    error = TransportError(
                        f"the connection to QuickBooks failed during {method} {path} "
                        f"({type(exc).__name__})"
                    )
            if response is not None:
                tid = response.headers.get("intuit_tid")
                self.last_intuit_tid = tid
                log.debug("%s %s -> %s (intuit_tid %s)", method, path, response.status_code, tid)
                mapped = faults.error_from_response(
                    response.status_code, response.headers, response.content
                )
                if mapped is None:
                    return response.content, tid
                error = mapped
                retry_after = self._retry.retry_after(response.headers.get("retry-after"))
            else:
                log.debug("%s %s -> %s", method, path, error)
            if isinstance(error, AuthenticationError) and not refreshed:
                # Refresh once and try once more; a second 401 is final.
                refreshed = True
                token = await self._tokens.refresh_after_rejection(self.realm_id, token)
                attempt -= 1
                continue
            throttle = is_throttle(error)
            throttled += throttle
            if not self._retry.should_retry(error, attempt, throttled=throttled):
                raise error
            delay = self._retry.delay(attempt, error, retry_after=retry_after)
            # At INFO with the wait as data: the server forwards these to the MCP client, whose
            # call would otherwise look hung for the minute QuickBooks asks us to wait.
            log.info(
                "%s %s %s; retrying in %.1f s",
                method,
                path,
                "was throttled by QuickBooks (rate limit)"
                if throttle
                else f"failed ({type(error).__name__})",
                delay,
                extra={
                    "qbo_wait_seconds": delay,
                    "qbo_wait_reason": "throttled" if throttle else "retry",
                },
            )
            await self._retry.sleep(delay)
            token = None


# ---- input checks --------------------------------------------------------------------------------

_ENTITY_BY_LOWER = {name.lower(): name for name in ENTITY_NAMES}


def canonical_entity(entity: str, *, writable: bool = False) -> str:
    """`customer` -> `Customer`; unknown (or, for writes, read-only) entities are refused."""
    name = _ENTITY_BY_LOWER.get(entity.strip().lower()) if isinstance(entity, str) else None
    if name is None:
        raise InvalidArgumentError(
            f"unknown QuickBooks entity {entity!r}; expected one of {', '.join(ENTITY_NAMES)}"
        )
    if writable and name not in WRITABLE:
        raise InvalidArgumentError(f"{name} cannot be written through this client")
    return name


def prepare_body(body: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """A copy of `body` with amounts and quantities checked and made `Decimal`.

    Amount/TotalAmt: cents only and not negative (`money.parse_amount`); Qty: not negative;
    UnitPrice: at most 7 places. Floats anywhere are refused, as is anything not JSON.
    """
    if not isinstance(body, Mapping):
        raise InvalidArgumentError(f"{what} must be a mapping of QuickBooks fields")
    checked = _check_value(body, what)
    assert isinstance(checked, dict)
    return checked


def _check_value(value: Any, where: str, key: str | None = None) -> Any:
    # One walk checks what `wire.encode` will later be asked to send (floats, non-JSON values)
    # and makes the amounts Decimal: encoding each body here as well doubled a sync's JSON work.
    if isinstance(value, Mapping):
        checked: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgumentError(f"{where}: object keys must be strings, got {k!r}")
            checked[k] = _check_value(v, f"{where}.{k}", k)
        return checked
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [_check_value(item, f"{where}[{index}]", key) for index, item in enumerate(value)]
    if key in AMOUNT_FIELDS and value is not None:
        return money.parse_amount(value, field=where)
    if key in QUANTITY_FIELDS and value is not None:
        return money.parse_quantity(value, field=where)
    if key in PRICE_FIELDS and value is not None:
        return money.parse_quantity(value, field=where, allow_negative=True)
    wire.check_scalar(value, where)
    return value


def _check_operation(operation: str, name: str) -> None:
    if operation == "delete" and name not in TRANSACTIONS:
        raise InvalidArgumentError(
            f"{name} cannot be deleted in QuickBooks; use deactivate() to make it inactive"
        )
    if operation == "void" and name not in VOIDABLE:
        raise InvalidArgumentError(
            f"{name} cannot be voided; void works on {', '.join(sorted(VOIDABLE))}"
        )


def _check_id(entity_id: object) -> None:
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise InvalidArgumentError("entity_id is empty")
    if not _ID.match(entity_id):
        raise InvalidArgumentError(f"entity_id {entity_id!r} is not a QuickBooks Id")


def _check_sync_token(sync_token: object) -> None:
    if not isinstance(sync_token, str) or not sync_token.isdigit():
        raise InvalidArgumentError(f"sync_token must be a string of digits; got {sync_token!r}")


def _chunk_key(key: str | None, number: int, count: int) -> str | None:
    if key is None or count == 1:
        return key
    return generation_key(f"{key}#chunk{number}", 1)


# ---- answers -------------------------------------------------------------------------------------


def _decode(raw: bytes, tid: str | None) -> dict[str, Any]:
    try:
        return _object(wire.decode(raw))
    except ValueError:
        raise ServerError(
            "QuickBooks answered 2xx with a body that is not a JSON object",
            status_code=200,
            intuit_tid=tid,
        ) from None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _member(answer: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = answer.get(name)
    if not isinstance(value, Mapping):
        raise ServerError(f"QuickBooks' answer holds no {name} object", status_code=200)
    return dict(value)


def _sync_token(obj: Mapping[str, Any], name: str, entity_id: str) -> str:
    token = obj.get("SyncToken")
    if not isinstance(token, str):
        raise ServerError(f"{name} {entity_id} came back without a SyncToken", status_code=200)
    return token


def _without_token(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "SyncToken"}
