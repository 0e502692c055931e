"""Business rules of the sales transactions: Estimate, Invoice, SalesReceipt and Payment.

Money is Decimal, rounded half-up to cents. Derived values are never taken from a request body:
line Amounts are checked against Qty x UnitPrice, TotalAmt is the sum of the sales lines,
an invoice's Balance is TotalAmt - Deposit - the amounts applied by live payments, a payment's
UnappliedAmt is TotalAmt - its applied lines, a customer's Balance is the sum of its invoices'
Balances, and the LinkedTxn lists that the other side of a link owns (estimate -> invoice,
invoice -> payment) are rebuilt from the links, by `refresh`.

Choices where Intuit's documents are silent (each also noted where it is made):
- Qty/UnitPrice: both given and non-zero -> Amount must equal round_half_up(Qty x UnitPrice)
  (6070); either of them 0 -> Amount is taken as sent (python-quickbooks' default line, Qty 0 and
  UnitPrice 0, saves in a real company); only UnitPrice -> Qty is 1; only a non-zero Qty ->
  UnitPrice is Amount / Qty; neither -> Amount is taken as is (invoice-create-request.json sends
  only Amount and QuickBooks accepts it).
- Over-application (more than an invoice's open Balance, or lines above the payment's TotalAmt)
  and a second invoice for one estimate are refused with 6000; the real code is unverified.
- Linking an estimate does NOT change its TxnStatus (unverified whether QuickBooks does; the client
  closes it explicitly). A Rejected estimate cannot be linked; Pending, Accepted, Closed and
  Converted can.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from qb_mcp.emulator import fields as f
from qb_mcp.emulator import lists
from qb_mcp.emulator import values as v
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.names import address_ids
from qb_mcp.emulator.realms import Obj, Tx, clone, company_day

ZERO = Decimal("0.00")
_LINE_KEYS = frozenset(
    {
        "Id",
        "LineNum",
        "Description",
        "Amount",
        "DetailType",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
        "DescriptionLineDetail",
        "DiscountLineDetail",
        "GroupLineDetail",
        "LinkedTxn",
        "LineEx",
        "CustomField",
        "ProjectRef",
    }
)
# Every property of QuickBooks' SalesItemLineDetail (the schema's ItemLineDetail and its
# SalesItemLineDetail extension, as generated in intuit/QuickBooks-V3-Java-SDK
# ipp-v3-java-data/.../ItemLineDetail.java and SalesItemLineDetail.java). Only ItemRef, Qty,
# UnitPrice and TaxCodeRef take part in the emulator's rules; the others are kept as sent.
_SALES_DETAIL: dict[str, f.Parser] = {
    "ItemRef": f.ref,
    "ClassRef": f.ref,
    "UnitPrice": f.number,
    "RatePercent": f.number,
    "PriceLevelRef": f.ref,
    "MarkupInfo": f.plain_object,
    "Qty": f.number,
    "UOMRef": f.plain_object,
    "ItemAccountRef": f.ref,
    "InventorySiteRef": f.ref,
    "TaxCodeRef": f.ref,
    "TaxClassificationRef": f.ref,
    "ServiceDate": f.day,
    "TaxInclusiveAmt": f.number,
    "DiscountRate": f.number,
    "DiscountAmt": f.number,
    "SalesItemLineDetailEx": f.plain_object,
}
_UNEMULATED_LINES = frozenset(
    {"DiscountLineDetail", "GroupLineDetail", "TaxLineDetail", "DescriptionLineDetail"}
)
_MAX_LINES = 1000


def amount_mismatch(supplied: Decimal) -> QBOFault:
    """6070: line Amount is not Qty x UnitPrice."""
    return QBOFault.one(
        "6070",
        "Amount calculation incorrect",
        f"Amount is not equal to UnitPrice * Qty. Supplied value:{supplied}",
        element="Line.Amount",
    )


def active_customer(tx: Tx, customer_ref: Mapping[str, str]) -> Obj:
    """The live, active customer a CustomerRef points at (else 2500)."""
    found = tx.get("Customer", customer_ref["value"])
    if found is None or not found.get("Active", True):
        raise v.invalid_reference("CustomerRef", customer_ref["value"])
    return found


def _lines(tx: Tx, raw: Any) -> list[Obj]:
    items = v.array(raw, "Line")
    if len(items) > _MAX_LINES:
        raise v.business(f"A transaction can hold at most {_MAX_LINES} lines.", "Line")
    out: list[Obj] = []
    for item in items:
        line = v.obj(item, "Line")
        v.only_known(line, _LINE_KEYS, "Line")
        if line.get("DetailType") is None:
            raise v.required("Line.DetailType")
        detail_type = v.text(line["DetailType"], "Line.DetailType")
        if detail_type == "SubTotalLineDetail":
            continue  # computed by QuickBooks, sent back by clients that echo what they read
        if detail_type == "DescriptionOnly":
            out.append(_description_line(line))
            continue
        if detail_type in _UNEMULATED_LINES:
            raise v.business(f"The emulator does not support {detail_type} lines.", "Line")
        if detail_type != "SalesItemLineDetail":
            raise v.invalid_enum("Line.DetailType", detail_type)
        out.append(_sales_line(tx, line))
    if not any(line["DetailType"] == "SalesItemLineDetail" for line in out):
        raise v.required("Line")
    for number, line in enumerate(out, start=1):
        line["Id"] = str(number)
        line["LineNum"] = number
    return out


def _description_line(line: Mapping[str, Any]) -> Obj:
    out: Obj = {"DetailType": "DescriptionOnly", "DescriptionLineDetail": {}}
    if line.get("Description") is not None:
        out["Description"] = v.text(line["Description"], "Line.Description", 4000)
    return out


def _sales_line(tx: Tx, line: Mapping[str, Any]) -> Obj:
    if line.get("SalesItemLineDetail") is None:
        raise v.required("Line.SalesItemLineDetail")
    raw_detail = v.obj(line["SalesItemLineDetail"], "Line.SalesItemLineDetail")
    v.only_known(raw_detail, frozenset(_SALES_DETAIL), "SalesItemLineDetail")
    detail = f.read(raw_detail, _SALES_DETAIL, "Line.SalesItemLineDetail.")
    if "ItemRef" not in detail:
        raise v.required("Line.SalesItemLineDetail.ItemRef")
    item = tx.get("Item", detail["ItemRef"]["value"])
    if item is None or not item.get("Active", True):
        raise v.invalid_reference("ItemRef", detail["ItemRef"]["value"])
    detail["ItemRef"]["name"] = item["Name"]
    if line.get("Amount") is None:
        raise v.required("Line.Amount")
    supplied = v.number(line["Amount"], "Line.Amount")
    amount = v.cents(supplied)
    qty, price = detail.get("Qty"), detail.get("UnitPrice")
    if price is not None:
        if qty is None:
            qty = detail["Qty"] = Decimal(1)
        # QuickBooks checks Amount against Qty x UnitPrice only when both are non-zero:
        # python-quickbooks' default line (Qty 0, UnitPrice 0, Amount 100) saves in a real
        # company (its tests/integration/test_invoice.py), while 7 x 225 with Amount 1000 is 6070.
        if qty != 0 and price != 0 and v.cents(qty * price) != amount:
            raise amount_mismatch(supplied)
    elif qty is not None and qty != 0:
        detail["UnitPrice"] = amount / qty
    detail.setdefault("TaxCodeRef", {"value": "NON"})
    out: Obj = {"DetailType": "SalesItemLineDetail", "Amount": amount}
    if line.get("Description") is not None:
        out["Description"] = v.text(line["Description"], "Line.Description", 4000)
    out["SalesItemLineDetail"] = detail
    return out


def _linked_txn(entry: Any, where: str) -> tuple[str, str]:
    """(TxnId, TxnType) of one LinkedTxn entry; `where` names it in faults."""
    link = v.obj(entry, where)
    v.only_known(link, frozenset({"TxnId", "TxnType", "TxnLineId"}), "LinkedTxn")
    if link.get("TxnId") is None:
        raise v.required(f"{where}.TxnId")
    if link.get("TxnType") is None:
        raise v.required(f"{where}.TxnType")
    return (
        v.text(link["TxnId"], f"{where}.TxnId", 100),
        v.text(link["TxnType"], f"{where}.TxnType", 100),
    )


def _estimate_links(raw: Any) -> list[str]:
    """Estimate Ids from an invoice's LinkedTxn; Payment entries (system-kept) are ignored."""
    out: list[str] = []
    for entry in v.array(raw, "LinkedTxn"):
        txn_id, txn_type = _linked_txn(entry, "LinkedTxn")
        if txn_type == "Payment":
            continue
        if txn_type in ("TimeActivity", "ReimburseCharge", "StatementCharge", "ChargeCredit"):
            raise v.business(f"The emulator does not link {txn_type} to invoices.", "LinkedTxn")
        if txn_type != "Estimate":
            raise v.invalid_enum("LinkedTxn.TxnType", txn_type)
        if txn_id not in out:
            out.append(txn_id)
    return out


