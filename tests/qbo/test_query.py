"""Query text: escaping, refusals before sending, and paging over STARTPOSITION/MAXRESULTS."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qb_mcp.emulator.query import execute
from qb_mcp.emulator.query_lexer import tokens
from qb_mcp.errors import InvalidArgumentError, QBOError
from qb_mcp.qbo.query import FILTERABLE, SORTABLE, Query, paginate, quote

pytestmark = pytest.mark.anyio


def test_quote_escapes_apostrophe_and_backslash() -> None:
    assert quote("Adam's Candy Shop") == r"'Adam\'s Candy Shop'"
    assert quote("a\\b") == r"'a\\b'"
    assert quote("\\'") == r"'\\\''"
    assert quote("") == "''"


def test_quote_refuses_typographic_apostrophe_saying_what_to_do() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        quote("Bill’s Windsurf Shop")
    text = str(info.value)
    assert "U+2019" in text
    assert "straight apostrophe" in text
    assert "LIKE" in text


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x00", "\x7f", "\x85"])
def test_quote_refuses_control_characters(char: str) -> None:
    with pytest.raises(InvalidArgumentError, match="control character"):
        quote(f"a{char}b")


def test_quote_refuses_non_strings_and_huge_literals() -> None:
    with pytest.raises(InvalidArgumentError, match="must be a str"):
        quote(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="limited to"):
        quote("x" * 2001)


def test_select_with_every_clause() -> None:
    query = (
        Query.select("customer")
        .where("displayname", "like", "Acme%")
        .where("Active", "=", True)
        .where("Balance", ">", Decimal("10.5"))
        .order_by("DisplayName")
        .order_by("Balance", desc=True)
        .start(11)
        .limit(10)
    )
    assert str(query) == (
        "SELECT * FROM Customer WHERE DisplayName LIKE 'Acme%' AND Active = true "
        "AND Balance > '10.5' ORDERBY DisplayName, Balance DESC STARTPOSITION 11 MAXRESULTS 10"
    )


def test_builder_returns_new_queries() -> None:
    base = Query.select("Invoice")
    narrowed = base.where("DocNumber", "=", "1037")
    assert str(base) == "SELECT * FROM Invoice"
    assert str(narrowed) == "SELECT * FROM Invoice WHERE DocNumber = '1037'"


def test_count_query() -> None:
    assert str(Query.count("Payment").where("CustomerRef", "=", 20)) == (
        "SELECT COUNT(*) FROM Payment WHERE CustomerRef = '20'"
    )
    with pytest.raises(InvalidArgumentError, match="COUNT"):
        Query.count("Payment").limit(5)


def test_id_in_list_and_values_typed() -> None:
    query = Query.select("Invoice").where("Id", "IN", ["1", 2, "3"])
    assert str(query) == "SELECT * FROM Invoice WHERE Id IN ('1', '2', '3')"
    dated = (
        Query.select("Invoice")
        .where("TxnDate", ">=", date(2024, 1, 31))
        .where("MetaData.LastUpdatedTime", ">", datetime(2024, 2, 1, 8, 30, tzinfo=UTC))
        .where("Metadata.CreateTime", "<", "2015-03-01")
    )
    assert str(dated) == (
        "SELECT * FROM Invoice WHERE TxnDate >= '2024-01-31' "
        "AND MetaData.LastUpdatedTime > '2024-02-01T08:30:00+00:00' "
        "AND MetaData.CreateTime < '2015-03-01'"
    )


def test_like_replaces_typographic_apostrophe_with_wildcard() -> None:
    query = Query.select("Customer").where("DisplayName", "LIKE", "Bill’s%")
    assert str(query) == "SELECT * FROM Customer WHERE DisplayName LIKE 'Bill%s%'"


def test_equality_with_typographic_apostrophe_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="U\\+2019"):
        Query.select("Customer").where("DisplayName", "=", "Bill’s")


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: Query.select("Vendor"), "unknown or unsupported entity"),
        (lambda: Query.select("Customer").where("PrimaryPhone", "=", "555"), "not filterable"),
        (lambda: Query.select("Customer").where("Notes", "LIKE", "%x%"), "not filterable"),
        (lambda: Query.select("Item").where("Sku", "=", "A1"), "not filterable"),
        (lambda: Query.select("Invoice").where("TotalAmt", ">", 5), "not filterable"),
        (lambda: Query.select("Estimate").where("TxnStatus", "=", "Pending"), "not filterable"),
        (lambda: Query.select("Customer").where("Id", ">", "5"), "takes only ="),
        (lambda: Query.select("Customer").where("Id", "LIKE", "5%"), "takes only ="),
        (lambda: Query.select("Customer").where("Balance", "LIKE", "5%"), "does not take LIKE"),
        (
            lambda: Query.select("Customer").where("DisplayName", "!=", "x"),
            "unknown query operator",
        ),
        (
            lambda: Query.select("Customer").where("DisplayName", "OR", "x"),
            "unknown query operator",
        ),
        (lambda: Query.select("Customer").where("Id", "IN", []), "at least one"),
        (lambda: Query.select("Customer").where("Id", "IN", "12"), "list of values"),
        (lambda: Query.select("Customer").where("Id", "=", ""), "non-empty id"),
        (lambda: Query.select("Customer").where("Id", "=", True), "non-empty id"),
        (lambda: Query.select("Customer").where("Active", "=", "yes"), "True or False"),
        (lambda: Query.select("Customer").where("Balance", ">", 10.5), "never a float"),
        (lambda: Query.select("Customer").where("Balance", ">", Decimal("NaN")), "finite"),
        (lambda: Query.select("Customer").where("DisplayName", "=", None), "required"),
        (lambda: Query.select("Customer").where("DisplayName", "=", 5), "takes text"),
        (
            lambda: Query.select("Invoice").where("TxnDate", "=", datetime(2024, 1, 1)),
            "not a datetime",
        ),
        (lambda: Query.select("Invoice").where("TxnDate", "=", "01/02/2024"), "YYYY-MM-DD"),
        (
            lambda: Query.select("Invoice").where("MetaData.CreateTime", ">", datetime(2024, 1, 1)),
            "time zone",
        ),
        (lambda: Query.select("Invoice").where("MetaData.CreateTime", ">", "soon"), "ISO 8601"),
        (lambda: Query.select("Customer").order_by("PrimaryEmailAddr"), "not sortable"),
        (lambda: Query.select("Customer").limit(0), "1 to 1000"),
        (lambda: Query.select("Customer").limit(1001), "1 to 1000"),
        (lambda: Query.select("Customer").limit(True), "1 to 1000"),
        (lambda: Query.select("Customer").start(0), "at least 1"),
        (lambda: Query.select("Customer").start(-3), "at least 1"),
    ],
)
def test_bad_queries_are_refused_before_sending(build: Any, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fragment):
        build()


def test_filterable_lists_cover_the_entities_and_known_properties() -> None:
    assert set(FILTERABLE) == {
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
    assert {"DisplayName", "PrimaryEmailAddr", "Balance", "MetaData.LastUpdatedTime"} <= FILTERABLE[
        "Customer"
    ]
    assert not {"PrimaryPhone", "Mobile", "Notes", "BillAddr"} & FILTERABLE["Customer"]
    assert FILTERABLE["Estimate"] >= {"Id", "CustomerRef", "TxnDate", "DueDate", "DocNumber"}
    assert set(SORTABLE) == set(FILTERABLE)


# --- against the emulator's query parser: what we write is what QuickBooks reads ---------------

printable = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs"), blacklist_characters=("\u2019", "\u2018")
    ),
    max_size=80,
)


def _customer(name: str) -> dict[str, Any]:
    return {"Id": "1", "DisplayName": name, "Active": True}


@given(printable)
def test_quote_round_trips_through_the_emulator_lexer(text: str) -> None:
    literal = quote(text)
    found = [t for t in tokens(literal) if t.kind != "EOF"]
    assert len(found) == 1
    assert found[0].kind == "STRING"
    assert found[0].value == text


@given(printable)
def test_any_name_is_found_by_an_equality_query_in_the_emulator(text: str) -> None:
    rows = [_customer(text), {"Id": "2", "DisplayName": text + "x", "Active": True}]
    query = Query.select("Customer").where("DisplayName", "=", text)
    answer = execute(str(query), lambda entity: rows if entity == "Customer" else [])
    found = answer["QueryResponse"]["Customer"]
    assert [row["Id"] for row in found] == ["1"]
    assert found[0]["DisplayName"] == text


@given(printable.filter(lambda t: "%" not in t))
def test_any_text_without_wildcards_is_found_by_like_in_the_emulator(text: str) -> None:
    rows = [_customer(text)]
    query = Query.select("Customer").where("DisplayName", "LIKE", text + "%")
    answer = execute(str(query), lambda entity: rows)
    assert [row["Id"] for row in answer["QueryResponse"]["Customer"]] == ["1"]


def test_like_with_typographic_apostrophe_finds_both_spellings_in_the_emulator() -> None:
    rows = [
        {"Id": "1", "DisplayName": "Bill's Windsurf Shop", "Active": True},
        {"Id": "2", "DisplayName": "Bill’s Windsurf Shop", "Active": True},
        {"Id": "3", "DisplayName": "Bills Windsurf Shop", "Active": True},
    ]
    query = Query.select("Customer").where("DisplayName", "LIKE", "Bill’s Windsurf%")
    answer = execute(str(query), lambda entity: rows)
    # % also matches nothing, so "Bills" comes too: a wider search, never a missed customer.
    assert [row["Id"] for row in answer["QueryResponse"]["Customer"]] == ["1", "2", "3"]


def test_emulator_runs_every_kind_of_condition_we_write() -> None:
    rows = [
        {
            "Id": "7",
            "DocNumber": "1037",
            "TxnDate": "2024-01-31",
            "Balance": Decimal("362.07"),
            "CustomerRef": {"value": "24"},
            "MetaData": {"CreateTime": "2024-01-31T10:00:00-08:00"},
        }
    ]
    query = (
        Query.select("Invoice")
        .where("Id", "IN", [7, "8"])
        .where("CustomerRef", "=", "24")
        .where("TxnDate", "<=", date(2024, 1, 31))
        .where("Balance", ">", Decimal("362.06"))
        .where(
            "MetaData.CreateTime",
            ">=",
            datetime(2024, 1, 31, 10, tzinfo=timezone(timedelta(hours=-8))),
        )
        .where("DocNumber", "LIKE", "10%")
        .order_by("TxnDate", desc=True)
        .start(1)
        .limit(5)
    )
    answer = execute(str(query), lambda entity: rows)
    assert [r["Id"] for r in answer["QueryResponse"]["Invoice"]] == ["7"]


# --- paging ------------------------------------------------------------------------------------


class Pages:
    """A `run` that answers from a list of rows the way QuickBooks pages them, recording queries."""

    def __init__(self, n: int, entity: str = "Customer") -> None:
        self.rows = [
            {"Id": str(i + 1), "DisplayName": f"C{i + 1}", "Active": True} for i in range(n)
        ]
        self.entity = entity
        self.sent: list[str] = []

    async def __call__(self, text: str) -> Mapping[str, Any]:
        self.sent.append(text)
        return execute(text, lambda entity: self.rows if entity == self.entity else [])


async def collect(run: Any, query: Query, **kwargs: Any) -> list[dict[str, Any]]:
    return [row async for row in paginate(run, query, **kwargs)]


async def test_paginate_yields_every_row_once_across_pages() -> None:
    run = Pages(25)
    rows = await collect(run, Query.select("Customer"), page_size=10)
    assert [r["Id"] for r in rows] == [str(i) for i in range(1, 26)]
    assert run.sent == [
        "SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 10",
        "SELECT * FROM Customer STARTPOSITION 11 MAXRESULTS 10",
        "SELECT * FROM Customer STARTPOSITION 21 MAXRESULTS 10",
    ]


async def test_paginate_asks_once_more_after_an_exactly_full_page() -> None:
    run = Pages(20)
    rows = await collect(run, Query.select("Customer"), page_size=10)
    assert len(rows) == 20
    assert len(run.sent) == 3  # the third page is empty: `"QueryResponse": {}`


async def test_paginate_default_page_is_1000() -> None:
    run = Pages(3)
    rows = await collect(run, Query.select("Customer").where("DisplayName", "LIKE", "C%"))
    assert len(rows) == 3
    assert run.sent == [
        "SELECT * FROM Customer WHERE DisplayName LIKE 'C%' STARTPOSITION 1 MAXRESULTS 1000"
    ]


async def test_paginate_honours_the_query_start_and_limit() -> None:
    run = Pages(50)
    rows = await collect(run, Query.select("Customer").start(5).limit(12), page_size=5)
    assert [r["Id"] for r in rows] == [str(i) for i in range(5, 17)]
    assert run.sent[-1] == "SELECT * FROM Customer STARTPOSITION 15 MAXRESULTS 2"


@pytest.mark.parametrize("size", [0, 1001, True, "10"])
async def test_paginate_refuses_bad_page_sizes_without_sending(size: Any) -> None:
    run = Pages(3)
    with pytest.raises(InvalidArgumentError, match="page_size"):
        await collect(run, Query.select("Customer"), page_size=size)
    assert run.sent == []


async def test_paginate_refuses_count_queries_without_sending() -> None:
    run = Pages(3)
    with pytest.raises(InvalidArgumentError, match="COUNT"):
        await collect(run, Query.count("Customer"))
    assert run.sent == []


async def test_paginate_reports_an_answer_without_query_response() -> None:
    async def run(text: str) -> Mapping[str, Any]:
        return {"time": "2024-01-01T00:00:00-08:00"}

    with pytest.raises(QBOError, match="QueryResponse"):
        await collect(run, Query.select("Customer"))


def test_printable_strategy_excludes_only_what_quote_refuses() -> None:
    # Guards the property tests above: they must cover every character quote() accepts.
    for code in range(0x20, 0x3000):
        char = chr(code)
        refused = unicodedata.category(char) in ("Cc", "Cs") or char in "\u2018\u2019"
        try:
            quote(char)
        except InvalidArgumentError:
            assert refused, hex(code)
        else:
            assert not refused, hex(code)
