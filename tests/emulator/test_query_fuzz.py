"""Any query text, over any stored data, gives an answer or a QBO fault: never another exception."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.query import execute

QUERY_CODES = {"4000", "4001", "4002"}

ROWS: dict[str, list[dict[str, Any]]] = {
    "Customer": [
        {
            "Id": "1",
            "DisplayName": "Amy's Bird Sanctuary",
            "Active": True,
            "Balance": Decimal("274.00"),
            "PrimaryEmailAddr": {"Address": "Birds@Intuit.com"},
            "MetaData": {"CreateTime": "2014-09-11T16:48:43-07:00"},
        },
        {"Id": "2", "DisplayName": "Zoë", "Active": False, "Balance": Decimal("-1.5")},
    ],
    "Item": [{"Id": "1", "Name": "Services", "Type": "Service", "Active": True}],
    "Invoice": [{"Id": "5", "CustomerRef": {"value": "1"}, "TxnDate": "2015-03-01"}],
    "Estimate": [],
    "Payment": [{"Id": "7", "TotalAmt": Decimal("25"), "TxnDate": "2014-09-14"}],
    "CompanyInfo": [{"Id": "1"}],
}


def _rows(entity: str) -> Sequence[Mapping[str, Any]]:
    return ROWS[entity]


def _answer_or_fault(text: str, rows_for: Any = _rows) -> dict[str, Any] | QBOFault:
    try:
        answer = execute(text, rows_for)
    except QBOFault as fault:
        (error,) = fault.errors
        assert error.code in QUERY_CODES
        assert fault.status == 400
        json.dumps(fault.as_json_fault())  # renderable as it stands
        return fault
    assert list(answer) == ["QueryResponse"]
    return answer


# Every code point, NULs and lone surrogates included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)

VOCABULARY = [
    "select",
    "SELECT",
    "*",
    "count",
    "(",
    ")",
    "from",
    "where",
    "and",
    "or",
    "in",
    "like",
    "=",
    "<",
    ">",
    "<=",
    ">=",
    "<>",
    "!=",
    ",",
    "orderby",
    "order",
    "by",
    "asc",
    "desc",
    "startposition",
    "maxresults",
    "true",
    "false",
    "Customer",
    "customer",
    "Item",
    "Invoice",
    "Estimate",
    "Payment",
    "CompanyInfo",
    "Vendor",
    "Shoe",
    "Id",
    "DisplayName",
    "Active",
    "Balance",
    "BalanceWithJobs",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "MetaData.CreateTime",
    "Metadata.LastUpdatedTime",
    "TxnDate",
    "CustomerRef",
    "DocNumber",
    "TotalAmt",
    "Type",
    "Name",
    "0",
    "1",
    "-1",
    "1.5",
    "1000",
    "1001",
    "99999999999999999999",
    "'1'",
    "'a'",
    "'%'",
    "'%a%'",
    "'O\\'Brien'",
    "'\\\\'",
    "'2015-03-01'",
    "'2015-03-01T10:00:00-07:00'",
    "'NaN'",
    "'1e999'",
    "'true'",
    "'9999-12-31T23:59:59-23:59'",
    "'0001-01-01T00:00:00+23:59'",
    "'2015-13-45'",
    "'",
    "\\",
    "’",
    "\x00",
    "😀",
    "\n",
    "-",
    ".",
]


@given(ANY_TEXT)
@settings(max_examples=400, deadline=None)
@example("\ud800")  # a lone surrogate once crashed the lexer's fault text
@example("select * from Customer \udfff")
def test_any_text_gives_an_answer_or_a_query_fault(text: str) -> None:
    _answer_or_fault(text)


@given(st.lists(st.sampled_from(VOCABULARY), max_size=25), st.sampled_from([" ", "", "\t"]))
@settings(max_examples=1000, deadline=None)
def test_any_token_soup_gives_an_answer_or_a_query_fault(words: list[str], sep: str) -> None:
    _answer_or_fault(sep.join(words))


@given(
    st.sampled_from(["Customer", "Item", "Invoice", "Payment", "Estimate", "CompanyInfo"]),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Id",
                    "DisplayName",
                    "Active",
                    "Balance",
                    "TxnDate",
                    "CustomerRef",
                    "Name",
                    "Type",
                    "TotalAmt",
                    "MetaData.CreateTime",
                ]
            ),
            st.sampled_from(["=", "<", ">", "<=", ">=", "like", "in"]),
            st.sampled_from(["'1'", "1", "-2.5", "true", "'a%'", "'2015-03-01'", "'x'"]),
        ),
        max_size=4,
    ),
    st.lists(st.sampled_from(["Id", "DisplayName", "Balance", "TxnDate", "Name"]), max_size=2),
    st.integers(0, 3),
    st.integers(1, 3),
)
@settings(max_examples=800, deadline=None)
def test_well_formed_queries_page_consistently(
    entity: str,
    conds: list[tuple[str, str, str]],
    order: list[str],
    start: int,
    size: int,
) -> None:
    where = " and ".join(f"{p} in ({v})" if op == "in" else f"{p} {op} {v}" for p, op, v in conds)
    text = f"select * from {entity}" + (f" where {where}" if where else "")
    text += f" orderby {', '.join(order)}" if order else ""
    result = _answer_or_fault(f"{text} startposition {start} maxresults {size}")
    if isinstance(result, QBOFault):
        return
    page = result["QueryResponse"]
    if page:
        assert page["maxResults"] == len(page[entity]) <= size
        assert page["startPosition"] == max(start, 1)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.decimals(allow_nan=True),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
JUNK_ROW = st.fixed_dictionaries(
    {},
    optional={
        k: JSONISH
        for k in ("Id", "DisplayName", "Active", "Balance", "PrimaryEmailAddr", "MetaData", "Name")
    },
)


@given(
    st.lists(JUNK_ROW, max_size=6),
    st.sampled_from(
        [
            "select * from Customer",
            "select * from Customer where Active in (true, false) orderby Balance desc, DisplayName",
            "select * from Customer where DisplayName like '%a%' and Balance > '0'",
            "select * from Customer where PrimaryEmailAddr = 'a' orderby MetaData.CreateTime",
            "select * from Customer where Id in ('1', '2') and Active = false",
            "select * from Customer where MetaData.LastUpdatedTime > '2015-03-01'",
            "select count(*) from Customer where Balance <= 10",
            "select * from Item where Name = 'x' orderby Name desc",
        ]
    ),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_stored_objects_of_any_shape_do_not_break_a_query(
    rows: list[dict[str, Any]], text: str
) -> None:
    _answer_or_fault(text, lambda _: rows)


def _escape(value: str) -> str:
    """How a client writes a value into a literal: backslash before `\\` and `'`."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@given(NAMES, NAMES)