def sales(
    tx: Tx, entity: str, props: dict[str, Any], body: Mapping[str, Any], old: Obj | None
) -> Obj:
    """The stored Estimate, Invoice, SalesReceipt, CreditMemo or RefundReceipt for cleaned
    `props` and the body's lines."""
    customer: Obj = {}
    if "CustomerRef" in props:
        customer = active_customer(tx, props["CustomerRef"])
        props["CustomerRef"]["name"] = customer["DisplayName"]
    elif entity != "RefundReceipt":  # the RefundReceipt reference marks CustomerRef optional
        raise v.required("CustomerRef")
    if entity == "RefundReceipt" and "DepositToAccountRef" not in props:
        # "A RefundReceipt object must have a DepositToAccountRef" (RefundReceipt reference).
        raise v.required("DepositToAccountRef")
    if body.get("Line") is not None:
        lines = _lines(tx, body["Line"])
    elif old is not None and body.get("sparse") is True:
        lines = [clone(line) for line in old["Line"] if line["DetailType"] != "SubTotalLineDetail"]
        # An unchanged line must still point at an active item.
        for line in lines:
            ref = line.get("SalesItemLineDetail", {}).get("ItemRef")
            if ref is not None:
                found = tx.get("Item", ref["value"])
                if found is None or not found.get("Active", True):
                    raise v.invalid_reference("ItemRef", ref["value"])
    else:
        raise v.required("Line")
    total = sum(
        (line["Amount"] for line in lines if line["DetailType"] == "SalesItemLineDetail"), ZERO
    )
    if total < 0:
        raise v.business("The transaction total cannot be negative.", "TotalAmt")
    # DocNumber and TxnDate identify the document: a full update without them keeps them
    # (QuickBooks documents that an update never alters the internal DocNumber sequence).
    if old is not None:
        for key in ("DocNumber", "TxnDate"):
            if key not in props and key in old:
                props[key] = old[key]
    props.setdefault("TxnDate", company_day(tx.now))
    if entity == "Invoice" and "SalesTermRef" not in props and customer.get("SalesTermRef"):
        # Choice: like its addresses, an invoice takes the customer's terms when given none.
        props["SalesTermRef"] = dict(customer["SalesTermRef"])
    if entity == "Invoice" and "DueDate" not in props:
        # The terms decide; without any, the company's default Net 30
        # (invoice-create-response.json: +30 days).
        try:
            due = lists.due_date(
                date.fromisoformat(props["TxnDate"]), lists.term_of(tx, props.get("SalesTermRef"))
            )
        except (OverflowError, ValueError):
            raise v.invalid_property("TxnDate is out of range", "TxnDate") from None
        props["DueDate"] = due.isoformat()
    # Like QuickBooks, a transaction without addresses or email takes the customer's.
    for key, source in (("BillAddr", "BillAddr"), ("ShipAddr", "ShipAddr")):
        if key not in props and customer.get(source):
            props[key] = {k: val for k, val in customer[source].items() if k != "Id"}
    if "BillEmail" not in props and customer.get("PrimaryEmailAddr", {}).get("Address"):
        props["BillEmail"] = dict(customer["PrimaryEmailAddr"])
    address_ids(tx, props, ("BillAddr", "ShipAddr", "ShipFromAddr"), old)
    _doc_number(tx, entity, props, old)
    out: Obj = {
        "PrintStatus": "NotSet",
        "EmailStatus": "NotSet",
        "ApplyTaxAfterDiscount": False,
        **props,
        "Line": [
            *lines,
            {"DetailType": "SubTotalLineDetail", "Amount": total, "SubTotalLineDetail": {}},
        ],
        "TotalAmt": total,
        "TxnTaxDetail": {"TotalTax": ZERO},
        "domain": "QBO",
        "sparse": False,
    }
    if entity == "Estimate":
        if old and old["LinkedTxn"] and old["CustomerRef"]["value"] != customer["Id"]:
            raise v.business(
                "The customer of an estimate linked to an invoice cannot be changed.",
                "CustomerRef",
            )
        out.setdefault("TxnStatus", "Pending")
        out["LinkedTxn"] = list(old["LinkedTxn"]) if old else []
        return out
    if entity == "CreditMemo":
        # A credit the customer can use later: Balance and RemainingCredit start at TotalAmt
        # (creditmemo-create-response.json) and lower the customer's Balance (refresh). Applying
        # it to an invoice (a Payment line linking the CreditMemo) is not emulated.
        out["Balance"] = out["RemainingCredit"] = total
        out["LinkedTxn"] = []
        return out
    if entity == "RefundReceipt":
        # Money paid back at once: nothing stays open (refundreceipt-read-response.json). From a
        # bank account with neither a print status nor a reference number, QuickBooks makes it
        # a check to print (refundreceipt-create-response.json: NeedToPrint); and "if
        # PrintStatus is set to NeedToPrint, the system sets PaymentRefNum to 'To Print'" (the
        # RefundReceipt reference).
        account = tx.get("Account", props["DepositToAccountRef"]["value"]) or {}
        if (
            not {"PrintStatus", "PaymentRefNum"} & set(props)
            and account.get("AccountType") == "Bank"
        ):
            out["PrintStatus"] = "NeedToPrint"
        if out["PrintStatus"] == "NeedToPrint":
            out["PaymentRefNum"] = "To Print"
        if "EmailStatus" not in props:
            del out["EmailStatus"]  # not a RefundReceipt property (its reference and samples)
        out["Balance"] = ZERO
        out["LinkedTxn"] = []
        return out
    if entity == "SalesReceipt":
        # Paid in full when made: nothing is owed and nothing links to it (SalesReceipt reference).
        # The money goes to Undeposited Funds unless a deposit account is named, as a payment's.
        out.setdefault("DepositToAccountRef", {"value": "4", "name": "Undeposited Funds"})
        out["Balance"] = ZERO
        out["LinkedTxn"] = []
        return out
    deposit = out.setdefault("Deposit", ZERO)
    if deposit < 0 or deposit > total:
        raise v.business("Deposit must be between 0 and the invoice total.", "Deposit")
    if body.get("LinkedTxn") is not None:
        estimates = _estimate_links(body["LinkedTxn"])
    elif old is not None and body.get("sparse") is True:
        estimates = [link["TxnId"] for link in old["LinkedTxn"] if link["TxnType"] == "Estimate"]
    else:
        estimates = []
    _check_estimates(tx, estimates, props["CustomerRef"]["value"], old)
    out["LinkedTxn"] = [{"TxnId": e, "TxnType": "Estimate"} for e in estimates] + [
        link for link in (old or {}).get("LinkedTxn", []) if link["TxnType"] == "Payment"
    ]
    out["Balance"] = old["Balance"] if old else total
    if old is not None:
        applied = applied_to(tx, old["Id"])
        if applied > total - deposit:
            raise v.business(
                f"Payments of {applied} are applied to this invoice; its total cannot be "
                f"less than that.",
                "TotalAmt",
            )
        if applied and old["CustomerRef"]["value"] != props["CustomerRef"]["value"]:
            raise v.business(
                "The customer of an invoice with payments applied cannot be changed.",
                "CustomerRef",
            )
    return out


