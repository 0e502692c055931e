"""What the bookkeeping operations share: input field types, trimmed views, and look-ups.

Input types. The MCP tools reuse the operations' pydantic input models as their parameter types,
so a JSON number arrives as a Python float before any of our code runs. A float is turned into a
Decimal through its shortest round-trip text (`repr`), which is exactly the digits the caller
wrote in JSON for any amount with at most 15 significant digits; the result then goes through
`qb_mcp.money` like every other amount (cents only, bounded, not negative). No float is ever used
in arithmetic.

Views. Outputs are trimmed models (ids, names, amounts, balances, status, links), never a raw
QuickBooks object: an agent needs a few fields, and text from QuickBooks stays in plain data
fields (DESIGN.md invariant 7).

Look-ups. A customer or item "by id or by name", a transaction "by id or by doc number": each
miss or ambiguity is an InvalidArgumentError that says what to call next.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from qb_mcp import money
from qb_mcp.bookkeeping import matching
from qb_mcp.errors import InvalidArgumentError, NotFoundError
from qb_mcp.qbo import wire
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.directory import Directory

# How many candidates an ambiguity error lists.
MAX_LISTED = 8
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ZERO = Decimal("0.00")


# ---- input field types -------------------------------------------------------------------------


def _from_json_number(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, float):
        # repr gives the shortest text that round-trips: the digits written in the JSON.
        try:
            return Decimal(repr(value))
        except InvalidOperation:  # pragma: no cover - repr of a float is always a number
            raise ValueError(f"not a number: {value!r}") from None
    return value


def _amount(value: object) -> Decimal:
    return money.parse_amount(_from_json_number(value), field="amount")


def _positive_amount(value: object) -> Decimal:
    amount = money.parse_amount(_from_json_number(value), field="amount")
    if amount <= 0:
        raise ValueError("amount must be greater than zero")
    return amount


def _quantity(value: object) -> Decimal:
    return money.parse_quantity(_from_json_number(value), field="quantity")


def _price(value: object) -> Decimal:
    return money.parse_quantity(_from_json_number(value), field="unit_price")


# The raw value goes through `qb_mcp.money` (which refuses exponents, separators, NaN, booleans,
# too many places and sizes QuickBooks cannot hold) before pydantic's own Decimal parsing.
AmountIn = Annotated[Decimal, BeforeValidator(_amount)]
PositiveAmountIn = Annotated[Decimal, BeforeValidator(_positive_amount)]
QuantityIn = Annotated[Decimal, BeforeValidator(_quantity)]
PriceIn = Annotated[Decimal, BeforeValidator(_price)]


def _clean_text(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
            raise ValueError("control characters are not allowed")
        return text
    return value


# Refused in names and one-line fields, where they are never meant: the bidirectional embeddings,
# overrides and isolates (which make a name display differently from what it is, e.g. reversed),
# the Unicode line and paragraph separators (a line break in disguise), and U+FFFD, the
# replacement character that undecodable input (invalid UTF-8 on stdin) turns into.
_NOT_IN_ONE_LINE = re.compile("[\u202a-\u202e\u2066-\u2069\u2028\u2029\ufffd]")
_WHAT_IT_IS = {
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
    "\ufffd": "the replacement character undecodable input becomes",
}


def _single_line(value: str) -> str:
    if "\n" in value or "\t" in value or "\r" in value:
        raise ValueError("must be a single line (no tab or newline)")
    found = _NOT_IN_ONE_LINE.search(value)
    if found is not None:
        char = found.group()
        what = _WHAT_IT_IS.get(char, "a bidirectional text control")
        raise ValueError(
            f"must not contain U+{ord(char):04X} ({what}); give the text as it should read"
        )
    return value


# The dates QuickBooks is sent. No Intuit page states the range its date fields take; 9999-12-31
# is what QuickBooks stores for "no date" (QBO_API.md, section 5), so it cannot stand for a real
# one, and year 1 is a typo. Every real bookkeeping date falls well inside this window, and a date
# outside it is refused before anything is sent (and before date arithmetic such as a due date
# 30 days on could overflow).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def _bookkeeping_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(
            f"{value.isoformat()} is outside the dates QuickBooks takes here "
            f"({EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()})"
        )
    return value


Text = Annotated[str, BeforeValidator(_clean_text)]
Line1 = Annotated[str, BeforeValidator(_clean_text), AfterValidator(_single_line)]
DateIn = Annotated[date, AfterValidator(_bookkeeping_date)]
IdIn = Annotated[
    str,
    BeforeValidator(_clean_text),
    Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
]
DocNumberIn = Annotated[
    str,
    BeforeValidator(_clean_text),
    AfterValidator(_single_line),
    Field(min_length=1, max_length=21),
]
IdempotencyKeyIn = Annotated[
    str,
    BeforeValidator(_clean_text),
    Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"),
]


# Parameter descriptions several tools share, written once. tools/list carries every tool's,
# so each is as short as it can be and says only what the parameter's name does not
# (tools/compact.py).
CUSTOMER_ID = "from find_customer"
CUSTOMER_NAME = "exact name"
ITEM_ID = "from find_items"
TODAY = "default today (US Pacific)"
ITS_ID = "its Id"
DOC_NUMBER = "if no id"
TXN_DOC_NUMBER = "or a payment's reference"
NEXT_NUMBER = "default: next number"
CUSTOMER_MEMO = "customer message"
METHOD = "e.g. Cash, Check"
BANK_ACCOUNT = "bank account name or id"
# Identical calls make one record (the tools say "Safe to retry"); a new key, a second one.
IDEMPOTENCY_KEY = "vary for a true duplicate"


class InputModel(BaseModel):
    """Base of the operations' input models: strict about unknown fields, no NaN/inf."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=4000)


