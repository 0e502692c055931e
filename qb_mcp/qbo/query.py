"""QuickBooks query text, built so that QuickBooks can only refuse it for reasons we cannot know.

`SELECT * | COUNT(*) FROM Entity [WHERE p op v [AND ...]] [ORDERBY p [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS n]` (QBO_API.md section 6). Everything QuickBooks would reject with
4000/4001 that can be known in advance is refused here with InvalidArgumentError, before a request
is sent: unknown entities, properties that are not filterable or sortable, operators a property
does not take (`Id` only `=` and `IN`, `LIKE` only on text), MAXRESULTS outside 1..1000,
STARTPOSITION below 1, empty IN lists, and values of the wrong type.

Literals: strings are single-quoted with `'` written `\\'` and `\\` written `\\\\` (QBO_API.md
section 6; the emulator reads them the same way). Our choices where the documents are silent:
- Control characters (tab, newline, ...) are refused: no name QuickBooks stores holds one.
- A typographic apostrophe (U+2019, and its twin U+2018) makes QuickBooks fail with a lexical
  error. In a LIKE pattern it becomes `%`, which matches either apostrophe, so "O’Brien" still
  finds "O'Brien" (and "OBrien": a wider search, never a missed customer; callers filter the
  rows if they need the exact name); anywhere else it is refused with a message saying to use a
  straight `'`.
- A literal longer than 2,000 characters is refused (the longest filterable text, DisplayName,
  holds 500; FullyQualifiedName joins up to five names).
- Money is written quoted (`TotalAmt > '10.00'`), as in Intuit's own query samples; dates as
  `'YYYY-MM-DD'`, date-times as ISO 8601 with their offset (naive ones are refused: which zone?).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from qb_mcp.errors import InvalidArgumentError, QBOError

__all__ = ["FILTERABLE", "MAX_RESULTS", "SORTABLE", "Query", "paginate", "quote"]

MAX_RESULTS = 1000
MAX_LITERAL = 2000
_TYPOGRAPHIC_APOSTROPHES = ("\u2019", "\u2018")

Kind = Literal["id", "ref", "text", "bool", "money", "date", "datetime"]

_META = {"MetaData.CreateTime": "datetime", "MetaData.LastUpdatedTime": "datetime"}

# Filterable properties and their kinds. Sources:
# - Customer and Estimate: QBO_API.md section 5.
# - Item, Invoice, Payment: the "filterable" marks of Intuit's API reference
#   (developer.intuit.com .../all-entities/<entity>), read through the markdown copy in
#   github.com/Petrus-Han/finance_plugins ref/quickbooks_dev_docs/api-reference/<entity>.md.
#   Item's Sku is not marked filterable there (some third-party lists say it is); Invoice's TotalAmt
#   is not marked either, only Balance.
# - MetaData.CreateTime/LastUpdatedTime on every entity: QBO_API.md lists them for Customer and
#   Intuit's samples filter on them across entities (change polling); CompanyInfo has only Id.
_KINDS: dict[str, dict[str, str]] = {
    "Customer": {
        "Id": "id",
        "DisplayName": "text",
        "GivenName": "text",
        "MiddleName": "text",
        "FamilyName": "text",
        "CompanyName": "text",
        "PrintOnCheckName": "text",
        "FullyQualifiedName": "text",
        "PrimaryEmailAddr": "text",
        "Active": "bool",
        "Balance": "money",
        **_META,
    },
    "Item": {
        "Id": "id",
        "Name": "text",
        "Type": "text",
        "Active": "bool",
        "Taxable": "bool",
        "FullyQualifiedName": "text",
        "SubItem": "bool",
        **_META,
    },
    "Estimate": {
        "Id": "id",
        "CustomerRef": "ref",
        "TxnDate": "date",
        "DueDate": "date",
        "DocNumber": "text",
        **_META,
    },
    "Invoice": {
        "Id": "id",
        "CustomerRef": "ref",
        "ProjectRef": "ref",
        "SalesTermRef": "ref",
        "DocNumber": "text",
        "TxnDate": "date",
        "DueDate": "date",
        "Balance": "money",
        **_META,
    },
    "Payment": {
        "Id": "id",
        "CustomerRef": "ref",
        "TotalAmt": "money",
        "TxnDate": "date",
        "PaymentMethodRef": "ref",
        "PaymentRefNum": "text",
        **_META,
    },
    # SalesReceipt, Term, PaymentMethod, Account: the "filterable" marks of the same reference.
    "SalesReceipt": {
        "Id": "id",
        "CustomerRef": "ref",
        "DocNumber": "text",
        "TxnDate": "date",
        "TotalAmt": "money",
        **_META,
    },
    # CreditMemo and RefundReceipt: their references' marks (TotalAmt is not filterable).
    "CreditMemo": {
        "Id": "id",
        "CustomerRef": "ref",
        "ProjectRef": "ref",
        "SalesTermRef": "ref",
        "DocNumber": "text",
        "TxnDate": "date",
        "Balance": "money",
        **_META,
    },
    "RefundReceipt": {
        "Id": "id",
        "CustomerRef": "ref",
        "ProjectRef": "ref",
        "DocNumber": "text",
        "TxnDate": "date",
        "Balance": "money",
        "PaymentType": "text",
        **_META,
    },
    "Term": {"Id": "id", "Name": "text", "Active": "bool", **_META},
    "PaymentMethod": {"Id": "id", "Name": "text", "Active": "bool", "Type": "text", **_META},
    "Account": {
        "Id": "id",
        "Name": "text",
        "Active": "bool",
        "AccountType": "text",
        "Classification": "text",
        "FullyQualifiedName": "text",
        **_META,
    },
    "CompanyInfo": {"Id": "id"},
}

FILTERABLE: dict[str, frozenset[str]] = {
    entity: frozenset(props) for entity, props in _KINDS.items()
}

# Sortable properties, from the same sources' "sortable" marks (QBO_API.md is silent on sorting).
SORTABLE: dict[str, frozenset[str]] = {
    "Customer": frozenset(
        {
            "Id",
            "DisplayName",
            "GivenName",
            "MiddleName",
            "FamilyName",
            "CompanyName",
            "PrintOnCheckName",
            "FullyQualifiedName",
            "Active",
            "Balance",
            "BalanceWithJobs",
            *_META,
        }
    ),
    "Item": frozenset({"Id", "Name", "Type", "UnitPrice", "PurchaseCost", *_META}),
    "Estimate": frozenset({"Id", "TxnDate", "DueDate", "DocNumber", *_META}),
    "Invoice": frozenset({"Id", "DocNumber", "TxnDate", "DueDate", "Balance", *_META}),
    "Payment": frozenset({"Id", "TxnDate", *_META}),
    "SalesReceipt": frozenset({"Id", "TxnDate", "DocNumber", *_META}),
    "CreditMemo": frozenset({"Id", "DocNumber", "TxnDate", "Balance", *_META}),
    "RefundReceipt": frozenset({"Id", "DocNumber", "TxnDate", "Balance", "PaymentType", *_META}),
    "Term": frozenset({"Id", "Name", *_META}),
    "PaymentMethod": frozenset({"Id", "Name", *_META}),
    "Account": frozenset({"Id", "Name", *_META}),
    "CompanyInfo": frozenset({"Id"}),
}

_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "IN", "LIKE"})
_ALLOWED_OPS: dict[str, frozenset[str]] = {
    "id": frozenset({"=", "IN"}),
    "ref": frozenset({"=", "IN"}),
    "bool": frozenset({"="}),
    "text": _OPERATORS,
    "money": _OPERATORS - {"LIKE"},
    "date": _OPERATORS - {"LIKE"},
    "datetime": _OPERATORS - {"LIKE"},
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def quote(value: str) -> str:
    """A QBO string literal: `'` becomes `\\'`, `\\` becomes `\\\\`; bad characters are refused."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"a query string literal must be a str, got {type(value).__name__}"
        )
    if len(value) > MAX_LITERAL:
        raise InvalidArgumentError(
            f"a query string literal is limited to {MAX_LITERAL} characters, got {len(value)}"
        )
    for index, char in enumerate(value):
        if char in _TYPOGRAPHIC_APOSTROPHES:
            raise InvalidArgumentError(
                f"the text {_clip(value)!r} contains a typographic apostrophe "
                f"({char}, U+{ord(char):04X}) at position {index}, which QuickBooks rejects as "
                "a query syntax error; use a straight apostrophe (') instead, or search with "
                "LIKE, where it is replaced by the % wildcard"
            )
        category = unicodedata.category(char)
        if category == "Cc" or category == "Cs":
            raise InvalidArgumentError(
                f"the text {_clip(value)!r} contains a control character (U+{ord(char):04X}) at "
                f"position {index}; QuickBooks names never hold one: remove it"
            )
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True, slots=True)
class _Condition:
    prop: str
    op: str
    rendered: str