def _check_estimates(tx: Tx, estimates: list[str], customer_id: str, old: Obj | None) -> None:
    own_id = old["Id"] if old else None
    for estimate_id in estimates:
        estimate = tx.get("Estimate", estimate_id)
        if estimate is None:
            raise v.invalid_reference("LinkedTxn.TxnId", estimate_id)
        if estimate["CustomerRef"]["value"] != customer_id:
            raise v.business(
                f"Estimate {estimate_id} belongs to another customer than this invoice.",
                "LinkedTxn",
            )
        # Choice: a declined quote is not billable; QuickBooks' own rule is undocumented.
        if estimate.get("TxnStatus") == "Rejected":
            raise v.business(
                f"Estimate {estimate_id} is Rejected; set it to Pending or Accepted before "
                f"invoicing it.",
                "LinkedTxn",
            )
        for other in tx.find("invoice_estimate", estimate_id):
            if other["Id"] != own_id:
                raise v.business(
                    f"Estimate {estimate_id} is already linked to invoice {other['Id']}; "
                    f"an estimate can be linked to one invoice only.",
                    "LinkedTxn",
                )


_DOC_INDEX = {
    "Estimate": "estimate_doc",
    "Invoice": "invoice_doc",
    "SalesReceipt": "sales_receipt_doc",
    "CreditMemo": "credit_memo_doc",
    "RefundReceipt": "refund_receipt_doc",
}