# ---- views -------------------------------------------------------------------------------------


class LineView(BaseModel):
    """One sales line of an estimate or invoice."""

    line_id: str | None = None
    item_id: str | None = None
    item_name: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal


class LinkView(BaseModel):
    """A link to another transaction (an invoice's estimate, an invoice's payments, ...)."""

    txn_id: str
    txn_type: str | None = None


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A wire number (int or Decimal, as `qbo.wire.decode` gives them) as a Decimal."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return default
    return default


def amount_of(value: Any) -> Decimal:
    """A wire amount, 0.00 when absent."""
    found = dec(value)
    return ZERO if found is None else found


def text(value: Any) -> str | None:
    """A wire string, or None."""
    return value if isinstance(value, str) else None


def ref_value(obj: Mapping[str, Any], key: str) -> str | None:
    """`obj[key]["value"]` when it is a Ref."""
    ref = obj.get(key)
    if isinstance(ref, Mapping) and isinstance(ref.get("value"), str):
        return str(ref["value"])
    return None


def ref_name(obj: Mapping[str, Any], key: str) -> str | None:
    """`obj[key]["name"]` when present."""
    ref = obj.get(key)
    if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
        return str(ref["name"])
    return None


def sales_lines(obj: Mapping[str, Any]) -> list[LineView]:
    """The SalesItemLineDetail lines of an estimate or invoice (QuickBooks' subtotal left out)."""
    out: list[LineView] = []
    lines = obj.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, Mapping) or line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.get("SalesItemLineDetail")
        detail = detail if isinstance(detail, Mapping) else {}
        out.append(
            LineView(
                line_id=text(line.get("Id")),
                item_id=ref_value(detail, "ItemRef"),
                item_name=ref_name(detail, "ItemRef"),
                description=text(line.get("Description")),
                quantity=dec(detail.get("Qty")),
                unit_price=dec(detail.get("UnitPrice")),
                amount=amount_of(line.get("Amount")),
            )
        )
    return out


def links(obj: Mapping[str, Any]) -> list[LinkView]:
    """The transaction's LinkedTxn entries."""
    found = obj.get("LinkedTxn")
    return [
        LinkView(txn_id=str(link["TxnId"]), txn_type=text(link.get("TxnType")))
        for link in (found if isinstance(found, list) else [])
        if isinstance(link, Mapping) and isinstance(link.get("TxnId"), str)
    ]


def memo_text(obj: Mapping[str, Any]) -> str | None:
    """CustomerMemo's text (`{"value": ...}` on the wire)."""
    return ref_value(obj, "CustomerMemo")


