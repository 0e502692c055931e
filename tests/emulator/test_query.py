"""The emulator's query language: what it answers, and what it refuses with which fault."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.query import QUERYABLE, SORTABLE, execute


def _customer(id_: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"Id": id_, "DisplayName": name, "Active": True, "SyncToken": "0", **extra}


ROWS: dict[str, list[dict[str, Any]]] = {
    "Customer": [
        _customer(
            "1",
            "Amy's Bird Sanctuary",
            GivenName="Amy",
            FamilyName="Lauterbach",
            Balance=Decimal("274.00"),
            PrimaryEmailAddr={"Address": "Birds@Intuit.com"},
            PrimaryPhone={"FreeFormNumber": "(650) 555-3311"},
            MetaData={
                "CreateTime": "2014-09-11T16:48:43-07:00",
                "LastUpdatedTime": "2015-07-01T10:14:15-07:00",
            },
        ),
        _customer(
            "2",
            "O'Brien Ltd",
            Balance=Decimal("0"),
            # 07:30 UTC on 1 March: still 28 February in Pacific (PST, -08:00) time.
            MetaData={
                "CreateTime": "2015-02-01T09:00:00-08:00",
                "LastUpdatedTime": "2015-02-28T23:30:00-08:00",
            },
        ),
        _customer("3", "Zoë Café", Active=False, Balance=Decimal("12.50")),
        _customer("10", "Back\\slash Co", Balance=Decimal("100")),
        _customer("4", "100% Pure", Balance=Decimal("99.99"), GivenName="Pat"),
    ],
    "Item": [
        {"Id": "1", "Name": "Services", "Type": "Service", "Active": True},
        {"Id": "2", "Name": "Hours", "Type": "Service", "Active": False},
        {"Id": "3", "Name": "Widget", "Type": "NonInventory", "Active": True},
    ],
    "Invoice": [
        {
            "Id": "130",
            "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
            "TxnDate": "2014-09-19",
            "DueDate": "2014-10-19",
            "DocNumber": "1037",
            "Balance": Decimal("362.07"),
            "TotalAmt": Decimal("362.07"),
        },
        {
            "Id": "9",
            "CustomerRef": {"value": "2"},
            "TxnDate": "2015-01-05",
            "DocNumber": "1001",
            "Balance": Decimal("0"),
            "TotalAmt": Decimal("50.00"),
        },
        {
            "Id": "20",
            "CustomerRef": {"value": "1"},
            "TxnDate": "2015-03-01",
            "DocNumber": "1002",
            "Balance": Decimal("100.00"),
            "TotalAmt": Decimal("100.00"),
        },
    ],
    "Estimate": [
        {"Id": "177", "CustomerRef": {"value": "3"}, "TxnDate": "2015-03-26", "DocNumber": "1001"}
    ],
    "Payment": [
        {
            "Id": "125",
            "CustomerRef": {"value": "20"},
            "TotalAmt": Decimal("25"),
            "TxnDate": "2014-09-14",
        }
    ],
    "CompanyInfo": [{"Id": "1", "CompanyName": "Larry's Bakery"}],
}


def rows_for(entity: str) -> Sequence[Mapping[str, Any]]:
    return ROWS[entity]


def ids(text: str) -> list[str]:
    """The Ids a SELECT * answers with, in order ([] for the empty answer)."""
    answer = execute(text, rows_for)["QueryResponse"]
    if not answer:
        return []
    (entity,) = (k for k in answer if k not in ("startPosition", "maxResults"))
    return [row["Id"] for row in answer[entity]]


ACCEPTED = [
    # Active customers by Id as numbers: 3 is inactive, 10 sorts after 4.
    ("select * from Customer", ["1", "2", "4", "10"]),
    ("SELECT * FROM customer", ["1", "2", "4", "10"]),
    ("sElEcT * fRoM CUSTOMER wHeRe displayname = 'O\\'Brien Ltd'", ["2"]),
    # Strings compare case-insensitively.
    ("select * from Customer where DisplayName = 'o\\'brien ltd'", ["2"]),
    ("select * from Customer where DisplayName = 'Back\\\\slash Co'", ["10"]),
    ("select * from Customer where DisplayName in ('Amy\\'s Bird Sanctuary', 'nobody')", ["1"]),
    ("select * from Customer where DisplayName like 'amy%'", ["1"]),
    ("select * from Customer where DisplayName like '%LTD'", ["2"]),
    ("select * from Customer where DisplayName like '%b%d%'", ["1", "2"]),
    ("select * from Customer where DisplayName like '%'", ["1", "2", "4", "10"]),
    ("select * from Customer where DisplayName like '100\\%%'", ["4"]),
    ("select * from Customer where DisplayName like '1%0%'", ["4"]),
    ("select * from Invoice where DocNumber like 1037", ["130"]),
    # A LIKE without % is an exact (case-insensitive) match.
    ("select * from Customer where DisplayName like 'o\\'brien'", []),
    ("select * from Customer where PrimaryEmailAddr = 'birds@intuit.com'", ["1"]),
    ("select * from Customer where PrimaryEmailAddr like '%@intuit.com'", ["1"]),
    ("select * from Customer where GivenName = 'Pat' and Balance > '50'", ["4"]),
    # Money compares as Decimal, quoted or not.
    ("select * from Customer where Balance = '274'", ["1"]),
    ("select * from Customer where Balance >= 99.99", ["1", "4", "10"]),
    ("select * from Customer where Balance < '99.990'", ["2"]),
    ("select * from Customer where Balance <= 0", ["2"]),
    ("select * from Customer where Balance > -1 and Balance < 1", ["2"]),
    # Date-times compare chronologically, whatever the offsets.
    # A date against a date-time is midnight in the company's zone: 08:00 UTC in March 2015 (PST).
    ("select * from Customer where Metadata.LastUpdatedTime > '2015-03-01'", ["1"]),
    ("select * from Customer where Metadata.LastUpdatedTime > '2015-02-28'", ["1", "2"]),
    ("select * from Customer where MetaData.LastUpdatedTime < '2015-03-01T00:29:00-07:00'", []),
    ("select * from Customer where MetaData.LastUpdatedTime <= '2015-03-01T07:30:00Z'", ["2"]),
    ("select * from Customer where MetaData.CreateTime >= '2015-02-01T17:00:00+00:00'", ["2"]),
    # Inactive objects only when the query mentions Active.
    ("select * from Customer where Active = false", ["3"]),
    ("select * from Customer where Active = 'FALSE'", ["3"]),
    ("select * from Customer where Active in (true, false)", ["1", "2", "3", "4", "10"]),
    ("select * from Customer where Id = '3'", []),
    ("select * from Customer where Id = '3' and Active = false", ["3"]),
    ("select * from Customer where Id in ('1', '10', 3)", ["1", "10"]),
    ("select * from Customer where Id = 2", ["2"]),
    ("select * from Customer where Id = '02'", ["2"]),
    ("select * from Item", ["1", "3"]),
    ("select * from Item where Type = 'service'", ["1"]),
    ("select * from Item where Active = false", ["2"]),
    # Ordering, then paging (STARTPOSITION is 1-based).
    ("select * from Customer orderby DisplayName", ["4", "1", "10", "2"]),
    ("select * from Customer ORDERBY DisplayName DESC", ["2", "10", "1", "4"]),
    ("select * from Customer order by Balance desc", ["1", "10", "4", "2"]),
    (
        "select * from Customer where Active in (true,false) orderby Active, Id",
        ["3", "1", "2", "4", "10"],
    ),
    ("select * from Customer orderby GivenName", ["2", "10", "1", "4"]),
    ("select * from Customer orderby BalanceWithJobs", ["1", "2", "4", "10"]),
    ("select * from Customer startposition 2 maxresults 2", ["2", "4"]),
    ("select * from Customer maxresults 2 startposition 3", ["4", "10"]),
    ("select * from Customer startposition 0 maxresults 1", ["1"]),
    ("select * from Customer startposition 5", []),
    ("select * from Customer startposition 99999999999999999999999", []),
    ("select * from Customer maxresults 1000", ["1", "2", "4", "10"]),
    ("select * from Customer maxresults 0001", ["1"]),
    # Transactions: refs compare against their value, dates as dates; no Active rule.
    ("select * from Invoice", ["9", "20", "130"]),
    ("select * from Invoice where CustomerRef = '1'", ["20", "130"]),
    ("select * from Invoice where CustomerRef in ('2', '99')", ["9"]),
    ("select * from Invoice where TxnDate >= '2015-01-05' orderby TxnDate desc", ["20", "9"]),
    ("select * from Invoice where TxnDate < '2015/01/01'", ["130"]),
    ("select * from Invoice where TxnDate = '2015-03-01T23:59:00-07:00'", ["20"]),
    ("select * from Invoice where Balance > '0' orderby Balance", ["20", "130"]),
    ("select * from Invoice where DocNumber = 1037", ["130"]),
    ("select * from Invoice where DueDate = '2014-10-19'", ["130"]),
    ("select * from Estimate where TxnDate < '2015-09-15' and DocNumber = '1001'", ["177"]),
    ("select * from Payment where TotalAmt > '10.00'", ["125"]),
    ("select * from Payment where CustomerRef = '20'", ["125"]),
    ("select * from CompanyInfo", ["1"]),
    # Whitespace of any kind separates tokens; lines are allowed.
    ("\tselect\n*\r\nfrom  Customer\fwhere Id='1'\n", ["1"]),
    # Inside a string anything is data, including U+2019 and what looks like syntax.
    ("select * from Customer where DisplayName = 'O’Brien Ltd'", []),
    ("select * from Customer where DisplayName = ' or 1=1 --'", []),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_query_answers_these_objects(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


COUNTS = [
    ("select count(*) from Customer", 4),
    ("SELECT COUNT( * ) FROM Customer WHERE Active = false", 1),
    ("select count(*) from Customer startposition 3 maxresults 1", 4),
    ("select count(*) from Invoice where CustomerRef = '1'", 2),
    ("select count(*) from Payment where TotalAmt > '1000'", 0),
]


@pytest.mark.parametrize(("text", "total"), COUNTS)
def test_count_answers_only_the_total_of_all_matches(text: str, total: int) -> None:
    assert execute(text, rows_for) == {"QueryResponse": {"totalCount": total}}


def test_answer_has_the_shape_of_the_published_sample(samples_dir: Path) -> None:
    sample = json.loads((samples_dir / "query-response-customer.json").read_text())
    answer = execute("select * from Customer startposition 2 maxresults 2", rows_for)
    assert list(answer) == ["QueryResponse"]
    assert list(answer["QueryResponse"]) == list(sample["QueryResponse"])
    assert answer["QueryResponse"]["startPosition"] == 2
    assert answer["QueryResponse"]["maxResults"] == 2  # the rows returned, not the limit asked


def test_count_answer_has_the_shape_of_the_sample(samples_dir: Path) -> None:
    sample = json.loads((samples_dir / "query-response-count.json").read_text())
    answer = execute("select count(*) from Customer", rows_for)
    assert list(answer["QueryResponse"]) == list(sample["QueryResponse"])


def test_no_match_answers_an_empty_query_response() -> None:
    assert execute("select * from Customer where DisplayName = 'nobody'", rows_for) == {
        "QueryResponse": {}
    }


def test_default_page_is_100_objects() -> None:
    many = [_customer(str(i), f"C{i}") for i in range(1, 251)]
    answer = execute("select * from Customer", lambda _: many)["QueryResponse"]
    assert answer["maxResults"] == 100
    assert [c["Id"] for c in answer["Customer"]] == [str(i) for i in range(1, 101)]


def test_paging_until_a_short_page_visits_every_object_once() -> None:
    many = [_customer(str(i), f"C{i % 7}") for i in range(1, 24)]
    seen: list[str] = []
    start = 1
    while True:
        page = execute(
            f"select * from Customer orderby DisplayName startposition {start} maxresults 5",
            lambda _: many,
        )["QueryResponse"].get("Customer", [])
        seen += [c["Id"] for c in page]
        if len(page) < 5:
            break
        start += 5
    assert sorted(seen, key=int) == [str(i) for i in range(1, 24)]


def test_answer_holds_copies_not_the_stored_objects() -> None:
    answer = execute("select * from Customer where Id = '1'", rows_for)
    row = answer["QueryResponse"]["Customer"][0]
    assert row == ROWS["Customer"][0]
    row["DisplayName"] = "changed"
    row["MetaData"]["CreateTime"] = "changed"
    assert ROWS["Customer"][0]["DisplayName"] == "Amy's Bird Sanctuary"
    assert ROWS["Customer"][0]["MetaData"]["CreateTime"] == "2014-09-11T16:48:43-07:00"


def test_money_comes_back_as_the_stored_decimal() -> None:
    row = execute("select * from Invoice where Id = '130'", rows_for)["QueryResponse"]["Invoice"][0]
    assert row["Balance"] == Decimal("362.07")
    assert isinstance(row["Balance"], Decimal)


def test_a_bare_id_where_a_ref_belongs_still_compares() -> None:
    rows = [{"Id": "1", "CustomerRef": "7"}, {"Id": "2", "CustomerRef": {"value": "7"}}]
    answer = execute("select * from Invoice where CustomerRef = '7'", lambda _: rows)
    assert [r["Id"] for r in answer["QueryResponse"]["Invoice"]] == ["1", "2"]


def test_object_without_the_property_matches_no_condition_on_it() -> None:
    assert ids("select * from Customer where GivenName like '%'") == ["1", "4"]
    assert ids("select * from Customer where PrimaryEmailAddr like '%'") == ["1"]


def test_queryable_lists_follow_intuits_reference() -> None:
    assert set(QUERYABLE) == {
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
    }
    assert {"DisplayName", "PrimaryEmailAddr", "Active", "Balance", "MetaData.LastUpdatedTime"} <= (
        QUERYABLE["Customer"]
    )
    assert not {"PrimaryPhone", "Mobile", "Notes", "BillAddr"} & QUERYABLE["Customer"]
    assert {"CustomerRef", "TxnDate", "DocNumber", "Balance"} <= QUERYABLE["Invoice"]
    assert "BalanceWithJobs" in SORTABLE["Customer"]
    assert "BalanceWithJobs" not in QUERYABLE["Customer"]


# (query, code, a fragment of the Detail)
REFUSED = [
    # Syntax: 4000 "Error parsing query", in JavaCC's words.
    ("", "4000", 'Encountered "<EOF>" at line 0, column 0.\nWas expecting:\n    "select" ...'),
    ("   ", "4000", 'Encountered "<EOF>"'),
    ("select", "4000", 'Encountered "<EOF>" at line 1, column 6.'),
    ("select * from", "4000", "Was expecting:\n    <IDENTIFIER> ..."),
    ("delete from Customer", "4000", 'Encountered " <IDENTIFIER> "delete "" at line 1, column 1.'),
    ("select Id, Colour from Customer", "4001", "Property Colour not found for Entity Customer"),
    ("select Id, from Customer", "4000", 'Encountered " "from" "from "" at line 1, column 12.'),
    ("select * from Customer, Invoice", "4000", 'Encountered " "," ", "" at line 1, column 23.'),
    (
        "select * from Customer c join Invoice i",
        "4000",
        '" <IDENTIFIER> "c "" at line 1, column 24.',
    ),
    ("select count(Id) from Customer", "4000", '<IDENTIFIER> "Id "" at line 1, column 14.'),
    (
        "select * from Customer where DisplayName = 'a' or Id = '1'",
        "4000",
        'Encountered " <OR> "or "" at line 1, column 48.',
    ),
    ("select * from Customer where DisplayName = 'a' OR Id = '1'", "4000", "<AND> ..."),
    (
        "select * from Customer where upper(DisplayName) = 'A'",
        "4000",
        'Encountered " "(" "( "" at line 1, column 35.',
    ),
    (
        "select * from Customer where DisplayName != 'a'",
        "4000",
        'Lexical error at line 1, column 42.  Encountered: "!" (33), after : ""',
    ),
    (
        "select * from Customer where DisplayName <> 'a'",
        "4000",
        'Encountered " ">" "> "" at line 1, column 43.',
    ),
    (
        'select * from Customer where DisplayName = "a"',
        "4000",
        'Encountered: "\\"" (34), after : ""',
    ),
    (
        "select * from Customer where DisplayName = 'a",
        "4000",
        'Lexical error at line 1, column 45.  Encountered: <EOF> after : "\\\'a"',
    ),
    ("select * from Customer where DisplayName = 'a\\'", "4000", "Encountered: <EOF> after"),
    (
        "select * from Customer where DisplayName = ’a’",
        "4000",
        'Lexical error at line 1, column 44.  Encountered: "\\u2019" (8217), after : ""',
    ),
    (
        "select * from Customer where DisplayName = 'O'Brien'",
        "4000",
        'Encountered " <IDENTIFIER> "Brien "" at line 1, column 47.',
    ),
    (
        "select * from Customer where Name = 'x'\nand\n Id = ’1’",
        "4000",
        "Lexical error at line 3, column 7.",
    ),
    ("select * from Customer where Balance > -", "4000", 'Encountered: <EOF> after : "-"'),
    ("select * from Customer where Balance > 1.", "4000", 'Encountered: "." (46), after : ""'),
    (
        "select * from Customer where DisplayName like 'a' escape '\\'",
        "4000",
        '" <IDENTIFIER> "escape "',
    ),
    ("select * from Customer where Active is null", "4000", '" <IDENTIFIER> "is "'),
    (
        "select * from Customer where DisplayName in ()",
        "4000",
        'Encountered " ")" ") "" at line 1, column 46.',
    ),
    ("select * from Customer where DisplayName = DisplayName", "4000", "<STRING_LITERAL> ..."),
    ("select * from Customer where Id in ('1',)", "4000", '" ")" ") ""'),
    ("select * from Customer orderby", "4000", "<IDENTIFIER> ..."),
    ("select * from Customer maxresults", "4000", "Was expecting:\n    <INTEGER> ..."),
    ("select * from Customer maxresults -5", "4000", 'Encountered " <NUMBER> "-5 ""'),
    ("select * from Customer startposition 1.5", "4000", '" <NUMBER> "1.5 ""'),
    ("select * from Customer startposition '1'", "4000", '<STRING_LITERAL> "\\\'1\\\' ""'),
    (
        "select * from Customer maxresults 5 maxresults 6",
        "4000",
        'Encountered " "maxresults" "maxresults ""',
    ),
    ("select * from Customer maxresults 5 where Id = '1'", "4000", '" "where" "where ""'),
    ("select * from Customer\x00", "4000", 'Encountered: "\\u0000" (0), after : ""'),
    ("select * from Customer;", "4000", 'Encountered: ";" (59)'),
    ("select * from Cüstomer", "4000", 'Encountered: "\\u00fc" (252)'),
    (
        "select * from Customer where DisplayName = '😀' 😀",
        "4000",
        'Encountered: "\\ud83d\\ude00" (55357)',
    ),
    # Validation: 4001 "Invalid query".
    (
        "select * from Customer where PrimaryPhone = '555'",
        "4001",
        "QueryValidationError: property 'PrimaryPhone' is not queryable",
    ),
    ("select * from Customer where mobile = '555'", "4001", "property 'Mobile' is not queryable"),
    ("select * from Customer where Notes like '%x%'", "4001", "property 'Notes' is not queryable"),
    ("select * from Customer where BillAddr = 'x'", "4001", "property 'BillAddr' is not queryable"),
    (
        "select * from Customer where BalanceWithJobs > '1'",
        "4001",
        "property 'BalanceWithJobs' is not queryable",
    ),
    (
        "select * from Customer orderby PrimaryEmailAddr",
        "4001",
        "property 'PrimaryEmailAddr' is not queryable",
    ),
    (
        "select * from Invoice orderby CustomerRef",
        "4001",
        "property 'CustomerRef' is not queryable",
    ),
    ("select * from Invoice where TotalAmt > '1'", "4001", "property 'TotalAmt' is not queryable"),
    (
        "select * from Invoice where DepartmentRef = '1'",
        "4001",
        "property 'DepartmentRef' is not queryable",
    ),
    (
        "select * from Estimate where TxnStatus = 'Pending'",
        "4001",
        "property 'TxnStatus' is not queryable",
    ),
    ("select * from Item where Sku = 'A1'", "4001", "property 'Sku' is not queryable"),
    (
        "select * from Customer where Shoe = 'x'",
        "4001",
        "QueryValidationError: Property Shoe not found for Entity Customer",
    ),
    (
        "select * from Customer maxresults 1001",
        "4001",
        "QueryValidationError: value 1001 is too large. Max allowed value is 1000",
    ),
    (
        "select * from Customer maxresults 1500",
        "4001",
        "value 1500 is too large. Max allowed value is 1000",
    ),
    ("select * from Customer maxresults 0", "4001", "value 0 is too small. Min allowed value is 1"),
    (
        "select * from Customer where Id > '1'",
        "4001",
        "operator '>' is not supported for property 'Id'",
    ),
    (
        "select * from Customer where Id like '1%'",
        "4001",
        "operator 'LIKE' is not supported for property 'Id'",
    ),
    (
        "select * from Customer where Balance like '1%'",
        "4001",
        "operator 'LIKE' is not supported for property 'Balance'",
    ),
    (
        "select * from Customer where Balance > 'lots'",
        "4001",
        "value 'lots' is not valid for property 'Balance'",
    ),
    (
        "select * from Customer where Balance > 'NaN'",
        "4001",
        "value 'NaN' is not valid for property 'Balance'",
    ),
    (
        "select * from Customer where Active = 'maybe'",
        "4001",
        "value 'maybe' is not valid for property 'Active'",
    ),
    (
        "select * from Customer where Active = 1",
        "4001",
        "value '1' is not valid for property 'Active'",
    ),
    (
        "select * from Customer where DisplayName = true",
        "4001",
        "value 'true' is not valid for property 'DisplayName'",
    ),
    (
        "select * from Invoice where TxnDate > '2015-02-30'",
        "4001",
        "value '2015-02-30' is not valid for property 'TxnDate'",
    ),
    (
        "select * from Customer where MetaData.CreateTime > 'yesterday'",
        "4001",
        "property 'MetaData.CreateTime'",
    ),
    ("select * from Shoe", "4001", "QueryValidationError: Entity 'Shoe' not found"),
    # An entity QBO has that the emulator does not hold.
    (
        "select * from Vendor",
        "4002",
        "QueryProcessingError: the qb-mcp emulator does not emulate Vendor",
    ),
    ("select count(*) from vendor", "4002", "does not emulate Vendor"),
]


@pytest.mark.parametrize(("text", "code", "fragment"), REFUSED)
def test_refused_query_gets_this_fault(text: str, code: str, fragment: str) -> None:
    with pytest.raises(QBOFault) as caught:
        execute(text, rows_for)
    (error,) = caught.value.errors
    assert (error.code, fragment in error.detail) == (code, True), error.detail
    assert caught.value.status == 400
    assert caught.value.fault_type == "ValidationFault"


def test_parse_fault_matches_the_captured_one_for_an_unescaped_apostrophe(
    samples_dir: Path,
) -> None:
    # The capture came from `DisplayName: 'Cutlery \'R Us'` sent without a backslash.
    sample = json.loads((samples_dir / "fault-4000-query-parse.json").read_text())
    (want,) = sample["Fault"]["Error"]
    with pytest.raises(QBOFault) as caught:
        execute("select * from vendor where DisplayName = 'Cutlery 'R Us'", rows_for)
    (got,) = caught.value.errors
    assert (got.code, got.message) == (want["code"], want["Message"])
    assert got.detail.split("\n")[0] == want["Detail"].split("\n")[0]
    assert got.detail.endswith("\n    ")


def test_lexical_fault_matches_the_captured_one_for_a_percent_sign() -> None:
    # github.com/pbrink231/quickbooks-node-promise/issues/1: a query URL-encoded twice.
    with pytest.raises(QBOFault) as caught:
        execute("select * from account where AccountSubType=%27Inventory%27", rows_for)
    assert caught.value.errors[0].detail == (
        "QueryParserError: Invalid content. Lexical error at line 1, column 44.  "
        'Encountered: "%" (37), after : ""'
    )


def test_faults_echo_at_most_a_clip_of_a_huge_name() -> None:
    with pytest.raises(QBOFault) as caught:
        execute("select * from " + "X" * 100_000, rows_for)
    assert len(caught.value.errors[0].detail) < 300


def test_refused_query_reads_no_rows() -> None:
    asked: list[str] = []

    def spy(entity: str) -> Sequence[Mapping[str, Any]]:
        asked.append(entity)
        return ROWS[entity]

    for text in (
        "select * from Customer where Notes = 'x'",
        "select * from Customer maxresults 5000",
    ):
        with pytest.raises(QBOFault):
            execute(text, spy)
    assert asked == []


# A property list (issue 9, item 3): Intuit's "Query operations" page says the response set always
# returns all properties of each object (projections are not supported).


@pytest.mark.parametrize(
    "text",
    [
        "SELECT Id, DisplayName FROM Customer",
        "select *, DisplayName from Customer",
        "select DisplayName, * from Customer where Active = true",
        "SELECT MetaData.CreateTime FROM Customer",
    ],
)
def test_a_property_list_answers_the_whole_objects(text: str) -> None:
    assert execute(text, rows_for) == execute("select * from Customer", rows_for)


def test_python_quickbooks_item_all_query_is_answered() -> None:
    # python-quickbooks' Item.all() sends exactly this.
    text = "SELECT *, Sku FROM Item MAXRESULTS 100"
    assert execute(text, rows_for) == execute("select * from Item maxresults 100", rows_for)