def _doc_number(tx: Tx, entity: str, props: dict[str, Any], old: Obj | None) -> None:
    """DocNumber: unique per entity type (6140); auto-assigned "1001", "1002"... when absent."""
    own_id = old["Id"] if old else None
    index = _DOC_INDEX[entity]

    def taken_by(number: str) -> str | None:
        others = [o["Id"] for o in tx.find(index, number.casefold()) if o["Id"] != own_id]
        return others[0] if others else None

    number = props.get("DocNumber")
    if number is None or not number.strip():
        while True:
            candidate = str(tx.next_number(f"doc:{entity}", 1001))
            if taken_by(candidate) is None:
                props["DocNumber"] = candidate
                return
    holder = taken_by(number)
    if holder is not None:
        raise QBOFault.one(
            "6140",
            "Duplicate Document Number Error",
            f"Duplicate Document Number Error : You must specify a different number. This "
            f"number has already been used. DocNumber={number} is assigned to TxnType="
            f"{entity} with TxnId={holder}",
            element="DocNumber",
        )


def applied_to(tx: Tx, invoice_id: str, *, skip_payment: str | None = None) -> Decimal:
    """What live payments (other than `skip_payment`) apply to an invoice."""
    total = ZERO
    for payment in tx.find("payment_invoice", invoice_id):
        if payment["Id"] == skip_payment:
            continue
        for line in payment["Line"]:
            if line["LinkedTxn"][0]["TxnId"] == invoice_id:
                total += line["Amount"]
    return total


