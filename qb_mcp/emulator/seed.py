"""The demo and empty companies the emulator starts with.

Seed objects are created through the backend's own write rules, so the demo data is consistent
by construction (balances, links, DocNumbers) and stays so when the rules change. Dates are
relative to the emulator's clock: the overdue invoice is always overdue, the expired estimate
always expired.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from qb_mcp.emulator import lists
from qb_mcp.emulator.realms import Realm, company_day

if TYPE_CHECKING:
    from qb_mcp.emulator.backend import Backend

DEMO_REALM_ID = "9341453050298"
DEMO_COMPANY_NAME = "Craig's Design and Landscaping Services"

# (DisplayName, GivenName, FamilyName, email, phone, (Line1, City, State, PostalCode, Country))
_CUSTOMERS: list[tuple[str, str, str, str | None, str | None, tuple[str, str, str, str, str]]] = [
    (
        "Amy's Bird Sanctuary",
        "Amy",
        "Lauterbach",
        "Birds@Intuit.com",
        "(650) 555-3311",
        ("4581 Finch St.", "Bayshore", "CA", "94326", "USA"),
    ),
    (
        "O'Brien Plumbing",
        "Sean",
        "O'Brien",
        "sean@obrienplumbing.example",
        "650.555.0142",
        ("17 Mill Lane", "Palo Alto", "CA", "94303", "USA"),
    ),
    (
        "Café Zoë",
        "Zoë",
        "Durand",
        "bonjour@cafezoe.example",
        "+1 415 555 0199",
        ("250 Rue Market", "San Francisco", "CA", "94105", "USA"),
    ),
    (
        "Müller GmbH",
        "Jürgen",
        "Müller",
        "j.mueller@mueller-gmbh.example",
        "+49 30 1234567",
        ("Friedrichstraße 12", "Berlin", "BE", "10117", "Germany"),
    ),
    (
        "Søren Kierkegaard",
        "Søren",
        "Kierkegaard",
        "soren@kierkegaard.example",
        "555-0123",
        ("Nytorv 2", "København", "84", "1450", "Denmark"),
    ),
    (
        "Bill's Windsurf Shop",
        "Bill",
        "Lucchini",
        "Surf@Intuit.com",
        "(415) 444-6538",
        ("12 Ocean Dr.", "Half Moon Bay", "CA", "94213", "USA"),
    ),
    (
        "Cool Cars",
        "Grace",
        "Pariente",
        "Cool_Cars@intuit.com",
        "(415) 555-9933",
        ("65 Ocean Dr.", "Half Moon Bay", "CA", "94213", "USA"),
    ),
    (
        "Dylan Sollfrank",
        "Dylan",
        "Sollfrank",
        None,
        "6505550987",
        ("9 Shoreline Blvd", "Mountain View", "CA", "94043", "USA"),
    ),
    (
        "Weiskopf Consulting",
        "Nicola",
        "Weiskopf",
        "Consulting@intuit.com",
        "(650) 555-1423",
        ("45612 Main St.", "Bayshore", "CA", "94326", "USA"),
    ),
    (
        "Red Rock Diner",
        "Stephanie",
        "Martini",
        "qbwebsamplecompany@yahoo.com",
        "(650) 555-4973",
        ("500 Red Rock Rd.", "Bayshore", "CA", "94326", "USA"),
    ),
    (
        "Sonnenschein Family Store",
        "Russ",
        "Sonnenschein",
        "Familiystore@intuit.com",
        "(650) 557-8463",
        ("5647 Cypress Hill Ave.", "Middlefield", "CA", "94303", "USA"),
    ),
    (
        "Kookies by Kathy",
        "Kathy",
        "Kuplis",
        "qbwebsamplecompany@yahoo.com",
        None,
        ("789 Sugar Lane", "Middlefield", "CA", "94303", "USA"),
    ),
]

# (Name, Description, UnitPrice); item 1 "Services" exists in every company.
_ITEMS = [
    ("Hours", "Hourly work", "75"),
    ("Design", "Custom design", "75"),
    ("Installation", "Installation of landscape design", "50"),
    ("Landscaping", "Landscaping services", "35"),
]


def populate(backend: Backend, realm: Realm) -> None:
    """Fill a new realm with its seed (`realm.seed` is "demo" or "empty")."""
    backend.seed_write(realm, "CompanyInfo", _company(realm.company_name or DEMO_COMPANY_NAME))
    # Every company has the default terms, payment methods and accounts (lists.py), before
    # the item that points at the Services income account.
    for entity, body in lists.seed_bodies():
        backend.seed_write(realm, entity, body)
    backend.seed_write(
        realm,
        "Item",
        {"Name": "Services", "Type": "Service", "Description": "Services", "UnitPrice": 0},
    )
    if realm.seed == "demo":
        _demo(backend, realm)


def _company(name: str) -> dict[str, Any]:
    return {
        "CompanyName": name,
        "LegalName": name,
        "CompanyAddr": {
            "Line1": "123 Sierra Way",
            "City": "San Pablo",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "87999",
            "Country": "US",
        },
        "CustomerCommunicationAddr": {
            "Line1": "123 Sierra Way",
            "City": "San Pablo",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "87999",
        },
        "LegalAddr": {
            "Line1": "123 Sierra Way",
            "City": "San Pablo",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "87999",
        },
        "PrimaryPhone": {"FreeFormNumber": "(650) 944-4444"},
        "Email": {"Address": "donotreply@intuit.com"},
        "WebAddr": {},
        "CompanyStartDate": "2015-06-05",
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Landscape Services"},
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
        ],
    }


def _demo(backend: Backend, realm: Realm) -> None:
    today = date.fromisoformat(company_day(backend_now(backend)))

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    for name, given, family, email, phone, (line1, city, state, postal, country) in _CUSTOMERS:
        body: dict[str, Any] = {
            "DisplayName": name,
            "GivenName": given,
            "FamilyName": family,
            "CompanyName": None if name == f"{given} {family}" else name,
            "BillAddr": {
                "Line1": line1,
                "City": city,
                "CountrySubDivisionCode": state,
                "PostalCode": postal,
                "Country": country,
            },
        }
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        if phone:
            body["PrimaryPhone"] = {"FreeFormNumber": phone}
        backend.seed_write(realm, "Customer", body)
    ids = {c["DisplayName"]: c["Id"] for c in realm.objects["Customer"].values()}
    kathy = realm.objects["Customer"][ids["Kookies by Kathy"]]
    backend.seed_op(
        realm,
        "Customer",
        {"Id": kathy["Id"], "SyncToken": kathy["SyncToken"], "sparse": True, "Active": False},
        "update",
    )
    for name, description, price in _ITEMS:
        backend.seed_write(
            realm,
            "Item",
            {"Name": name, "Type": "Service", "Description": description, "UnitPrice": price},
        )
    items = {i["Name"]: i["Id"] for i in realm.objects["Item"].values()}

    def line(item: str, qty: str, price: str, amount: str, text: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "DetailType": "SalesItemLineDetail",
            "Amount": amount,
            "SalesItemLineDetail": {
                "ItemRef": {"value": items[item]},
                "Qty": qty,
                "UnitPrice": price,
            },
        }
        if text:
            out["Description"] = text
        return out

    def customer(name: str) -> dict[str, str]:
        return {"value": ids[name]}

    memo = {"value": "Thank you for your business and have a great day!"}
    backend.seed_write(
        realm,
        "Estimate",
        {
            "CustomerRef": customer("Amy's Bird Sanctuary"),
            "TxnDate": day(-5),
            "ExpirationDate": day(25),
            "CustomerMemo": memo,
            "Line": [line("Design", "2", "75", "150.00", "Bird bath garden design")],
        },
    )
    backend.seed_write(
        realm,
        "Estimate",
        {
            "CustomerRef": customer("O'Brien Plumbing"),
            "TxnDate": day(-10),
            "ExpirationDate": day(20),
            "TxnStatus": "Accepted",
            "AcceptedBy": "Sean O'Brien",
            "AcceptedDate": day(-8),
            "Line": [
                line("Installation", "4", "50", "200.00", "Pipe trench landscaping"),
                line("Hours", "1.5", "75", "112.50", "Site visit"),
            ],
        },
    )
    backend.seed_write(
        realm,
        "Estimate",
        {
            "CustomerRef": customer("Cool Cars"),
            "TxnDate": day(-20),
            "ExpirationDate": day(10),
            "TxnStatus": "Rejected",
            "Line": [line("Landscaping", "10", "35", "350.00", "Showroom planters")],
        },
    )
    backend.seed_write(
        realm,
        "Estimate",
        {
            "CustomerRef": customer("Café Zoë"),
            "TxnDate": day(-40),
            "ExpirationDate": day(-3),
            "Line": [line("Design", "3", "75", "225.00", "Terrace design")],
        },
    )
    converted = backend.seed_write(
        realm,
        "Estimate",
        {
            "CustomerRef": customer("Müller GmbH"),
            "TxnDate": day(-30),
            "ExpirationDate": day(0),
            "TxnStatus": "Closed",
            "AcceptedBy": "Jürgen Müller",
            "AcceptedDate": day(-28),
            "Line": [
                line("Hours", "3", "75", "225.00", "Garden consultation"),
                line("Services", "1", "100", "100.00", "Planting"),
            ],
        },
    )
    partly = backend.seed_write(
        realm,
        "Invoice",
        {
            "CustomerRef": customer("Müller GmbH"),
            "TxnDate": day(-25),
            "DueDate": day(5),
            "LinkedTxn": [{"TxnId": converted["Id"], "TxnType": "Estimate"}],
            "Line": [
                line("Hours", "3", "75", "225.00", "Garden consultation"),
                line("Services", "1", "100", "100.00", "Planting"),
            ],
        },
    )
    paid = backend.seed_write(
        realm,
        "Invoice",
        {
            "CustomerRef": customer("Bill's Windsurf Shop"),
            "TxnDate": day(-20),
            "DueDate": day(10),
            "Line": [line("Landscaping", "2", "42.50", "85.00", "Dune grass planting")],
        },
    )
    backend.seed_write(
        realm,
        "Invoice",
        {
            "CustomerRef": customer("Søren Kierkegaard"),
            "TxnDate": day(-45),
            "DueDate": day(-15),
            "CustomerMemo": memo,
            "Line": [line("Design", "4.5", "75", "337.50", "Reading garden design")],
        },
    )
    backend.seed_write(
        realm,
        "Invoice",
        {
            "CustomerRef": customer("Amy's Bird Sanctuary"),
            "TxnDate": day(-3),
            "DueDate": day(27),
            "Line": [line("Services", "1", "274", "274.00", "Aviary maintenance")],
        },
    )
    backend.seed_write(
        realm,
        "Payment",
        {
            "CustomerRef": customer("Müller GmbH"),
            "TotalAmt": "125.00",
            "TxnDate": day(-10),
            "PaymentRefNum": "4711",
            "Line": [
                {"Amount": "125.00", "LinkedTxn": [{"TxnId": partly["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    backend.seed_write(
        realm,
        "Payment",
        {
            "CustomerRef": customer("Bill's Windsurf Shop"),
            "TotalAmt": "85.00",
            "TxnDate": day(-2),
            "Line": [
                {"Amount": "85.00", "LinkedTxn": [{"TxnId": paid["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    backend.seed_write(
        realm,
        "Payment",
        {
            "CustomerRef": customer("Amy's Bird Sanctuary"),
            "TotalAmt": "50.00",
            "TxnDate": day(-1),
            "PrivateNote": "Deposit, not yet applied",
        },
    )
    # Weiskopf Consulting paid on the spot, by check into the checking account.
    methods = {m["Name"]: m["Id"] for m in realm.objects["PaymentMethod"].values()}
    accounts = {a["Name"]: a["Id"] for a in realm.objects["Account"].values()}
    backend.seed_write(
        realm,
        "SalesReceipt",
        {
            "CustomerRef": customer("Weiskopf Consulting"),
            "TxnDate": day(-4),
            "PaymentMethodRef": {"value": methods["Check"]},
            "PaymentRefNum": "2290",
            "DepositToAccountRef": {"value": accounts["Checking"]},
            "Line": [line("Hours", "2", "75", "150.00", "Office plant care")],
        },
    )
    # Cool Cars paid by card at the counter; the money waits in Undeposited Funds.
    backend.seed_write(
        realm,
        "SalesReceipt",
        {
            "CustomerRef": customer("Cool Cars"),
            "TxnDate": day(-2),
            "PaymentMethodRef": {"value": methods["Visa"]},
            "Line": [line("Landscaping", "1", "35", "35.00", "Hedge trim")],
        },
    )
    # Credit the customers keep for later invoices: each lowers that customer's Balance.
    backend.seed_write(
        realm,
        "CreditMemo",
        {
            "CustomerRef": customer("Amy's Bird Sanctuary"),
            "TxnDate": day(-2),
            "CustomerMemo": {"value": "Goodwill credit for the late visit"},
            "Line": [line("Services", "1", "50", "50.00", "Late visit credit")],
        },
    )
    backend.seed_write(
        realm,
        "CreditMemo",
        {
            "CustomerRef": customer("Søren Kierkegaard"),
            "TxnDate": day(-6),
            "Line": [line("Design", "0.5", "75", "37.50", "Design hours not used")],
        },
    )


def backend_now(backend: Backend) -> float:
    """The backend's clock reading (seed dates are relative to it)."""
    return backend.now()
