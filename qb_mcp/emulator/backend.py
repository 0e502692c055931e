"""The emulator's in-memory QuickBooks: companies (realms), their entities and every write rule.

Entry points take untrusted input and raise nothing but `QBOFault`. Each write runs in a `Tx`
(see realms.py) and is committed only once it fully succeeded, then announced to the listeners.
Entity rules live in names.py (Customer, Item, CompanyInfo) and sales.py (Estimate, Invoice,
SalesReceipt, CreditMemo, RefundReceipt, Payment); request-body reading in fields.py and values.py; batch and CDC in batch.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from qb_mcp.emulator import fields as f
from qb_mcp.emulator import lists, names, sales
from qb_mcp.emulator import values as v
from qb_mcp.emulator.changes import ChangeEvent
from qb_mcp.emulator.faults import QBOFault, unsupported_operation
from qb_mcp.emulator.realms import Obj, Realm, Tx, clone

log = logging.getLogger(__name__)

Operation = Literal["create", "update", "delete", "void"]
ENTITIES = {
    name.lower(): name
    for name in (
        "CompanyInfo",
        "Customer",
        "Item",
        "Estimate",
        "Invoice",
        "Payment",
        "SalesReceipt",
        "CreditMemo",
        "RefundReceipt",
        "Term",
        "PaymentMethod",
        "Account",
    )
}
_FIELDS: dict[str, tuple[dict[str, f.Parser], frozenset[str]]] = {
    "Customer": (f.CUSTOMER, f.CUSTOMER_READ_ONLY),
    "Item": (f.ITEM, f.ITEM_READ_ONLY),
    "CompanyInfo": (f.COMPANY_INFO, f.COMPANY_INFO_READ_ONLY),
    "Estimate": (f.ESTIMATE, f.ESTIMATE_READ_ONLY),
    "Invoice": (f.INVOICE, f.INVOICE_READ_ONLY),
    "Payment": (f.PAYMENT, f.PAYMENT_READ_ONLY),
    "SalesReceipt": (f.SALES_RECEIPT, f.SALES_RECEIPT_READ_ONLY),
    "CreditMemo": (f.CREDIT_MEMO, f.CREDIT_MEMO_READ_ONLY),
    "RefundReceipt": (f.REFUND_RECEIPT, f.REFUND_RECEIPT_READ_ONLY),
    **lists.FIELDS,  # Term, PaymentMethod, Account
}
_TRANSACTIONS = frozenset(
    {"Estimate", "Invoice", "Payment", "SalesReceipt", "CreditMemo", "RefundReceipt"}
)
# QuickBooks has two void forms (Intuit's API reference, entity pages "Void a ..."): an Invoice is
# voided with `?operation=void`; a Payment or SalesReceipt (and BillPayment, not emulated) with a
# sparse update `?operation=update&include=void` (batch: operation "update", optionsData "void").
# Intuit's PHP SDK special-cases exactly these in CoreConstants (PAYMENTCLASSNAME,
# VOID_QUERYPARAMETER_PAYMENT); QuickBooks-V3-PHP-SDK#357 and #479 show the other form failing.
_VOID_BY_OPERATION = frozenset({"Invoice"})
_VOID_BY_UPDATE = frozenset({"Payment", "SalesReceipt"})
SNAPSHOT_VERSION = 1


def canonical(entity: Any) -> str:
    """`"customer"` -> `"Customer"`; anything else is QuickBooks' 500 Unsupported Operation."""
    if isinstance(entity, str) and entity.lower() in ENTITIES:
        return ENTITIES[entity.lower()]
    shown = str(entity)[:100]
    raise unsupported_operation(
        f"Operation Could not find resource for relative : /{shown} is not supported."
    )