def payment(tx: Tx, props: dict[str, Any], body: Mapping[str, Any], old: Obj | None) -> Obj:
    """The stored Payment for cleaned `props` and the body's Line."""
    if "CustomerRef" not in props:
        raise v.required("CustomerRef")
    if "TotalAmt" not in props:
        raise v.required("TotalAmt")
    customer = active_customer(tx, props["CustomerRef"])
    props["CustomerRef"]["name"] = customer["DisplayName"]
    total = props["TotalAmt"]
    if total < 0:
        raise v.business("A payment amount cannot be negative.", "TotalAmt")
    if body.get("Line") is not None:
        lines = _payment_lines(body["Line"])
    elif old is not None and body.get("sparse") is True:
        lines = clone(old["Line"])
    else:
        lines = []
    own_id = old["Id"] if old else None
    per_invoice: dict[str, Decimal] = {}
    for line in lines:
        invoice_id = line["LinkedTxn"][0]["TxnId"]
        per_invoice[invoice_id] = per_invoice.get(invoice_id, ZERO) + line["Amount"]
    for invoice_id, amount in per_invoice.items():
        invoice = tx.get("Invoice", invoice_id)
        if invoice is None:
            raise v.invalid_reference("Line.LinkedTxn.TxnId", invoice_id)
        if invoice["CustomerRef"]["value"] != props["CustomerRef"]["value"]:
            raise v.business(
                f"Invoice {invoice_id} belongs to another customer than this payment.",
                "Line.LinkedTxn",
            )
        # The real code is unverified: 6000 with a Detail that says what is wrong.
        open_balance = (
            invoice["TotalAmt"]
            - invoice.get("Deposit", ZERO)
            - applied_to(tx, invoice_id, skip_payment=own_id)
        )
        if amount > open_balance:
            raise v.business(
                f"The payment applies {amount} to invoice {invoice_id}, more than its open "
                f"balance of {open_balance}.",
                "Line.Amount",
            )
    applied = sum((line["Amount"] for line in lines), ZERO)
    if applied > total:
        raise v.business(
            f"The payment lines apply {applied}, more than the payment's TotalAmt of {total}.",
            "Line.Amount",
        )
    props.setdefault("TxnDate", old["TxnDate"] if old else company_day(tx.now))
    return {
        "ProcessPayment": False,
        # The sandbox's Undeposited Funds account, as in payment-create-response.json.
        "DepositToAccountRef": {"value": "4"},
        **props,
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "Line": lines,
        "UnappliedAmt": total - applied,
        "domain": "QBO",
        "sparse": False,
    }