def parse_day(value: Any) -> date | None:
    """A QuickBooks date string as a date (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def is_voided(obj: Mapping[str, Any]) -> bool:
    """Void zeroes the amounts and writes "Voided" into PrivateNote (QBO_API.md section 5)."""
    note = obj.get("PrivateNote")
    return (
        isinstance(note, str)
        and "voided" in note.casefold()
        and amount_of(obj.get("TotalAmt")) == 0
    )


# ---- customers ---------------------------------------------------------------------------------


class CustomerRefView(BaseModel):
    """A customer named in an error or a result: enough to pick the right one."""

    id: str
    display_name: str | None = None
    company: str | None = None
    email: str | None = None
    active: bool = True


def customer_ref_view(customer: Mapping[str, Any]) -> CustomerRefView:
    """The short view of a customer."""
    email = customer.get("PrimaryEmailAddr")
    return CustomerRefView(
        id=str(customer.get("Id", "")),
        display_name=text(customer.get("DisplayName")),
        company=text(customer.get("CompanyName")),
        email=text(email.get("Address")) if isinstance(email, Mapping) else None,
        active=customer.get("Active") is not False,
    )


def record_label(kind: str, record: Mapping[str, Any], *, name_key: str = "DisplayName") -> str:
    """`customer 15 (name from QuickBooks: "Acme")` for a message: the id, and the name quoted
    as QuickBooks' data (see `qb_mcp.quoting`)."""
    name = quoted(record.get(name_key), label="name from QuickBooks")
    return f"{kind} {record.get('Id')} {name}"


def transaction_label(kind: str, txn: Mapping[str, Any]) -> str:
    """`invoice 130 (number from QuickBooks: "1037")` for a message (the number when it has
    one)."""
    number = txn.get("DocNumber")
    shown = f" {quoted(number, label='number from QuickBooks')}" if isinstance(number, str) else ""
    return f"{kind} {txn.get('Id')}{shown}"


def _name_label(record: Mapping[str, Any]) -> str:
    return ("inactive, " if record.get("Active") is False else "") + "name from QuickBooks"