@dataclass(frozen=True, slots=True)
class Query:
    """An immutable query; each builder method returns a new one, so a base query can be reused.

    `Query.select("Customer").where("DisplayName", "LIKE", "Acme%").order_by("DisplayName")`;
    `str(query)` is the text to send.
    """

    entity: str
    is_count: bool = False
    conditions: tuple[_Condition, ...] = ()
    ordering: tuple[tuple[str, bool], ...] = ()
    start_position: int | None = None
    max_results: int | None = None

    @classmethod
    def select(cls, entity: str) -> Query:
        """`SELECT * FROM entity`; the entity name is checked (any case)."""
        return cls(entity=_entity(entity))

    @classmethod
    def count(cls, entity: str) -> Query:
        """`SELECT COUNT(*) FROM entity`: the answer holds only `totalCount`."""
        return cls(entity=_entity(entity), is_count=True)

    def where(self, prop: str, op: str, value: object) -> Query:
        """Add `prop op value` (joined with AND: QuickBooks has no OR)."""
        name, kind = self._filterable(prop)
        operator = op.strip().upper() if isinstance(op, str) else ""
        if operator not in _OPERATORS:
            raise InvalidArgumentError(
                f"unknown query operator {op!r}; QuickBooks knows =, <, >, <=, >=, IN and LIKE "
                "(there is no != or OR)"
            )
        if operator not in _ALLOWED_OPS[kind]:
            allowed = ", ".join(sorted(_ALLOWED_OPS[kind]))
            raise InvalidArgumentError(
                f"{self.entity}.{name} does not take {operator}; it takes only {allowed}"
            )
        if operator == "IN":
            rendered = _in_list(value, name=name, kind=kind)
        elif operator == "LIKE":
            rendered = _like(value, name=name)
        else:
            rendered = _literal(value, name=name, kind=kind)
        condition = _Condition(name, operator, rendered)
        return replace(self, conditions=(*self.conditions, condition))

    def order_by(self, prop: str, desc: bool = False) -> Query:
        """Sort by a sortable property; call again for a secondary key."""
        self._not_count("ORDERBY")
        name = _canonical(prop, SORTABLE[self.entity], self.entity, what="sortable")
        return replace(self, ordering=(*self.ordering, (name, bool(desc))))

    def start(self, position: int) -> Query:
        """STARTPOSITION, 1-based."""
        self._not_count("STARTPOSITION")
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise InvalidArgumentError(
                f"STARTPOSITION must be an integer of at least 1 (it is 1-based), got {position!r}"
            )
        return replace(self, start_position=position)

    def limit(self, n: int) -> Query:
        """MAXRESULTS, 1..1000."""
        self._not_count("MAXRESULTS")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_RESULTS:
            raise InvalidArgumentError(
                f"MAXRESULTS must be an integer from 1 to {MAX_RESULTS}, got {n!r}"
            )
        return replace(self, max_results=n)

    def __str__(self) -> str:
        # Not injectable: the entity and properties come from the allow-lists above and every
        # value went through quote() or a typed renderer.
        head = "COUNT(*)" if self.is_count else "*"
        parts = [f"SELECT {head} FROM {self.entity}"]  # noqa: S608
        if self.conditions:
            parts.append(
                "WHERE " + " AND ".join(f"{c.prop} {c.op} {c.rendered}" for c in self.conditions)
            )
        if self.ordering:
            parts.append(
                "ORDERBY " + ", ".join(f"{p} DESC" if desc else p for p, desc in self.ordering)
            )
        if self.start_position is not None:
            parts.append(f"STARTPOSITION {self.start_position}")
        if self.max_results is not None:
            parts.append(f"MAXRESULTS {self.max_results}")
        return " ".join(parts)

    def _filterable(self, prop: str) -> tuple[str, Kind]:
        name = _canonical(prop, FILTERABLE[self.entity], self.entity, what="filterable")
        kind: Any = _KINDS[self.entity][name]
        return name, kind

    def _not_count(self, clause: str) -> None:
        if self.is_count:
            raise InvalidArgumentError(f"a COUNT(*) query takes no {clause}: it answers one number")