class Backend:
    """Every company's state and every business rule; see emulator_arch.md for the contract."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._realms: dict[str, Realm] = {}
        self._listeners: list[Callable[[ChangeEvent], None]] = []

    def now(self) -> float:
        """The backend's clock reading, epoch seconds."""
        return self._clock()

    # companies
    def add_company(
        self,
        realm_id: str,
        *,
        seed: Literal["demo", "empty"] = "demo",
        company_name: str | None = None,
    ) -> None:
        """Create (or re-create) a company with its seed data."""
        from qb_mcp.emulator import seed as seeds

        if not isinstance(realm_id, str) or not realm_id.strip():
            raise v.invalid_property("realmId must be a non-empty string", "realmId")
        if seed not in ("demo", "empty"):
            raise v.invalid_enum("seed", str(seed))
        realm = Realm(realm_id=realm_id, seed=seed, company_name=company_name)
        seeds.populate(self, realm)
        self._realms[realm_id] = realm

    def has_company(self, realm_id: str) -> bool:
        """Whether a company with this realm id exists."""
        return realm_id in self._realms

    def realm_ids(self) -> list[str]:
        """Every company's realm id, in creation order."""
        return list(self._realms)

    def reset(self) -> None:
        """Every company back to its seed state (seeded afresh, at the current clock)."""
        for realm_id, realm in list(self._realms.items()):
            seed: Literal["demo", "empty"] = "demo" if realm.seed == "demo" else "empty"
            self.add_company(realm_id, seed=seed, company_name=realm.company_name)

    def subscribe(self, listener: Callable[[ChangeEvent], None]) -> None:
        """Call `listener` with a ChangeEvent after each committed change."""
        self._listeners.append(listener)

    # reads
    def read(self, realm_id: str, entity: str, entity_id: str) -> dict[str, Any]:
        """`{"Customer": {...}}` for a live object; 610 when absent or deleted."""
        realm = self._realm(realm_id)
        name = canonical(entity)
        if name == "CompanyInfo" and entity_id == realm_id:
            entity_id = "1"
        if not isinstance(entity_id, str):
            raise v.invalid_property("Id must be a string", "Id")
        found = realm.objects.get(name, {}).get(entity_id)
        if found is None:
            raise v.not_found(name, entity_id[:100])
        return {name: clone(found)}

    def company_info(self, realm_id: str) -> dict[str, Any]:
        """`{"CompanyInfo": {...}}`."""
        return self.read(realm_id, "CompanyInfo", "1")

    def query(self, realm_id: str, text: str) -> dict[str, Any]:
        """Run one query-language statement over the company's live objects."""
        from qb_mcp.emulator import query

        realm = self._realm(realm_id)
        if not isinstance(text, str):
            raise v.invalid_property("the query must be a string", "query")

        def rows_for(entity: str) -> list[Obj]:
            return list(realm.objects.get(entity, {}).values())

        return query.execute(text, rows_for, in_id_order=realm.in_id_order)

    def report(
        self, realm_id: str, name: str, params: Mapping[str, str], now: str
    ) -> dict[str, Any]:
        """`GET reports/{name}` computed from the company's live objects (reports.py)."""
        from qb_mcp.emulator import reports
        from qb_mcp.emulator.realms import company_day

        realm = self._realm(realm_id)

        def rows_for(entity: str) -> list[Obj]:
            return list(realm.objects.get(entity, {}).values())

        today = date.fromisoformat(company_day(self._clock()))
        return reports.run(name, params, rows_for, today, now)

    def send(
        self, realm_id: str, entity: str, entity_id: str, send_to: str | None, now: str
    ) -> dict[str, Any]:
        """`POST invoice/{id}/send`: the invoice marked e-mailed (delivery.py)."""
        from qb_mcp.emulator import delivery

        realm = self._realm(realm_id)
        name = canonical(entity)
        if name != "Invoice":
            raise unsupported_operation(f"Operation Send is not supported for {name}.")
        tx = Tx(realm, self._clock())
        invoice = tx.for_update(name, str(entity_id)[:100])
        if invoice is None:
            raise v.not_found(name, str(entity_id)[:100])
        delivery.mark_sent(invoice, send_to, now)
        tx.stamp(name, invoice["Id"], "Update")
        tx.commit()
        self._announce(realm.realm_id, tx)
        return {name: clone(invoice)}

    def pdf(self, realm_id: str, entity: str, entity_id: str) -> bytes:
        """`GET {entity}/{id}/pdf`: a sales form as a PDF (documents.py); 610 when absent."""
        from qb_mcp.emulator import documents

        name = canonical(entity)
        if name not in documents.TITLES:
            raise unsupported_operation(f"Operation pdf is not supported for {name}.")
        found = self.read(realm_id, name, entity_id)[name]
        company = self.company_info(realm_id)["CompanyInfo"]
        return documents.render(name, found, company, self._clock())

    def batch(self, realm_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run up to 30 independent operations and queries; per-item faults."""
        from qb_mcp.emulator import batch

        self._realm(realm_id)
        return batch.run(self, realm_id, body)

    def cdc(self, realm_id: str, entities: str, changed_since: str) -> dict[str, Any]:
        """Objects of `entities` changed since `changed_since` (30 days at most), with stubs."""
        from qb_mcp.emulator import batch

        return batch.cdc(self._realm(realm_id), entities, changed_since, self._clock())

    # writes
    def write(
        self,
        realm_id: str,
        entity: str,
        body: dict[str, Any],
        operation: Operation | None = None,
        *,
        include: str | None = None,
    ) -> dict[str, Any]:
        """Create, update (full or sparse), delete or void; returns the answer without "time".

        `include` is the REST `include` parameter (the batch item's `optionsData`): "void" turns
        an update of a Payment or SalesReceipt into its void. Other values (allowduplicatedocnum,
        enhancedAllCustomFields, ...) change nothing here.
        """
        realm = self._realm(realm_id)
        name = canonical(entity)
        if not isinstance(body, Mapping):
            raise v.invalid_property(
                "failed to parse json object; the request body must be a JSON object"
            )
        if operation is None:
            operation = "update" if body.get("Id") is not None else "create"
        voids = include is not None and "void" in {
            part.strip().lower() for part in str(include).split(",")
        }
        tx = Tx(realm, self._clock())
        if voids:
            answer = self._void_by_update(tx, name, body, operation)
        elif operation == "create":
            answer = self._create(tx, name, body)
        elif operation == "update":
            answer = self._update(tx, name, body)
        elif operation == "delete":
            answer = self._delete(tx, name, body)
        elif operation == "void":
            if name in _VOID_BY_UPDATE:
                raise unsupported_operation(
                    f"Operation Void is not supported for {name}: void it with a sparse update, "
                    f"?operation=update&include=void with Id, SyncToken and sparse: true."
                )
            answer = self._void(tx, name, body)
        else:
            raise unsupported_operation(f"Operation {str(operation)[:50]} is not supported.")
        tx.commit()
        self._announce(realm.realm_id, tx)
        return answer

    def _create(self, tx: Tx, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if name == "CompanyInfo":
            raise unsupported_operation("Operation Create is not supported for CompanyInfo.")
        props_spec, read_only = _FIELDS[name]
        props = f.parse(body, props_spec, read_only, name)
        obj = self._build(tx, name, props, body, None)
        obj["Id"] = str(tx.next_number(f"id:{name}", 1))
        tx.put(name, obj)
        tx.stamp(name, obj["Id"], "Create")
        self._refresh(tx, name, None, obj)
        return {name: clone(obj)}

    def _update(self, tx: Tx, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        props_spec, read_only = _FIELDS[name]
        old = self._current(tx, name, body)
        sparse = body.get("sparse") is not None and v.boolean(body["sparse"], "sparse")
        props = f.parse(body, props_spec, read_only, name)
        if sparse:
            base = clone(f.writable(old, props_spec))
            base.update(props)
            props = base
        obj = self._build(tx, name, props, {**body, "sparse": sparse}, old)
        obj["Id"] = old["Id"]
        obj["SyncToken"] = old["SyncToken"]
        obj["MetaData"] = dict(old["MetaData"])
        tx.put(name, obj)
        tx.stamp(name, obj["Id"], "Update")
        self._refresh(tx, name, old, obj)
        return {name: clone(obj)}

    def _delete(self, tx: Tx, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if name not in _TRANSACTIONS:
            # QuickBooks refuses deletes of name lists (make them inactive instead).
            raise unsupported_operation(f"Operation Delete is not supported for {name}.")
        old = self._current(tx, name, body)
        if name == "Invoice":
            self._detach_payments(tx, old["Id"])
        tx.delete(name, old["Id"])
        self._refresh(tx, name, old, None)
        return {name: {"status": "Deleted", "domain": "QBO", "Id": old["Id"]}}

    def _void_by_update(
        self, tx: Tx, name: str, body: Mapping[str, Any], operation: str
    ) -> dict[str, Any]:
        """`?operation=update&include=void`: the void form of Payment (and SalesReceipt)."""
        if operation != "update":
            raise unsupported_operation(
                f"Operation {str(operation)[:50]} with include=void is not supported; "
                f"include=void goes with operation=update."
            )
        if name not in _VOID_BY_UPDATE:
            hint = " void it with ?operation=void." if name in _VOID_BY_OPERATION else ""
            raise unsupported_operation(
                f"Operation Void is not supported for {name} with include=void;{hint}"
            )
        props_spec, read_only = _FIELDS[name]
        # The body is read like any sparse update (unknown properties are 2010); of what it
        # holds only PrivateNote matters, since a void zeroes everything else. A client may
        # send the whole object it read (node-quickbooks' voidPayment does).
        props = f.parse(body, props_spec, read_only, name)
        return self._void(tx, name, body, note=props.get("PrivateNote"))

    def _void(
        self, tx: Tx, name: str, body: Mapping[str, Any], *, note: str | None = None
    ) -> dict[str, Any]:
        if name not in _VOID_BY_OPERATION | _VOID_BY_UPDATE:
            # QuickBooks voids Invoice, Payment and SalesReceipt (not estimates, not name lists).
            raise unsupported_operation(f"Operation Void is not supported for {name}.")
        old = self._current(tx, name, body)
        obj = tx.for_update(name, old["Id"])
        assert obj is not None
        if note is None:
            note = old.get("PrivateNote")
        # Choice: an existing note is kept after the "Voided" marker QuickBooks writes.
        obj["PrivateNote"] = (
            f"Voided - {note}" if note and not note.startswith("Voided") else (note or "Voided")
        )
        obj["TotalAmt"] = sales.ZERO
        if name in ("Invoice", "SalesReceipt"):
            if name == "Invoice":
                self._detach_payments(tx, old["Id"])
            for line in obj["Line"]:
                if "Amount" in line:
                    line["Amount"] = sales.ZERO
                detail = line.get("SalesItemLineDetail")
                if detail is not None:
                    detail["Qty"] = sales.ZERO
                    detail.pop("UnitPrice", None)
            obj["Balance"] = sales.ZERO
            if name == "Invoice":
                obj["Deposit"] = sales.ZERO
            obj["LinkedTxn"] = []  # as QuickBooks' void sample shows; frees the estimate
        else:
            obj["Line"] = []
            obj["UnappliedAmt"] = sales.ZERO
        tx.stamp(name, old["Id"], "Void")
        self._refresh(tx, name, old, obj)
        return {name: clone(obj)}

    def _current(self, tx: Tx, name: str, body: Mapping[str, Any]) -> Obj:
        """The object an update/delete/void addresses, with its SyncToken checked (5010)."""
        if body.get("Id") is None:
            raise v.required("Id")
        entity_id = v.text(body["Id"], "Id", 100)
        old = tx.get(name, entity_id)
        if old is None:
            raise v.not_found(name, entity_id)
        if body.get("SyncToken") is None:
            raise v.required("SyncToken")
        token = v.text(body["SyncToken"], "SyncToken", 100)
        if token != old["SyncToken"]:
            raise QBOFault.one(
                "5010",
                "Stale Object Error",
                "Stale Object Error : You and root were working on this at the same time. root "
                "finished before you did, so your work was not saved.",
            )
        sales.refuse_if_deposited(name, old)
        return old

    def _build(
        self, tx: Tx, name: str, props: dict[str, Any], body: Mapping[str, Any], old: Obj | None
    ) -> Obj:
        lists.check_refs(tx, props)
        if name == "Customer":
            return names.customer(tx, props, old)
        if name == "Item":
            return names.item(tx, props, old)
        if name == "CompanyInfo":
            return names.company_info(tx, props, old)
        if name == "Payment":
            return sales.payment(tx, props, body, old)
        if name in lists.FIELDS:
            return lists.build(tx, name, props, old)
        return sales.sales(tx, name, props, body, old)

    def _detach_payments(self, tx: Tx, invoice_id: str) -> None:
        """Voiding or deleting an invoice returns what payments applied to it as unapplied."""
        for payment in tx.find("payment_invoice", invoice_id):
            mine = tx.for_update("Payment", payment["Id"])
            assert mine is not None
            mine["Line"] = [
                line for line in mine["Line"] if line["LinkedTxn"][0]["TxnId"] != invoice_id
            ]
            applied = sum((line["Amount"] for line in mine["Line"]), sales.ZERO)
            mine["UnappliedAmt"] = mine["TotalAmt"] - applied
            tx.stamp("Payment", payment["Id"], "Update")

    def _refresh(self, tx: Tx, name: str, old: Obj | None, new: Obj | None) -> None:
        """Recompute balances and links of whatever the change touches."""
        invoices: list[str] = []
        estimates: list[str] = []
        customers: list[str] = []
        for obj in (old, new):
            if obj is None:
                continue
            if "CustomerRef" in obj:
                customers.append(obj["CustomerRef"]["value"])
            if name == "Invoice":
                invoices.append(obj["Id"])
                estimates += [
                    link["TxnId"] for link in obj["LinkedTxn"] if link["TxnType"] == "Estimate"
                ]
            elif name == "Payment":
                invoices += [line["LinkedTxn"][0]["TxnId"] for line in obj["Line"]]
            elif name == "Estimate":
                estimates.append(obj["Id"])
                invoices += [link["TxnId"] for link in obj.get("LinkedTxn", [])]
        sales.refresh(tx, invoices, estimates, customers)

    def _announce(self, realm_id: str, tx: Tx) -> None:
        when = datetime.fromtimestamp(tx.now, UTC)
        for entity, entity_id, op in tx.events:
            event = ChangeEvent(realm_id, entity, entity_id, op, when)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # a listener's bug must never undo or fail a committed write
                    log.exception("change listener failed for %s %s", entity, entity_id)

    def _realm(self, realm_id: str) -> Realm:
        realm = self._realms.get(realm_id) if isinstance(realm_id, str) else None
        if realm is None:
            raise QBOFault.one(
                "610",
                "Object Not Found",
                f"Object Not Found : No company with realm id {str(realm_id)[:100]}",
            )
        return realm

    # persistence
    def snapshot(self) -> dict[str, Any]:
        """The full state as JSON-serialisable data (Decimals as strings)."""
        from qb_mcp.emulator import snapshots

        return snapshots.dump(SNAPSHOT_VERSION, self._realms)

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the full state with a `snapshot()`; a malformed one changes nothing."""
        from qb_mcp.emulator import snapshots

        self._realms = snapshots.load(SNAPSHOT_VERSION, data)

    # seeding (used by seed.py): a write without announcing it
    def seed_write(self, realm: Realm, entity: str, body: dict[str, Any]) -> Obj:
        """Create one object in a realm being seeded; returns the stored object."""
        tx = Tx(realm, self._clock())
        answer = self._create(tx, entity, body) if entity != "CompanyInfo" else None
        if answer is None:
            props = f.parse(body, f.COMPANY_INFO, f.COMPANY_INFO_READ_ONLY, "CompanyInfo")
            obj = names.company_info(tx, props, None)
            obj["Id"] = "1"
            tx.put("CompanyInfo", obj)
            tx.stamp("CompanyInfo", "1", "Create")
            answer = {"CompanyInfo": obj}
        tx.commit()
        return realm.objects[entity][answer[entity]["Id"]]

    def seed_op(
        self, realm: Realm, entity: str, body: dict[str, Any], operation: Operation
    ) -> None:
        """Update/void an object in a realm being seeded, without announcing it."""
        tx = Tx(realm, self._clock())
        if operation == "update":
            self._update(tx, entity, body)
        elif operation == "void":
            self._void(tx, entity, body)
        tx.commit()