def listed(customers: Sequence[Mapping[str, Any]]) -> str:
    """`12 (name from QuickBooks: "Amy's Bird Sanctuary"), 14 (inactive, name from QuickBooks:
    "Amy Lee")` for an error message."""
    shown = [
        f"{c.get('Id')} {quoted(c.get('DisplayName'), label=_name_label(c))}"
        for c in customers[:MAX_LISTED]
    ]
    more = len(customers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


async def get_or_none(client: QBOClient, entity: str, entity_id: str) -> dict[str, Any] | None:
    """Read by Id; None when QuickBooks says it does not exist (610)."""
    try:
        return await client.get(entity, entity_id)
    except NotFoundError:
        return None


async def customers_named(client: QBOClient, name: str) -> list[dict[str, Any]]:
    """Active and inactive customers whose DisplayName is `name` (QuickBooks compares it)."""
    rows: list[dict[str, Any]] = []
    for active in (True, False):
        query = (
            Query.select("Customer").where("DisplayName", "=", name).where("Active", "=", active)
        )
        response = await client.query(query.limit(MAX_LISTED))
        found = response.get("Customer")
        rows.extend(r for r in (found if isinstance(found, list) else []) if isinstance(r, dict))
    return rows


async def resolve_customer(
    client: QBOClient, *, customer_id: str | None, customer_name: str | None
) -> dict[str, Any]:
    """The one active customer meant by an id or a name; refusals say what to call next."""
    if customer_id is not None:
        customer = await get_or_none(client, "Customer", customer_id)
        if customer is None:
            raise InvalidArgumentError(
                f"there is no customer with id {customer_id}; call find_customer to look it up"
            )
    else:
        assert customer_name is not None
        customer = await _customer_by_name(client, customer_name)
    if customer.get("Active") is False:
        raise InvalidArgumentError(
            f"{record_label('customer', customer)} is inactive and "
            "QuickBooks refuses transactions for it; reactivate it in QuickBooks first, or pick "
            "another customer with find_customer"
        )
    return customer


async def _customer_by_name(client: QBOClient, name: str) -> dict[str, Any]:
    everyone = await customers_named(client, name)
    exact = [c for c in everyone if c.get("Active") is not False]
    if len(exact) == 1:
        return exact[0]
    if not exact and len(everyone) == 1:
        return everyone[0]  # inactive: the caller refuses it and says so
    if len(exact) > 1:  # pragma: no cover - QuickBooks keeps DisplayName unique
        raise InvalidArgumentError(
            f"the customer name {quoted(name)} matches several customers: {listed(exact)}; pass "
            "customer_id instead"
        )
    candidates = await customer_candidates(client, name=name)
    ranked = matching.rank_customers(
        candidates, matching.CustomerSearch(name=name), limit=MAX_LISTED + 1
    )
    active = [m.customer for m in ranked if m.active]
    if len(active) == 1 and ranked[0].score >= matching.SCORE_NAME_REORDERED:
        return dict(active[0])
    if not active:
        raise InvalidArgumentError(
            f"no active customer is named {quoted(name)}; call find_customer to search by email, "
            "phone or part of the name, or upsert_customer to create the customer"
        )
    raise InvalidArgumentError(
        f"the customer name {quoted(name)} is ambiguous: it could be {listed(active)}; pass "
        "customer_id with one of these ids (find_customer shows more detail)"
    )


# How many pages of LIKE results each name word may bring in (a page is 1000 customers).
NAME_QUERY_PAGES = 2


async def customer_candidates(
    client: QBOClient, *, name: str | None = None, company: str | None = None
) -> list[dict[str, Any]]:
    """Customers whose names contain the words of `name`/`company` (a bounded LIKE search).

    For each of DisplayName, GivenName, FamilyName and CompanyName, one LIKE query per word of
    the search (`%word%`, the longest three words only), active and inactive, at most
    NAME_QUERY_PAGES pages each. Ranking is left to `matching.rank_customers`.
    """
    words: list[str] = []
    for value in (name, company):
        if value:
            words.extend(_like_words(value))
    words = sorted(dict.fromkeys(words), key=len, reverse=True)[:3]
    queries = [
        Query.select("Customer").where(prop, "LIKE", f"%{word}%").where("Active", "=", active)
        for word in words
        for prop in ("DisplayName", "GivenName", "FamilyName", "CompanyName")
        for active in (True, False)
    ]
    # Concurrently: the client's per-realm limiter keeps them within QuickBooks' limits.
    pages = await asyncio.gather(
        *(collect(client, query, 1000 * NAME_QUERY_PAGES) for query in queries)
    )
    seen: dict[str, dict[str, Any]] = {}
    for rows in pages:
        for row in rows:
            seen.setdefault(str(row.get("Id")), row)
    return list(seen.values())


async def collect(client: QBOClient, query: Query, limit: int) -> list[dict[str, Any]]:
    """At most `limit` rows of `query`, page by page."""
    return [row async for row in take(client.query_all(query), limit)]


async def take(rows: AsyncIterator[dict[str, Any]], limit: int) -> AsyncIterator[dict[str, Any]]:
    """At most `limit` rows of a paged query (no further page is asked for)."""
    count = 0
    async for row in rows:
        yield row
        count += 1
        if count >= limit:
            return


def _like_words(value: str) -> list[str]:
    # LIKE knows only %; the words are searched as written (apostrophes and accents kept, since
    # QuickBooks compares the stored text). Very short words would match half the company.
    out = []
    for word in re.split(r"[\s,;:/&()\"]+", value):
        word = word.strip("%_.-")
        if len(word) >= 2 and "%" not in word:
            out.append(word)
    return out


# ---- items -------------------------------------------------------------------------------------


async def resolve_item(
    client: QBOClient,
    *,
    item_id: str | None,
    item_name: str | None,
    directory: Directory | None = None,
) -> dict[str, Any]:
    """The one active item meant by an id or a name; refusals name candidates.

    With the company's `directory` (the local index, brought up to date by the caller), an item
    it knows costs no request; one it does not know is looked up in QuickBooks as before, so a
    refusal never rests on the index alone.
    """
    known: dict[str, Any] | None = None
    if directory is not None:
        known = (
            directory.item(item_id)
            if item_id is not None
            else directory.active_item_named(item_name or "")
        )
    if known is not None:
        item = known
    elif item_id is not None:
        read = await get_or_none(client, "Item", item_id)
        if read is None:
            raise InvalidArgumentError(
                f"there is no item with id {item_id}; call find_items to look it up"
            )
        item = read
    else:
        assert item_name is not None
        response = await client.query(Query.select("Item").where("Name", "=", item_name).limit(5))
        rows = [r for r in response.get("Item", []) if isinstance(r, dict)]
        if len(rows) == 1:
            item = rows[0]
        else:
            similar = await _similar_items(client, item_name)
            hint = (
                "; similar items: "
                + ", ".join(
                    f"{i.get('Id')} {quoted(i.get('Name'), label=_name_label(i))}" for i in similar
                )
                if similar
                else ""
            )
            if not rows:
                raise InvalidArgumentError(
                    f"there is no active item named {quoted(item_name)}{hint}; call find_items to "
                    "see the item list, then pass item_id or the exact name"
                )
            raise InvalidArgumentError(  # pragma: no cover - Item names are unique
                f"the item name {quoted(item_name)} matches several items{hint}; pass item_id"
            )
    if item.get("Active") is False:
        raise InvalidArgumentError(
            f"{record_label('item', item, name_key='Name')} is inactive; QuickBooks refuses it on "
            "new lines: pick an active item with find_items"
        )
    return item


async def _similar_items(client: QBOClient, name: str) -> list[dict[str, Any]]:
    words = _like_words(name)
    if not words:
        return []
    query = Query.select("Item").where("Name", "LIKE", f"%{max(words, key=len)}%").limit(5)
    rows = (await client.query(query)).get("Item", [])
    return [r for r in rows if isinstance(r, dict)]


# ---- transactions ------------------------------------------------------------------------------


async def resolve_transaction(
    client: QBOClient, entity: str, *, txn_id: str | None, doc_number: str | None
) -> dict[str, Any]:
    """An estimate, invoice or payment by Id or DocNumber (PaymentRefNum for a payment)."""
    label = entity.lower()
    if txn_id is not None:
        found = await get_or_none(client, entity, txn_id)
        if found is None:
            raise InvalidArgumentError(
                f"there is no {label} with id {txn_id} (wrong id, or it was deleted); call "
                f"get_transaction or list_open_invoices to find it"
            )
        return found
    assert doc_number is not None
    prop = "PaymentRefNum" if entity == "Payment" else "DocNumber"
    response = await client.query(Query.select(entity).where(prop, "=", doc_number).limit(10))
    rows = [r for r in response.get(entity, []) if isinstance(r, dict)]
    if not rows:
        raise InvalidArgumentError(
            f"there is no {label} with {'reference' if entity == 'Payment' else 'doc number'} "
            f"{quoted(doc_number)}; check the number, or pass its id"
        )
    if len(rows) > 1:
        ids = ", ".join(str(r.get("Id")) for r in rows)
        raise InvalidArgumentError(
            f"several {label}s carry the number {quoted(doc_number)} (ids {ids}); pass the id "
            "instead"
        )
    return rows[0]


def check_id(value: str, field: str) -> str:
    """A QuickBooks Id as given by a caller (digits and letters only)."""
    if not _ID.match(value):
        raise InvalidArgumentError(f"{field} {quoted(value)} is not a QuickBooks id")
    return value


def answer_text(entity: str, obj: Mapping[str, Any]) -> str:
    """`obj` as QuickBooks answers a write of it (`{"Payment": {...}}`), for the ledger."""
    return wire.encode({entity: dict(obj)}).decode("utf-8")


def exactly_one(a: object, b: object, what: str) -> None:
    """Refuse (as a validation error) unless exactly one of a pair of alternatives is given."""
    if (a is None) == (b is None):
        raise ValueError(f"give exactly one of {what}")


# ---- memo markers ------------------------------------------------------------------------------
# A write that QuickBooks cannot deduplicate by itself across days (a payment, a sale) carries a
# marker in its PrivateNote: a prefix naming the kind and a hash of what makes it the same write.
# A repeat finds the marked object instead of writing a second one.


def memo_marker(prefix: str, parts: Sequence[str]) -> str:
    """The marker for a write whose identity is `parts` (`prefix` like "[qb-mcp:pay:")."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return f"{prefix}{digest}]"


async def find_marked(
    client: QBOClient,
    entity: str,
    *,
    customer_id: str,
    total: Decimal | None,
    txn_date: date,
    marker: str,
) -> dict[str, Any] | None:
    """The customer's `entity` of that day (and total, where QuickBooks filters on TotalAmt)
    whose PrivateNote holds `marker`, if any."""
    query = (
        Query.select(entity).where("CustomerRef", "=", customer_id).where("TxnDate", "=", txn_date)
    )
    if total is not None:
        query = query.where("TotalAmt", "=", total)
    async for row in client.query_all(query):
        note = row.get("PrivateNote")
        if isinstance(note, str) and marker in note:
            return row
    return None