def _payment_lines(raw: Any) -> list[Obj]:
    items = v.array(raw, "Line")
    if len(items) > _MAX_LINES:
        raise v.business(f"A transaction can hold at most {_MAX_LINES} lines.", "Line")
    out: list[Obj] = []
    for item in items:
        line = v.obj(item, "Line")
        v.only_known(line, frozenset({"Amount", "LinkedTxn", "LineEx", "Id"}), "Line")
        if line.get("Amount") is None:
            raise v.required("Line.Amount")
        amount = v.money(line["Amount"], "Line.Amount")
        if amount < 0:
            raise v.business("An applied amount cannot be negative.", "Line.Amount")
        if line.get("LinkedTxn") is None:
            raise v.required("Line.LinkedTxn")
        links = v.array(line["LinkedTxn"], "Line.LinkedTxn")
        if len(links) != 1:
            raise v.business("Each payment line must link exactly one invoice.", "Line.LinkedTxn")
        txn_id, txn_type = _linked_txn(links[0], "Line.LinkedTxn")
        if txn_type in ("CreditMemo", "JournalEntry", "Expense", "Check", "Deposit"):
            raise v.business(f"The emulator does not apply payments to {txn_type}.", "Line")
        if txn_type != "Invoice":
            raise v.invalid_enum("Line.LinkedTxn.TxnType", txn_type)
        out.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": "Invoice"}]})
    return out