@settings(max_examples=400, deadline=None)
def test_an_escaped_name_finds_its_customer(name: str, other: str) -> None:
    rows = [
        {"Id": "1", "DisplayName": other, "Active": True},
        {"Id": "2", "DisplayName": name, "Active": True},
    ]
    answer = execute(
        f"select * from Customer where DisplayName = '{_escape(name)}'", lambda _: rows
    )
    found = answer["QueryResponse"]["Customer"]
    assert "2" in [c["Id"] for c in found]
    assert all(c["DisplayName"].casefold() == name.casefold() for c in found)


@given(NAMES, st.data())
@settings(max_examples=400, deadline=None)
def test_like_finds_a_customer_by_any_piece_of_its_name(name: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(name) - 1))
    j = data.draw(st.integers(i + 1, len(name)))
    piece = _escape(name[i:j]).replace("%", "\\%")
    rows = [{"Id": "7", "DisplayName": name, "Active": True}]
    answer = execute(f"select * from Customer where DisplayName like '%{piece}%'", lambda _: rows)
    assert [c["Id"] for c in answer["QueryResponse"]["Customer"]] == ["7"]


HUGE = 10_000_000


def test_ten_megabytes_of_garbage_is_a_parse_fault() -> None:
    for text in ("x" * HUGE, "\x00" * HUGE, "'" * HUGE, "select " + "(" * HUGE, "’" * HUGE):
        result = _answer_or_fault(text)
        assert isinstance(result, QBOFault)
        assert result.errors[0].code == "4000"
        assert len(result.errors[0].detail) < 500


def test_ten_megabyte_unterminated_string_is_a_lexical_fault() -> None:
    text = "select * from Customer where DisplayName = '" + "a\\'" * (HUGE // 3)
    result = _answer_or_fault(text)
    assert isinstance(result, QBOFault)
    assert "Encountered: <EOF> after" in result.errors[0].detail


def test_ten_megabyte_string_literal_is_just_a_value() -> None:
    text = "select * from Customer where DisplayName like '%" + "a" * HUGE + "%'"
    assert _answer_or_fault(text) == {"QueryResponse": {}}
