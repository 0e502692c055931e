"""The supporting lists: Term, PaymentMethod and Account, with the defaults a new company has.

Sources: Intuit's Term and PaymentMethod references (markdown copies in
github.com/Petrus-Han/finance_plugins ref/quickbooks_dev_docs/api-reference/term.md and
paymentmethod.md; their query samples are tests/samples/term-query-response.json and
paymentmethod-query-response.json), and the Account reference for AccountType/Classification.

Rules kept here:
- Name is required, at most 31 characters (Term, PaymentMethod) or 100 (Account), unique in its
  list (6240, like other name lists), no `:` in an account name. Lists are never deleted, only
  made inactive.
- Term: STANDARD when DueDays is given (0..999), DATE_DRIVEN when DayOfMonthDue (1..31) is; one of
  them is required. PaymentMethod Type is CREDIT_CARD or NON_CREDIT_CARD (default the latter).
- Account: AccountType decides Classification; CurrentBalance is not kept (0).
- `due_date` is the one place a term turns a transaction date into a due date (invoices).
- References: `active_ref` checks that a SalesTermRef, PaymentMethodRef, IncomeAccountRef or
  DepositToAccountRef points at a live, active object of the right kind (else 2500).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qb_mcp.emulator import fields as f
from qb_mcp.emulator import values as v
from qb_mcp.emulator.names import duplicate_name
from qb_mcp.emulator.realms import Obj, Tx


def _whole(low: int, high: int) -> f.Parser:
    def parse(value: Any, element: str) -> int:
        number = v.number(value, element)
        if number != number.to_integral_value() or not low <= number <= high:
            raise v.invalid_property(f"{element} must be a whole number {low}..{high}", element)
        return int(number)

    return parse


TERM: dict[str, f.Parser] = {
    "Name": f.string(31),
    "Active": f.boolean,
    "DueDays": _whole(0, 999),
    "DiscountDays": _whole(0, 999),
    "DiscountPercent": f.number,
    "DayOfMonthDue": _whole(1, 31),
    "DueNextMonthDays": _whole(0, 999),
    "DiscountDayOfMonth": _whole(0, 31),
}
TERM_READ_ONLY = f.COMMON_READ_ONLY | {"Type"}
PAYMENT_METHOD: dict[str, f.Parser] = {
    "Name": f.string(31),
    "Active": f.boolean,
    "Type": f.enum("CREDIT_CARD", "NON_CREDIT_CARD"),
}
PAYMENT_METHOD_READ_ONLY = f.COMMON_READ_ONLY
_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}
ACCOUNT: dict[str, f.Parser] = {
    "Name": f.string(100),
    "Active": f.boolean,
    "AccountType": f.enum(*_CLASSIFICATION),
    "AccountSubType": f.string(100),
    "AcctNum": f.string(20),
    "Description": f.string(100),
    "ParentRef": f.ref,
    "TaxCodeRef": f.ref,
}
ACCOUNT_READ_ONLY = f.COMMON_READ_ONLY | {
    "Classification",
    "CurrentBalance",
    "CurrentBalanceWithSubAccounts",
    "FullyQualifiedName",
    "SubAccount",
    "CurrencyRef",
}
FIELDS: dict[str, tuple[dict[str, f.Parser], frozenset[str]]] = {
    "Term": (TERM, TERM_READ_ONLY),
    "PaymentMethod": (PAYMENT_METHOD, PAYMENT_METHOD_READ_ONLY),
    "Account": (ACCOUNT, ACCOUNT_READ_ONLY),
}

# What every new company has (ids in this order): the samples' defaults.
DEFAULT_TERMS = (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60))
DEFAULT_METHODS = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("Discover", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
    ("Diners Club", "CREDIT_CARD"),
)
# Account 1 is the income account items default to (names.item), 4 Undeposited Funds is where
# payments go by default (payment-create-response.json), as in a sandbox company.
DEFAULT_ACCOUNTS = (
    ("Services", "Income", "ServiceFeeIncome"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Checking", "Bank", "Checking"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
)
NET_30_DAYS = 30  # a new company's default terms (invoice-create-response.json: +30 days)


def seed_bodies() -> list[tuple[str, dict[str, Any]]]:
    """(entity, create body) for every default list entry, in id order."""
    out: list[tuple[str, dict[str, Any]]] = []
    out += [("Term", {"Name": name, "DueDays": days}) for name, days in DEFAULT_TERMS]
    out += [("PaymentMethod", {"Name": name, "Type": kind}) for name, kind in DEFAULT_METHODS]
    out += [
        ("Account", {"Name": name, "AccountType": kind, "AccountSubType": sub})
        for name, kind, sub in DEFAULT_ACCOUNTS
    ]
    return out


def build(tx: Tx, name: str, props: dict[str, Any], old: Obj | None) -> Obj:
    """The stored Term, PaymentMethod or Account for cleaned writable `props`."""
    title = props.get("Name", "")
    if not title.strip():
        raise v.required("Name")
    own_id = old["Id"] if old else None
    folded = title.strip().casefold()
    # These lists hold tens of entries: a scan of the committed ones is enough (a create adds
    # one entry per unit of work, so no pending entry can clash).
    for entry_id in list(tx.realm.objects.get(name, {})):
        other = tx.get(name, entry_id)
        if other is None or other["Id"] == own_id:
            continue
        if other["Name"].strip().casefold() == folded:
            raise duplicate_name(f"Another {name} is already using this name: {title[:100]}")
    common = {"Active": True, **props, "domain": "QBO", "sparse": False}
    if name == "Term":
        if "DueDays" in props:
            return {"DiscountPercent": Decimal(0), "DiscountDays": 0, **common, "Type": "STANDARD"}
        if "DayOfMonthDue" in props:
            return {"DiscountPercent": Decimal(0), **common, "Type": "DATE_DRIVEN"}
        raise v.required("DueDays")
    if name == "PaymentMethod":
        return {"Type": "NON_CREDIT_CARD", **common}
    if ":" in title:
        raise v.invalid_property("An account name cannot contain ':'", "Name")
    if "AccountType" not in props:
        raise v.required("AccountType")
    return {
        **common,
        "FullyQualifiedName": title,
        "Classification": _CLASSIFICATION[props["AccountType"]],
        "CurrentBalance": Decimal(0),
        "CurrentBalanceWithSubAccounts": Decimal(0),
        "SubAccount": False,
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
    }


def active_ref(
    tx: Tx, entity: str, ref: dict[str, str], element: str, *, types: tuple[str, ...] = ()
) -> Obj:
    """The live, active object `ref` points at (and of one of `types`, for an Account); the
    ref gets the object's name, as QuickBooks answers it."""
    found = tx.get(entity, ref["value"])
    if found is None or not found.get("Active", True):
        raise v.invalid_reference(element, ref["value"])
    if types and found.get("AccountType") not in types:
        raise v.business(
            f"{element} {ref['value']} is a {found.get('AccountType')} account; "
            f"it must be one of: {', '.join(types)}.",
            element,
        )
    ref["name"] = found["Name"]
    return found