def refresh(
    tx: Tx, invoices: Iterable[str], estimates: Iterable[str], customers: Iterable[str]
) -> None:
    """Recompute what other objects derive from a change; stamp those that visibly changed.

    Invoices and estimates whose Balance or LinkedTxn changed get a new SyncToken and an Update
    event, as QuickBooks does for an invoice a payment was applied to. A customer's Balance is an
    aggregate: it changes without a new SyncToken (choice: otherwise every sale would make the
    customer a client holds stale).
    """
    customer_ids = set(customers)
    for invoice_id in dict.fromkeys(invoices):
        invoice = tx.get("Invoice", invoice_id)
        if invoice is None:
            continue
        customer_ids.add(invoice["CustomerRef"]["value"])
        payments = [p["Id"] for p in tx.find("payment_invoice", invoice_id)]
        links = [
            link
            for link in invoice["LinkedTxn"]
            if link["TxnType"] == "Estimate" and tx.get("Estimate", link["TxnId"]) is not None
        ] + [{"TxnId": p, "TxnType": "Payment"} for p in payments]
        balance = invoice["TotalAmt"] - invoice.get("Deposit", ZERO) - applied_to(tx, invoice_id)
        if links != invoice["LinkedTxn"] or balance != invoice["Balance"]:
            mine = tx.for_update("Invoice", invoice_id)
            assert mine is not None
            mine["LinkedTxn"] = links
            mine["Balance"] = balance
            tx.stamp("Invoice", invoice_id, "Update")
    for estimate_id in dict.fromkeys(estimates):
        estimate = tx.get("Estimate", estimate_id)
        if estimate is None:
            continue
        linked = [
            {"TxnId": inv["Id"], "TxnType": "Invoice"}
            for inv in tx.find("invoice_estimate", estimate_id)
        ]
        if linked != estimate["LinkedTxn"]:
            mine = tx.for_update("Estimate", estimate_id)
            assert mine is not None
            mine["LinkedTxn"] = linked
            tx.stamp("Estimate", estimate_id, "Update")
    for customer_id in customer_ids:
        customer = tx.get("Customer", customer_id)
        if customer is None:
            continue
        # What the customer owes, less the credit they hold (CreditMemo reference: a credit
        # memo's RemainingCredit is theirs to use): it goes below zero when credit exceeds debt.
        balance = sum(
            (inv["Balance"] for inv in tx.find("invoice_customer", customer_id)), ZERO
        ) - sum(
            (memo["RemainingCredit"] for memo in tx.find("credit_memo_customer", customer_id)), ZERO
        )
        if balance != customer["Balance"]:
            mine = tx.for_update("Customer", customer_id)
            assert mine is not None
            mine["Balance"] = balance
            mine["BalanceWithJobs"] = balance


def refuse_if_deposited(name: str, obj: Mapping[str, Any]) -> None:
    """6540 for a change to a Payment or SalesReceipt a Deposit holds.

    Intuit's Payment reference ("Void a payment", quoted in Wish-Org/QuickBooksSharp#8): "If
    funds for the payment have been deposited, you must delete the associated deposit object
    before voiding the payment object"; the fault is 6540 "Deposited Transaction cannot be
    changed" (fault catalog). The emulator holds no Deposit entity: a deposit shows only as the
    LinkedTxn entry QuickBooks puts on the deposited transaction (set through a state restore).
    """
    if name not in ("Payment", "SalesReceipt"):
        return
    for link in obj.get("LinkedTxn") or []:
        if isinstance(link, Mapping) and link.get("TxnType") == "Deposit":
            raise QBOFault.one(
                "6540",
                "Deposited Transaction cannot be changed",
                f"Deposited Transaction cannot be changed: {name} {obj.get('Id')} is part of "
                f"deposit {link.get('TxnId')}; remove it from the deposit first.",
            )