async def paginate(
    run: Callable[[str], Awaitable[Mapping[str, Any]]],
    query: Query,
    *,
    page_size: int = MAX_RESULTS,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every row of `query`, one page (STARTPOSITION/MAXRESULTS) at a time.

    `run(text)` sends one query and returns the decoded answer body. Paging stops at the first
    page with fewer rows than asked (QuickBooks' `totalCount` is not reliable for SELECT *).
    The query's own STARTPOSITION is where paging begins; its MAXRESULTS, when set, caps the total
    number of rows yielded.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidArgumentError(f"page_size must be an integer, got {page_size!r}")
    if not 1 <= page_size <= MAX_RESULTS:
        raise InvalidArgumentError(f"page_size must be from 1 to {MAX_RESULTS}, got {page_size}")
    if query.is_count:
        raise InvalidArgumentError("a COUNT(*) query has one answer; run it instead of paging")
    position = query.start_position or 1
    remaining = query.max_results
    while remaining is None or remaining > 0:
        asked = page_size if remaining is None else min(page_size, remaining)
        page = replace(query, start_position=position, max_results=asked)
        rows = _rows(await run(str(page)), query.entity)
        for row in rows:
            yield row
        if len(rows) < asked:
            return
        position += len(rows)
        if remaining is not None:
            remaining -= len(rows)


# --- helpers ------------------------------------------------------------------------------------


def _entity(name: str) -> str:
    if isinstance(name, str):
        for entity in FILTERABLE:
            if entity.lower() == name.strip().lower():
                return entity
    raise InvalidArgumentError(
        f"unknown or unsupported entity {name!r} for a query; expected one of "
        f"{', '.join(FILTERABLE)}"
    )


def _canonical(prop: str, allowed: frozenset[str], entity: str, *, what: str) -> str:
    if isinstance(prop, str):
        wanted = prop.strip().lower()
        for name in allowed:
            if name.lower() == wanted:
                return name
    raise InvalidArgumentError(
        f"{entity}.{prop} is not {what} in QuickBooks queries (QuickBooks would answer 4001 "
        f"'not queryable'); {what} properties: {', '.join(sorted(allowed))}"
    )


def _literal(value: object, *, name: str, kind: str) -> str:
    if value is None:
        raise InvalidArgumentError(f"{name}: a query value is required, got None")
    if kind in ("id", "ref"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return quote(str(value))
        if isinstance(value, str) and value.strip():
            return quote(value.strip())
        raise InvalidArgumentError(f"{name} takes a non-empty id (str or int), got {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        raise InvalidArgumentError(f"{name} takes True or False, got {value!r}")
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise InvalidArgumentError(
                f"{name} takes a Decimal or int amount (never a float), got {value!r}"
            )
        number = Decimal(value)
        if not number.is_finite() or number.adjusted() > 20:
            raise InvalidArgumentError(f"{name} takes a finite amount of sane size, got {value!r}")
        return quote(format(number, "f"))
    if kind == "date":
        return quote(_date_text(value, name=name))
    if kind == "datetime":
        return quote(_datetime_text(value, name=name))
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} takes text (str), got {type(value).__name__}")
    return quote(value)


def _like(value: object, *, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} LIKE takes a text pattern, got {value!r}")
    for char in _TYPOGRAPHIC_APOSTROPHES:
        # QuickBooks cannot read it; % matches it and a straight apostrophe alike.
        value = value.replace(char, "%")
    return quote(value)


def _in_list(value: object, *, name: str, kind: str) -> str:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} IN takes a list of values, got {type(value).__name__}")
    items = [_literal(v, name=name, kind=kind) for v in value]
    if not items:
        raise InvalidArgumentError(f"{name} IN needs at least one value")
    return "(" + ", ".join(items) + ")"


def _date_text(value: object, *, name: str) -> str:
    if isinstance(value, datetime):
        raise InvalidArgumentError(f"{name} is a date: give a date, not a datetime ({value!r})")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise InvalidArgumentError(f"{name} takes a date (or 'YYYY-MM-DD'), got {value!r}")


def _datetime_text(value: object, *, name: str) -> str:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                date.fromisoformat(text)
                if _ISO_DATE.fullmatch(text)
                else datetime.fromisoformat(text)
            )
        except ValueError:
            raise InvalidArgumentError(
                f"{name} takes a datetime with a UTC offset, a date, or ISO 8601 text; "
                f"got {value!r}"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgumentError(
                f"{name} needs a time zone: {value.isoformat()} is naive and QuickBooks would "
                "read it in the company's zone; pass an aware datetime"
            )
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidArgumentError(f"{name} takes a datetime or date, got {value!r}")


def _rows(body: Mapping[str, Any], entity: str) -> list[dict[str, Any]]:
    response = body.get("QueryResponse") if isinstance(body, Mapping) else None
    if not isinstance(response, Mapping):
        raise QBOError("QuickBooks answered a query without a QueryResponse object")
    rows: Any = response.get(entity)
    if rows is None:
        # Keys come back in QuickBooks' casing; an empty page is `"QueryResponse": {}`.
        rows = next((v for k, v in response.items() if k.lower() == entity.lower()), [])
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise QBOError(f"QuickBooks answered a query with a malformed {entity} list")
    return [r if isinstance(r, dict) else dict(r) for r in rows]


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "…"
