"""Business rules of the name lists (Customer, Item) and of CompanyInfo.

Rules from Intuit's Customer reference: DisplayName, Title, GivenName, MiddleName, FamilyName,
Suffix and PrintOnCheckName hold no colon, tab or newline; DisplayName is unique (6240) and, when
absent, is built from Title GivenName MiddleName FamilyName Suffix; without any of those the
request is refused with 6080. Intuit names no code for the colon rule: we answer 6000 (the
business rule catch-all) with a Detail that says which character and field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qb_mcp.emulator import values as v
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.realms import Obj, Tx

_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
_NO_SEPARATORS = ("DisplayName", *_NAME_PARTS, "PrintOnCheckName")
_USD = {"value": "USD", "name": "United States Dollar"}


def duplicate_name(detail: str) -> QBOFault:
    """6240 with the Detail real QuickBooks sends (batch-response.json)."""
    return QBOFault.one(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : {detail}",
    )


def _no_separators(props: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        value = props.get(name)
        if isinstance(value, str):
            for char, shown in (
                (":", "colon (:)"),
                ("\t", "tab"),
                ("\n", "newline"),
                ("\r", "newline"),
            ):
                if char in value:
                    raise v.business(f"{name} must not contain a {shown} character.", name)


def customer(tx: Tx, props: dict[str, Any], old: Obj | None) -> Obj:
    """The stored Customer for cleaned writable `props` (a create when `old` is None)."""
    display = props.get("DisplayName")
    if display is not None and not display.strip():
        display = None
    if display is None:
        parts = [props[p].strip() for p in _NAME_PARTS if props.get(p, "").strip()]
        if not parts:
            raise QBOFault.one(
                "6080",
                "No Name Provided",
                "Name must be specified : You must specify a name: DisplayName or at least one "
                "of Title, GivenName, MiddleName, FamilyName or Suffix.",
                element="DisplayName",
            )
        display = " ".join(parts)
        if len(display) > 500:
            raise v.too_long("DisplayName", 500, len(display))
    props["DisplayName"] = display
    _no_separators(props, _NO_SEPARATORS)
    own_id = old["Id"] if old else None
    folded = display.strip().casefold()
    for other in tx.find("customer_name", folded):
        if other["Id"] != own_id:
            raise duplicate_name(
                "Another customer, vendor or employee is already using this name. "
                "Please use a different name."
            )
    qualified = display
    parent = props.get("ParentRef")
    if parent is not None:
        found = tx.get("Customer", parent["value"])
        if found is None or not found.get("Active", True) or parent["value"] == own_id:
            raise v.invalid_reference("ParentRef", parent["value"])
        parent["name"] = found["DisplayName"]
        qualified = f"{found['FullyQualifiedName']}:{display}"
        props.setdefault("Job", True)
    email = props.get("PrimaryEmailAddr", {}).get("Address")
    if email and ("@" not in email or "." not in email):
        raise v.business(
            "Email address must contain an at sign (@) and a dot (.).", "PrimaryEmailAddr"
        )
    out: Obj = {
        "Taxable": False,
        "Job": False,
        "BillWithParent": False,
        "PreferredDeliveryMethod": "Print",
        "Active": True,
        **props,
        "FullyQualifiedName": qualified,
        "PrintOnCheckName": props.get("PrintOnCheckName") or props.get("CompanyName") or display,
        "CurrencyRef": dict(_USD),
        "Balance": old["Balance"] if old else Decimal("0.00"),
        "BalanceWithJobs": old["BalanceWithJobs"] if old else Decimal("0.00"),
        "domain": "QBO",
        "sparse": False,
    }
    address_ids(tx, out, ("BillAddr", "ShipAddr"), old)
    return out


def item(tx: Tx, props: dict[str, Any], old: Obj | None) -> Obj:
    """The stored Item for cleaned writable `props`."""
    name = props.get("Name", "")
    if not name.strip():
        raise v.required("Name")
    _no_separators(props, ("Name",))
    own_id = old["Id"] if old else None
    folded = name.strip().casefold()
    for other in tx.find("item_name", folded):
        if other["Id"] != own_id:
            raise duplicate_name(
                "Another product or service is already using this name. "
                "Please use a different name."
            )
    return {
        "Type": "Service",
        "Active": True,
        "Taxable": False,
        "UnitPrice": Decimal("0"),
        "TrackQtyOnHand": False,
        "IncomeAccountRef": {"value": "1", "name": "Services"},
        **props,
        "FullyQualifiedName": name,
        "domain": "QBO",
        "sparse": False,
    }


def company_info(tx: Tx, props: dict[str, Any], old: Obj | None) -> Obj:
    """The stored CompanyInfo for cleaned writable `props`."""
    if not props.get("CompanyName", "").strip():
        raise v.required("CompanyName")
    out: Obj = {
        "Country": "US",
        "SupportedLanguages": "en",
        "FiscalYearStartMonth": "January",
        **props,
        "domain": "QBO",
        "sparse": False,
    }
    address_ids(tx, out, ("CompanyAddr", "CustomerCommunicationAddr", "LegalAddr"), old)
    return out


def address_ids(tx: Tx, out: Obj, keys: tuple[str, ...], old: Obj | None) -> None:
    """QuickBooks gives every stored address its own Id (kept across updates)."""
    for key in keys:
        addr = out.get(key)
        if not isinstance(addr, dict):
            continue
        previous = (old or {}).get(key) or {}
        if previous.get("Id"):
            addr["Id"] = previous["Id"]
        else:
            addr["Id"] = str(tx.next_number("addr", 1))
