"""Which properties each entity takes, and how each is read from a request body.

A property listed here is writable: a full update that leaves it out drops it (QBO_API.md section
5), a sparse update keeps it. Read-only properties (Id, SyncToken, MetaData, balances, totals) are
accepted in a body and ignored, since clients send back what they read; anything else is refused
with 2010, as QuickBooks' deserialiser does.

An empty string in a date or an enumeration (`"TxnDate": ""`, `"PreferredDeliveryMethod": ""`)
is taken as the property not sent, as QuickBooks takes it: python-quickbooks sends these defaults on
every create and save, and its integration tests save such bodies in a real company
(python-quickbooks#400 reports QuickBooks accepting `"ServiceDate": ""`). A parser returns
`None` for "treat as absent".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from qb_mcp.emulator import values as v
from qb_mcp.emulator.faults import QBOFault

Parser = Callable[[Any, str], Any]
_MAX_DEPTH = 20


def string(limit: int) -> Parser:
    return lambda value, element: v.text(value, element, limit)


def enum(*choices: str) -> Parser:
    def parse(value: Any, element: str) -> str | None:
        raw = v.text(value, element, 100)
        if raw == "":
            return None  # the property not sent (module docstring)
        if raw not in choices:
            raise v.invalid_enum(element, raw)
        return raw

    return parse


def _sub(type_name: str, props: Mapping[str, Parser]) -> Parser:
    """An object with a fixed set of properties (address, email, phone...)."""
    known = frozenset(props)

    def parse(value: Any, element: str) -> dict[str, Any]:
        body = v.obj(value, element)
        v.only_known(body, known, type_name)
        return read(body, props, f"{element}.")

    return parse


def read(body: Mapping[str, Any], props: Mapping[str, Parser], prefix: str = "") -> dict[str, Any]:
    """The properties of `props` present in `body`, each parsed; null and blank ones left out."""
    out: dict[str, Any] = {}
    for key, parser in props.items():
        if body.get(key) is not None:
            value = parser(body[key], f"{prefix}{key}")
            if value is not None:
                out[key] = value
    return out


def plain(value: Any, element: str, depth: int = 0) -> Any:
    """Pass-through JSON (custom fields and the like), checked to be plain JSON data."""
    if depth > _MAX_DEPTH:
        raise v.invalid_property(f"{element} is nested too deeply", element)
    if value is None or isinstance(value, bool | str | int | Decimal):
        return v.text(value, element) if isinstance(value, str) else value
    if isinstance(value, float):
        return v.number(value, element)
    if isinstance(value, list):
        return [plain(item, element, depth + 1) for item in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise v.invalid_property(f"{element} has a non-string key", element)
            out[key] = plain(item, f"{element}.{key}", depth + 1)
        return out
    raise v.invalid_property(f"{element} is not JSON data", element)


def plain_object(value: Any, element: str) -> Any:
    return plain(v.obj(value, element), element)


def plain_list(value: Any, element: str) -> Any:
    return plain(v.array(value, element), element)


email = _sub("EmailAddress", {"Address": string(100)})
phone = _sub("TelephoneNumber", {"FreeFormNumber": string(30)})
web = _sub("WebSiteAddress", {"URI": string(1000)})
memo = _sub("MemoRef", {"value": string(1000)})
address = _sub(
    "PhysicalAddress",
    {
        "Id": string(100),
        **{f"Line{n}": string(500) for n in range(1, 6)},
        "City": string(255),
        "Country": string(255),
        "CountryCode": string(10),
        "CountrySubDivisionCode": string(255),
        "PostalCode": string(30),
        "PostalCodeSuffix": string(30),
        "Lat": string(100),
        "Long": string(100),
        "Note": string(4000),
    },
)
ref: Parser = v.ref
boolean: Parser = v.boolean
number: Parser = v.number
money: Parser = v.money


def day(value: Any, element: str) -> str | None:
    """A `YYYY-MM-DD` date; "" is the property not sent (module docstring)."""
    if value == "":
        return None
    return v.day(value, element)


def blank_or_boolean(value: Any, element: str) -> bool | None:
    """A boolean where "" is the property not sent: python-quickbooks' `CreditMemo()` sends
    `ApplyTaxAfterDiscount: ""`, and its own integration test saves that body in a real sandbox
    company (ej2/python-quickbooks tests/integration/test_creditmemo.py)."""
    if value == "":
        return None
    return v.boolean(value, element)


# Ignored when sent: computed by QuickBooks or this emulator.
COMMON_READ_ONLY = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "time"})

CUSTOMER: dict[str, Parser] = {
    "Title": string(16),
    "GivenName": string(100),
    "MiddleName": string(100),
    "FamilyName": string(100),
    "Suffix": string(16),
    "DisplayName": string(500),
    "CompanyName": string(100),
    "PrintOnCheckName": string(110),
    "PrimaryEmailAddr": email,
    "PrimaryPhone": phone,
    "Mobile": phone,
    "AlternatePhone": phone,
    "Fax": phone,
    "WebAddr": web,
    "BillAddr": address,
    "ShipAddr": address,
    "Notes": string(2000),
    "Active": boolean,
    "Taxable": boolean,
    "BillWithParent": boolean,
    "Job": boolean,
    "ParentRef": ref,
    "PreferredDeliveryMethod": enum("Print", "Email", "None"),
    "ResaleNum": string(16),
    "CurrencyRef": ref,
    "DefaultTaxCodeRef": ref,
    "SalesTermRef": ref,
    "PaymentMethodRef": ref,
    "CustomerTypeRef": ref,
    "ARAccountRef": ref,
    "OpenBalanceDate": day,
    "TaxExemptionReasonId": string(100),
    "PrimaryTaxIdentifier": string(100),
    "SecondaryTaxIdentifier": string(100),
    "BusinessNumber": string(10),
    "GSTIN": string(15),
    "GSTRegistrationType": string(15),
    "Source": string(100),
}
CUSTOMER_READ_ONLY = COMMON_READ_ONLY | {
    "Balance",
    "BalanceWithJobs",
    "FullyQualifiedName",
    "Level",
    "IsProject",
}

ITEM: dict[str, Parser] = {
    "Name": string(100),
    "Description": string(4000),
    "Active": boolean,
    "Type": enum("Service", "Inventory", "NonInventory"),
    "UnitPrice": number,
    "PurchaseCost": number,
    "PurchaseDesc": string(1000),
    "Taxable": boolean,
    "SalesTaxIncluded": boolean,
    "PurchaseTaxIncluded": boolean,
    "Sku": string(100),
    "IncomeAccountRef": ref,
    "ExpenseAccountRef": ref,
    "AssetAccountRef": ref,
    "SalesTaxCodeRef": ref,
    "PurchaseTaxCodeRef": ref,
    "PrefVendorRef": ref,
    "ClassRef": ref,
    "ParentRef": ref,
    "SubItem": boolean,
    "TrackQtyOnHand": boolean,
    "QtyOnHand": number,
    "ReorderPoint": number,
    "InvStartDate": day,
    "Source": string(100),
}
ITEM_READ_ONLY = COMMON_READ_ONLY | {"FullyQualifiedName", "Level"}

COMPANY_INFO: dict[str, Parser] = {
    "CompanyName": string(1024),
    "LegalName": string(1024),
    "CompanyAddr": address,
    "CustomerCommunicationAddr": address,
    "LegalAddr": address,
    "CustomerCommunicationEmailAddr": email,
    "PrimaryPhone": phone,
    "Email": email,
    "WebAddr": web,
    "CompanyStartDate": day,
    "FiscalYearStartMonth": enum(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "Country": string(100),
    "SupportedLanguages": string(100),
    "NameValue": plain_list,
    "EmployerId": string(100),
}
COMPANY_INFO_READ_ONLY = COMMON_READ_ONLY

_SALES_COMMON: dict[str, Parser] = {
    "CustomerRef": ref,
    "TxnDate": day,
    "DueDate": day,
    "DocNumber": string(21),
    "PrivateNote": string(4000),
    "CustomerMemo": memo,
    "BillEmail": email,
    "BillEmailCc": email,
    "BillEmailBcc": email,
    "BillAddr": address,
    "ShipAddr": address,
    "ShipFromAddr": address,
    "ShipDate": day,
    "ShipMethodRef": ref,
    "TrackingNum": string(31),
    "SalesTermRef": ref,
    "ClassRef": ref,
    "DepartmentRef": ref,
    "ProjectRef": ref,
    "CurrencyRef": ref,
    "RecurDataRef": ref,
    "TaxExemptionRef": ref,
    "ExchangeRate": number,
    "PrintStatus": enum("NotSet", "NeedToPrint", "PrintComplete"),
    "EmailStatus": enum("NotSet", "NeedToSend", "EmailSent"),
    "ApplyTaxAfterDiscount": boolean,
    "FreeFormAddress": boolean,
    "GlobalTaxCalculation": enum("TaxExcluded", "TaxInclusive", "NotApplicable"),
    "TransactionLocationType": string(100),
    "TxnSource": string(100),
    "CustomField": plain_list,
    "DeliveryInfo": plain_object,
    "TxnTaxDetail": plain_object,
    "AllowOnlinePayment": boolean,
    "AllowOnlineCreditCardPayment": boolean,
    "AllowOnlineACHPayment": boolean,
    "AllowIPNPayment": boolean,
}
# Parsed by the sales rules, not by a plain parser: present here so the key is known.
LINES = "Line"

ESTIMATE: dict[str, Parser] = {
    **_SALES_COMMON,
    "TxnStatus": enum("Pending", "Accepted", "Closed", "Rejected", "Converted"),
    "ExpirationDate": day,
    "AcceptedBy": string(100),
    "AcceptedDate": day,
}
ESTIMATE_READ_ONLY = COMMON_READ_ONLY | {
    "TotalAmt",
    "HomeTotalAmt",
    "LinkedTxn",
    "Line",
}

INVOICE: dict[str, Parser] = {
    **_SALES_COMMON,
    "Deposit": money,
    "DepositToAccountRef": ref,
}
INVOICE_READ_ONLY = COMMON_READ_ONLY | {
    "TotalAmt",
    "HomeTotalAmt",
    "Balance",
    "HomeBalance",
    "LinkedTxn",
    "Line",
    "InvoiceLink",
}

# A sale paid at once (Intuit's SalesReceipt reference): the sales properties and how it was paid.
SALES_RECEIPT: dict[str, Parser] = {
    **{k: p for k, p in _SALES_COMMON.items() if k != "DueDate"},
    "PaymentMethodRef": ref,
    "PaymentRefNum": string(21),
    "DepositToAccountRef": ref,
    "CreditCardPayment": plain_object,
}
SALES_RECEIPT_READ_ONLY = COMMON_READ_ONLY | {
    "TotalAmt",
    "HomeTotalAmt",
    "Balance",
    "HomeBalance",
    "LinkedTxn",
    "Line",
}

# A credit given to a customer (Intuit's CreditMemo reference): the sales properties, no due date;
# PaymentMethodRef is read-only there, InvoiceRef names the invoice it was issued for.
CREDIT_MEMO: dict[str, Parser] = {
    **{k: p for k, p in _SALES_COMMON.items() if k != "DueDate"},
    "InvoiceRef": ref,
    "ApplyTaxAfterDiscount": blank_or_boolean,
}
CREDIT_MEMO_READ_ONLY = COMMON_READ_ONLY | {
    "TotalAmt",
    "HomeTotalAmt",
    "Balance",
    "HomeBalance",
    "RemainingCredit",
    "LinkedTxn",
    "Line",
    "PaymentMethodRef",
}

# Money paid back to a customer (Intuit's RefundReceipt reference): lines as a sale's, and the
# account the money left (DepositToAccountRef, required) and how (PaymentMethodRef).
REFUND_RECEIPT: dict[str, Parser] = {
    **{k: p for k, p in _SALES_COMMON.items() if k != "DueDate"},
    "PaymentMethodRef": ref,
    "PaymentRefNum": string(100),
    "PaymentType": enum("Cash", "Check", "CreditCard", "Other"),
    "DepositToAccountRef": ref,
    "CheckPayment": plain_object,
    "CreditCardPayment": plain_object,
}
REFUND_RECEIPT_READ_ONLY = SALES_RECEIPT_READ_ONLY

PAYMENT: dict[str, Parser] = {
    "CustomerRef": ref,
    "TotalAmt": money,
    "TxnDate": day,
    "PaymentRefNum": string(21),
    "PrivateNote": string(4000),
    "PaymentMethodRef": ref,
    "DepositToAccountRef": ref,
    "ARAccountRef": ref,
    "CurrencyRef": ref,
    "ProjectRef": ref,
    "ExchangeRate": number,
    "ProcessPayment": boolean,
    "CreditCardPayment": plain_object,
    "TxnSource": string(100),
    "TransactionLocationType": string(100),
}
PAYMENT_READ_ONLY = COMMON_READ_ONLY | {"UnappliedAmt", "Line", "LinkedTxn"}


def parse(
    body: Mapping[str, Any],
    props: Mapping[str, Parser],
    read_only: frozenset[str],
    type_name: str,
) -> dict[str, Any]:
    """The writable properties present (not null) in `body`, each checked and cleaned."""
    v.only_known(body, frozenset(props) | read_only, type_name)
    return read(body, props)


def writable(stored: Mapping[str, Any], props: Mapping[str, Parser]) -> dict[str, Any]:
    """The writable part of a stored object: what a sparse update starts from."""
    return {key: value for key, value in stored.items() if key in props}


def check(condition: bool, fault: QBOFault) -> None:
    """Raise `fault` unless `condition` holds."""
    if not condition:
        raise fault