def due_date(txn_date: date, term: Mapping[str, Any] | None) -> date:
    """When an invoice dated `txn_date` is due under `term` (None: the company's Net 30)."""
    if term is None:
        return txn_date + timedelta(days=NET_30_DAYS)
    if term.get("DueDays") is not None:
        return txn_date + timedelta(days=int(term["DueDays"]))
    day_due = int(term.get("DayOfMonthDue") or 1)
    cutoff = int(term.get("DueNextMonthDays") or 0)

    def in_month(year: int, month: int) -> date:
        return date(year, month, min(day_due, calendar.monthrange(year, month)[1]))

    year, month = txn_date.year, txn_date.month
    due = in_month(year, month)
    while due < txn_date or (due - txn_date).days < cutoff:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        due = in_month(year, month)
    return due


# Which list each reference property points into (and the account types it takes).
_REFS: dict[str, tuple[str, tuple[str, ...]]] = {
    "SalesTermRef": ("Term", ()),
    "PaymentMethodRef": ("PaymentMethod", ()),
    "DepositToAccountRef": ("Account", ("Bank", "Other Current Asset")),
    "IncomeAccountRef": ("Account", ("Income", "Other Income")),
}


def check_refs(tx: Tx, props: dict[str, Any]) -> None:
    """Every list reference in a body's cleaned `props` points at an active object (2500)."""
    for key, (entity, types) in _REFS.items():
        if key in props:
            active_ref(tx, entity, props[key], key, types=types)


def term_of(tx: Tx, ref: Mapping[str, str] | None) -> Obj | None:
    """The Term a SalesTermRef names (checked already), or None."""
    return None if ref is None else tx.get("Term", ref["value"])
