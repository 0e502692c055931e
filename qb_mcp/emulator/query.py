"""The QuickBooks Online query language, as the emulator speaks it.

`SELECT * | COUNT(*) | p, ... FROM Entity [WHERE p op v [AND ...]] [ORDERBY p [ASC|DESC][, ...]]
[STARTPOSITION n] [MAXRESULTS n]`, following ../shared/QBO_API.md section 6 and Intuit's reference.
A property list (`SELECT Id, DisplayName`, `SELECT *, Sku`) answers whole objects, as SELECT * does:
Intuit's "Query operations" page says the response set always returns all properties for each
object ("projections are not supported").

Where Intuit's documents are silent, these are our choices:
- Strings compare case-insensitively (casefold) for =, IN, LIKE and for <, >, ordering. QBO's
  name lookups behave so in practice; no Intuit document states it.
- A backslash escapes the next character, whatever it is: `\\'` is `'`, `\\\\` is one backslash,
  `\\%` is a literal percent sign in LIKE (and `%` elsewhere), `\\n` is just `n`.
- U+2019 and every other character that is not part of the syntax is a lexical error (4000)
  outside a string; inside a string anything goes (QBO is known to reject some typographic
  characters even there, e.g. U+2013; we accept them).
- `ORDER BY` is accepted as a spelling of `ORDERBY` (QBO's parser lists "order" as a keyword);
  STARTPOSITION and MAXRESULTS may come in either order, each at most once.
- STARTPOSITION 0 is served as 1 (a captured QBO request with `StartPosition 0` ran;
  intuit/QuickBooks-V3-DotNET-SDK#111). A negative one is not an integer to the grammar: 4000.
  MAXRESULTS 0 is 4001 `value 0 is too small. Min allowed value is 1`.
- Default order is by Id ascending, as numbers. ORDERBY ties fall back to that order. Objects
  missing the sorted property come first ascending, last descending. A condition on a property an
  object lacks is false.
- Id takes only = and IN: other operators give 4001 `QueryValidationError: operator '<' is not
  supported for property 'Id'`. LIKE on a property that is not text gives the same shape.
- An unknown entity gives 4001 `QueryValidationError: Entity 'Foo' not found`; an entity QBO has
  but the emulator does not emulate (Vendor, Account, ...) gives 4002 `QueryProcessingError`
  saying so. A property the entity does not have gives 4001 `Property X not found for Entity Y`
  (wording from a sandbox test recorded in a public repository); one it has but cannot filter or
  sort on gives 4001 `property 'X' is not queryable` (QBO's wording).
- A value that cannot be read as the property's type (`Balance > 'abc'`) gives 4001
  `QueryValidationError: value 'abc' is not valid for property 'Balance'`.
- Date-times without an offset, and dates compared against date-times, are in the company's time
  zone (the demo company's, US Pacific: `pacific.PACIFIC`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.pacific import PACIFIC
from qb_mcp.emulator.query_lexer import CLIP, Token, image_of, like_parts, parse_error, tokens

__all__ = ["QUERYABLE", "SORTABLE", "execute"]

Kind = Literal["id", "ref", "string", "email", "bool", "money", "date", "datetime"]
Rows = Callable[[str], Sequence[Mapping[str, Any]]]

MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: Kind
    path: tuple[str, ...]
    filterable: bool
    sortable: bool


@dataclass(frozen=True, slots=True)
class _Entity:
    name: str
    fields: Mapping[str, _Field]  # by lower-case name
    others: Mapping[str, str]  # attributes neither filterable nor sortable, by lower-case name
    name_list: bool  # Customer, Item: only active objects unless the query mentions Active


def _entity(name: str, specs: str, others: str, *, name_list: bool = False) -> _Entity:
    """Build an entity from lines of `Name kind flags` (flags: f filterable, s sortable)."""
    fields: dict[str, _Field] = {}
    for line in filter(None, map(str.split, specs.splitlines())):
        fname, kind, flags = line
        if kind == "email":
            path: tuple[str, ...] = (fname, "Address")
        elif kind == "ref":
            path = (fname, "value")
        else:
            path = tuple(fname.split("."))
        fields[fname.lower()] = _Field(fname, cast(Kind, kind), path, "f" in flags, "s" in flags)
    return _Entity(name, fields, {o.lower(): o for o in others.split()}, name_list)


# ModificationMetaData's CreateTime and LastUpdatedTime are filterable and sortable on every entity
# (Intuit reference; the Customer page's own query sample filters on Metadata.LastUpdatedTime).
_META = """
MetaData.CreateTime datetime fs
MetaData.LastUpdatedTime datetime fs
"""

# Each list is the "filterable" / "sortable" marks of Intuit's API reference for the entity
# (developer.intuit.com .../all-entities/<entity>), read through copies in the code index: Customer
# from a verbatim copy (index id 36866739720), the others from the markdown copy in
# github.com/Petrus-Han/finance_plugins ref/quickbooks_dev_docs/api-reference/<entity>.md.
_ENTITIES: dict[str, _Entity] = {
    e.name.lower(): e
    for e in (
        _entity(
            "Customer",
            # BalanceWithJobs is sortable but not filterable. QBO_API.md section 5 agrees.
            """
            Id id fs
            DisplayName string fs
            GivenName string fs
            MiddleName string fs
            FamilyName string fs
            CompanyName string fs
            PrintOnCheckName string fs
            FullyQualifiedName string fs
            PrimaryEmailAddr email f
            Active bool fs
            Balance money fs
            BalanceWithJobs money s
            """
            + _META,
            """SyncToken Title Suffix ResaleNum SecondaryTaxIdentifier ARAccountRef
            DefaultTaxCodeRef PreferredDeliveryMethod GSTIN SalesTermRef CustomerTypeRef Fax
            BusinessNumber BillWithParent CurrencyRef Mobile Job PrimaryPhone OpenBalanceDate
            Taxable AlternatePhone MetaData ParentRef Notes WebAddr ShipAddr PaymentMethodRef
            IsProject Source PrimaryTaxIdentifier GSTRegistrationType BillAddr Level
            TaxExemptionReasonId domain sparse""",
            name_list=True,
        ),
        _entity(
            "Item",
            # Intuit marks Sku neither filterable nor sortable, unlike some third-party lists.
            """
            Id id fs
            Name string fs
            Type string fs
            Active bool f
            Taxable bool f
            FullyQualifiedName string f
            SubItem bool f
            UnitPrice money s
            PurchaseCost money s
            """
            + _META,
            """SyncToken InvStartDate QtyOnHand AssetAccountRef IncomeAccountRef
            ExpenseAccountRef Sku Description PurchaseDesc ReorderPoint Level ParentRef
            AbatementRate ReverseChargeRate ServiceType ItemCategoryType PrefVendorRef ClassRef
            Source TaxClassificationRef MetaData TrackQtyOnHand SalesTaxIncluded
            PurchaseTaxIncluded SalesTaxCodeRef PurchaseTaxCodeRef domain sparse""",
            name_list=True,
        ),
        _entity(
            "Estimate",
            # Not TxnStatus, ExpirationDate or TotalAmt: Intuit does not mark them filterable.
            """
            Id id fs
            CustomerRef ref f
            ProjectRef ref f
            TxnDate date fs
            DueDate date fs
            DocNumber string fs
            """
            + _META,
            """SyncToken ShipFromAddr CurrencyRef GlobalTaxCalculation BillEmail ShipDate
            ClassRef PrintStatus CustomField SalesTermRef TxnStatus LinkedTxn AcceptedDate
            ExpirationDate TransactionLocationType MetaData PrivateNote Line CustomerMemo
            EmailStatus TxnTaxDetail AcceptedBy ExchangeRate ShipAddr DepartmentRef
            ShipMethodRef BillAddr ApplyTaxAfterDiscount TotalAmt RecurDataRef TaxExemptionRef
            HomeTotalAmt FreeFormAddress domain sparse""",
        ),
        _entity(
            "Invoice",
            # Not TotalAmt: Intuit marks only Balance of the amounts filterable on Invoice.
            """
            Id id fs
            CustomerRef ref f
            ProjectRef ref f
            SalesTermRef ref f
            DocNumber string fs
            TxnDate date fs
            DueDate date fs
            Balance money fs
            """
            + _META,
            """SyncToken Line ShipFromAddr CurrencyRef GlobalTaxCalculation BillEmail ShipDate
            TrackingNum ClassRef PrintStatus TxnSource LinkedTxn DepositToAccountRef
            AllowOnlineACHPayment TransactionLocationType MetaData PrivateNote BillEmailCc
            CustomerMemo EmailStatus ExchangeRate Deposit TxnTaxDetail
            AllowOnlineCreditCardPayment CustomField ShipAddr DepartmentRef BillEmailBcc
            ShipMethodRef BillAddr ApplyTaxAfterDiscount HomeBalance DeliveryInfo TotalAmt
            InvoiceLink RecurDataRef TaxExemptionRef HomeTotalAmt FreeFormAddress
            AllowOnlinePayment AllowIPNPayment domain sparse""",
        ),
        _entity(
            "Payment",
            """
            Id id fs
            CustomerRef ref f
            TotalAmt money f
            TxnDate date fs
            PaymentMethodRef ref f
            PaymentRefNum string f
            """
            + _META,
            """SyncToken CurrencyRef PrivateNote DepositToAccountRef UnappliedAmt Line
            ProcessPayment LinkedTxn ExchangeRate TxnSource ARAccountRef CreditCardPayment
            TxnStatus MetaData domain sparse""",
        ),
        _entity(
            "SalesReceipt",
            # Choice: the properties captured queries filter on (Id, CustomerRef, DocNumber,
            # TxnDate; TotalAmt in Intuit's batch sample); Intuit's marks were not read.
            """
            Id id fs
            CustomerRef ref f
            DocNumber string fs
            TxnDate date fs
            TotalAmt money f
            """
            + _META,
            """SyncToken Line ShipFromAddr CurrencyRef GlobalTaxCalculation BillEmail ShipDate
            TrackingNum ClassRef PrintStatus TxnSource LinkedTxn DepositToAccountRef
            TransactionLocationType MetaData PrivateNote BillEmailCc BillEmailBcc CustomerMemo
            EmailStatus ExchangeRate TxnTaxDetail CustomField ShipAddr DepartmentRef
            ShipMethodRef BillAddr ApplyTaxAfterDiscount HomeBalance Balance DeliveryInfo
            PaymentMethodRef PaymentRefNum CreditCardPayment RecurDataRef TaxExemptionRef
            HomeTotalAmt FreeFormAddress ProjectRef SalesTermRef domain sparse""",
        ),
        _entity(
            "CreditMemo",
            # Intuit's CreditMemo reference marks these filterable (not TotalAmt).
            """
            Id id fs
            CustomerRef ref f
            ProjectRef ref f
            SalesTermRef ref f
            DocNumber string fs
            TxnDate date fs
            Balance money fs
            """
            + _META,
            """SyncToken Line CurrencyRef GlobalTaxCalculation BillEmail ClassRef PrintStatus
            CustomField TotalAmt InvoiceRef TransactionLocationType ApplyTaxAfterDiscount
            PrivateNote CustomerMemo TxnTaxDetail PaymentMethodRef ExchangeRate ShipAddr
            DepartmentRef EmailStatus BillAddr HomeBalance RemainingCredit RecurDataRef
            TaxExemptionRef HomeTotalAmt LinkedTxn DeliveryInfo ShipFromAddr MetaData domain
            sparse""",
        ),
        _entity(
            "RefundReceipt",
            # Intuit's RefundReceipt reference marks these filterable (not TotalAmt).
            """
            Id id fs
            CustomerRef ref f
            ProjectRef ref f
            DocNumber string fs
            TxnDate date fs
            Balance money fs
            PaymentType string fs
            """
            + _META,
            """SyncToken Line DepositToAccountRef CurrencyRef PaymentRefNum GlobalTaxCalculation
            BillEmail CustomField ClassRef PrintStatus CheckPayment TxnSource
            TransactionLocationType PrivateNote CustomerMemo CreditCardPayment TxnTaxDetail
            PaymentMethodRef ExchangeRate ShipAddr DepartmentRef BillAddr ApplyTaxAfterDiscount
            HomeBalance RecurDataRef TotalAmt TaxExemptionRef HomeTotalAmt LinkedTxn
            EmailStatus DeliveryInfo ShipFromAddr MetaData domain sparse""",
        ),
        _entity(
            "Term",
            """
            Id id fs
            Name string fs
            Active bool fs
            """
            + _META,
            """SyncToken Type DueDays DiscountDays DiscountPercent DayOfMonthDue
            DueNextMonthDays DiscountDayOfMonth MetaData domain sparse""",
            name_list=True,
        ),
        _entity(
            "PaymentMethod",
            """
            Id id fs
            Name string fs
            Active bool fs
            Type string f
            """
            + _META,
            "SyncToken MetaData domain sparse",
            name_list=True,
        ),
        _entity(
            # Intuit's Account page marks Name, Active, AccountType, Classification and
            # FullyQualifiedName filterable (its own sample queries filter on them).
            "Account",
            """
            Id id fs
            Name string fs
            Active bool fs
            AccountType string f
            AccountSubType string f
            Classification string f
            FullyQualifiedName string fs
            """
            + _META,
            """SyncToken AcctNum Description ParentRef TaxCodeRef CurrentBalance
            CurrentBalanceWithSubAccounts SubAccount CurrencyRef MetaData domain sparse""",
            name_list=True,
        ),
        _entity(
            "CompanyInfo",
            "Id id fs\n" + _META,
            """SyncToken CompanyName CompanyAddr LegalAddr SupportedLanguages Country Email
            WebAddr NameValue FiscalYearStartMonth CustomerCommunicationAddr PrimaryPhone
            LegalName EmployerId MetaData CompanyStartDate domain sparse""",
        ),
    )
}

QUERYABLE: dict[str, frozenset[str]] = {
    e.name: frozenset(f.name for f in e.fields.values() if f.filterable) for e in _ENTITIES.values()
}
SORTABLE: dict[str, frozenset[str]] = {
    e.name: frozenset(f.name for f in e.fields.values() if f.sortable) for e in _ENTITIES.values()
}

# Entities QBO answers queries for that the emulator does not hold (Intuit's all-entities list).
_OTHER_QBO_ENTITIES = (
    "Attachable Bill BillPayment Budget Class CompanyCurrency CreditCardPayment "
    "CustomerType Department Deposit Employee Entitlements ExchangeRate "
    "InventoryAdjustment JournalCode JournalEntry Preferences Purchase "
    "PurchaseOrder RecurringTransaction ReimburseCharge TaxAgency "
    "TaxClassification TaxCode TaxPayment TaxRate TimeActivity Transfer Vendor VendorCredit"
)
_NOT_EMULATED = {n.lower(): n for n in _OTHER_QBO_ENTITIES.split()}


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class _Condition:
    prop: Token
    op: str
    values: tuple[Token, ...]


@dataclass(slots=True)
class _Query:
    count: bool
    entity: Token
    where: list[_Condition]
    order: list[tuple[Token, bool]]  # (property, descending)
    start: Token | None = None
    max_results: Token | None = None
    columns: tuple[Token, ...] = ()  # a property list (`SELECT Id, DisplayName`), checked only


_AFTER_CONDITION = ["<EOF>", "<AND>", '"maxresults"', '"order"', '"orderby"', '"startposition"']
_VALUE = ["<STRING_LITERAL>", "<INTEGER>", "<NUMBER>", '"true"', '"false"']
_OPERATORS = {"=", "<", ">", "<=", ">=", "in", "like"}


class _Parser:
    """Recursive descent over the lazily lexed tokens, one token of lookahead."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens: Iterator[Token] = tokens(text)
        self.tok = next(self._tokens)

    def _advance(self) -> Token:
        tok = self.tok
        if tok.kind != "EOF":
            self.tok = next(self._tokens)
        return tok

    def _expect(self, *kinds: str) -> Token:
        if self.tok.kind not in kinds:
            raise parse_error(self.text, self.tok, [image_of(k) for k in kinds])
        return self._advance()

    def _fail(self, expected: list[str]) -> QBOFault:
        return parse_error(self.text, self.tok, expected)

    def parse(self) -> _Query:
        columns: tuple[Token, ...]
        self._expect("select")
        if self.tok.kind == "count":
            self._advance()
            self._expect("(")
            self._expect("*")
            self._expect(")")
            count, columns = True, ()
        elif self.tok.kind in ("*", "IDENT"):
            columns = self._columns()
            count = False
        else:
            raise self._fail(['"*"', '"count"', "<IDENTIFIER>"])
        self._expect("from")
        query = _Query(count, self._expect("IDENT"), [], [], columns=columns)
        tail = ['"maxresults"', '"order"', '"orderby"', '"startposition"']
        if self.tok.kind == "where":
            self._advance()
            query.where.append(self._condition())
            while self.tok.kind == "and":
                self._advance()
                query.where.append(self._condition())
            tail_expected = _AFTER_CONDITION
        else:
            tail_expected = ["<EOF>", '"where"', *tail]
        if self.tok.kind in ("orderby", "order"):
            if self._advance().kind == "order":
                self._expect("by")
            query.order.append(self._sort_key())
            while self.tok.kind == ",":
                self._advance()
                query.order.append(self._sort_key())
            tail_expected = ["<EOF>", '","', '"maxresults"', '"startposition"']
        while self.tok.kind in ("startposition", "maxresults"):
            keyword = self.tok
            if keyword.kind == "startposition" and query.start is None:
                self._advance()
                query.start = self._expect("INTEGER")
            elif keyword.kind == "maxresults" and query.max_results is None:
                self._advance()
                query.max_results = self._expect("INTEGER")
            else:
                raise self._fail(tail_expected)
            tail_expected = ["<EOF>"]
            if query.start is None:
                tail_expected.append('"startposition"')
            if query.max_results is None:
                tail_expected.append('"maxresults"')
        if self.tok.kind != "EOF":
            raise self._fail(tail_expected)
        return query

    def _columns(self) -> tuple[Token, ...]:
        """`*`, a property list, or both (`*, Sku`): python-quickbooks' Item.all() sends that."""
        named: list[Token] = []
        while True:
            if self.tok.kind == "*":
                self._advance()
            else:
                named.append(self._expect("IDENT"))
            if self.tok.kind != ",":
                return tuple(named)
            self._advance()

    def _condition(self) -> _Condition:
        prop = self._expect("IDENT")
        if self.tok.kind not in _OPERATORS:
            raise self._fail(['"="', '"<"', '">"', '"<="', '">="', "<IN>", "<LIKE>"])
        op = self._advance().kind
        if op == "in":
            self._expect("(")
            values = [self._value()]
            while self.tok.kind == ",":
                self._advance()
                values.append(self._value())
            self._expect(")")
            return _Condition(prop, op, tuple(values))
        return _Condition(prop, op, (self._value(),))

    def _value(self) -> Token:
        if self.tok.kind in ("STRING", "INTEGER", "NUMBER", "true", "false"):
            return self._advance()
        raise self._fail(_VALUE)

    def _sort_key(self) -> tuple[Token, bool]:
        prop = self._expect("IDENT")
        descending = False
        if self.tok.kind in ("asc", "desc"):
            descending = self._advance().kind == "desc"
        return prop, descending


# ---------------------------------------------------------------------------------------------
# Faults


def _clip(s: str) -> str:
    return s if len(s) <= CLIP else s[:CLIP] + "..."


def _invalid(detail: str) -> QBOFault:
    return QBOFault.one("4001", "Invalid query", f"QueryValidationError: {detail}")


def _processing(detail: str) -> QBOFault:
    return QBOFault.one("4002", "Error processing query", f"QueryProcessingError: {detail}")


# ---------------------------------------------------------------------------------------------
# Values: each property kind maps stored values and literals to one comparable form, or None.

_DATE = re.compile(r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}")


def _decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, Decimal):
        d = raw
    elif isinstance(raw, int | float | str):
        if isinstance(raw, str) and len(raw) > 100:
            return None
        try:
            d = Decimal(str(raw).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return d if d.is_finite() else None


def _datetime(raw: object) -> datetime | None:
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, str) and len(raw) <= 40:
        text = raw.strip()
        try:
            if _DATE.fullmatch(text):
                day = date.fromisoformat(text.replace("/", "-"))
                moment = datetime(day.year, day.month, day.day)
            else:
                moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=PACIFIC)


def _date(raw: object) -> date | None:
    if isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip().replace("/", "-"))
        except ValueError:
            return None
    moment = _datetime(raw)
    return moment.date() if moment else None


def _ident(raw: object) -> tuple[int, int, str] | None:
    """Ids order as numbers; compared by digit count then digits, so no int() of huge strings."""
    if type(raw) is not str:
        if type(raw) is not int:
            return None
        raw = str(raw)
    if raw.isdigit() and raw.isascii():
        digits = raw.lstrip("0") or "0"
        return (0, len(digits), digits)
    text = raw.strip()
    if text.isdigit() and text.isascii():
        return _ident(text)
    return (1, 0, text.casefold())


def _bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    return None


def _text(raw: object) -> str | None:
    return raw.casefold() if isinstance(raw, str) else None


_NORMALISE: dict[str, Callable[[object], Any]] = {
    "id": _ident,
    "ref": _ident,
    "string": _text,
    "email": _text,
    "bool": _bool,
    "money": _decimal,
    "date": _date,
    "datetime": _datetime,
}


def _stored(row: Mapping[str, Any], f: _Field) -> Any:
    """The comparable form of a stored object's property, or None when absent or unreadable."""
    cur: Any = row
    for key in f.path:
        # `type(...) is dict` first: the ABC check costs more than the rest of a row's test.
        if type(cur) is not dict and not isinstance(cur, Mapping):
            # Tolerate a bare id where a {"value": ...} ref is expected.
            return _ident(cur) if f.kind == "ref" and key == "value" else None
        cur = cur.get(key)
    return _NORMALISE[f.kind](cur)


def _literal(tok: Token, f: _Field) -> Any:
    """The comparable form of a literal for property `f`; 4001 when it cannot be one."""
    if tok.kind == "STRING":
        raw: object = tok.value
    elif tok.kind in ("true", "false"):
        raw = tok.kind == "true" if f.kind == "bool" else None
    else:
        raw = tok.image
    if f.kind in ("string", "email") and isinstance(raw, str):
        return raw.casefold()
    value = _NORMALISE[f.kind](raw) if raw is not None else None
    if value is None:
        raise _invalid(
            f"value '{_clip(tok.value if tok.kind == 'STRING' else tok.image)}' is not valid for property '{f.name}'"
        )
    return value


def _like(parts: tuple[str, ...], s: str) -> bool:
    """LIKE with `%` only: anchored first and last parts, the middle ones found in order."""
    if len(parts) == 1:
        return s == parts[0]
    first, last = parts[0], parts[-1]
    pos, end = len(first), len(s) - len(last)
    if end < pos or not s.startswith(first) or not s.endswith(last):
        return False
    for middle in parts[1:-1]:
        found = s.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return True


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


# ---------------------------------------------------------------------------------------------
# Validation and execution


def _entity_of(tok: Token) -> _Entity:
    name = tok.image.lower()
    if name in _ENTITIES:
        return _ENTITIES[name]
    if name in _NOT_EMULATED:
        emulated = ", ".join(sorted(e.name for e in _ENTITIES.values()))
        raise _processing(
            f"the qb-mcp emulator does not emulate {_NOT_EMULATED[name]} (it holds {emulated})"
        )
    raise _invalid(f"Entity '{_clip(tok.image)}' not found")


def _field(entity: _Entity, tok: Token, *, sort: bool) -> _Field:
    name = tok.image.lower()
    f = entity.fields.get(name)
    if f is not None and (f.sortable if sort else f.filterable):
        return f
    if f is None and name not in entity.others:
        raise _invalid(f"Property {_clip(tok.image)} not found for Entity {entity.name}")
    shown = f.name if f is not None else entity.others[name]
    raise _invalid(f"property '{_clip(shown)}' is not queryable")


def _predicate(
    entity: _Entity, cond: _Condition
) -> tuple[_Field, Callable[[Mapping[str, Any]], bool]]:
    f = _field(entity, cond.prop, sort=False)
    op = cond.op
    if f.kind == "id" and op not in ("=", "in"):
        raise _invalid(f"operator '{op.upper()}' is not supported for property '{f.name}'")
    if op == "like":
        if f.kind not in ("string", "email"):
            raise _invalid(f"operator 'LIKE' is not supported for property '{f.name}'")
        tok = cond.values[0]
        # A bare number is matched as its text; true/false are refused like in `=`.
        parts = (
            tuple(p.casefold() for p in like_parts(tok))
            if tok.kind == "STRING"
            else (_literal(tok, f),)
        )

        def like(row: Mapping[str, Any]) -> bool:
            value = _stored(row, f)
            return value is not None and _like(parts, value)

        return f, like
    if op == "in":
        wanted = frozenset(_literal(v, f) for v in cond.values)

        def member(row: Mapping[str, Any]) -> bool:
            value = _stored(row, f)
            return value is not None and value in wanted

        return f, member
    expected = _literal(cond.values[0], f)
    compare = _COMPARE[op]

    def test(row: Mapping[str, Any]) -> bool:
        value = _stored(row, f)
        return value is not None and bool(compare(value, expected))

    return f, test


def _integer(tok: Token | None, default: int) -> int:
    """An INTEGER token's value; absurdly long ones saturate instead of converting 10 MB digits."""
    if tok is None:
        return default
    digits = tok.image.lstrip("0") or "0"
    return int(digits) if len(digits) <= 12 else 10**12


def execute(
    text: str, rows_for: Rows, *, in_id_order: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """Parse and run one query over `rows_for(entity)`; the answer QBO gives, without "time".

    Raises QBOFault 4000 (syntax, including OR), 4001 (not queryable, bad values, MAXRESULTS out of
    range, unknown entity or property) and 4002 (an entity the emulator does not hold).
    """
    query = _Parser(text).parse()
    entity = _entity_of(query.entity)
    for column in query.columns:
        # Intuit: "projections are not supported": whatever is named, the whole object comes
        # back. A name the entity does not have is refused as in WHERE.
        name = column.image.lower()
        if name not in entity.fields and name not in entity.others:
            raise _invalid(f"Property {_clip(column.image)} not found for Entity {entity.name}")
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    mentions_active = False
    for cond in query.where:
        f, test = _predicate(entity, cond)
        mentions_active = mentions_active or f.name == "Active"
        tests.append(test)
    order = [(_field(entity, prop, sort=True), desc) for prop, desc in query.order]
    max_results = _integer(query.max_results, DEFAULT_MAX_RESULTS)
    if max_results > MAX_RESULTS_LIMIT:
        shown = _clip(query.max_results.image if query.max_results else str(max_results))
        raise _invalid(f"value {shown} is too large. Max allowed value is {MAX_RESULTS_LIMIT}")
    if max_results < 1:
        raise _invalid(f"value {max_results} is too small. Min allowed value is 1")
    start = max(_integer(query.start, 1), 1)

    if entity.name_list and not mentions_active:
        # QBO hides inactive name-list objects unless the query asks about Active.
        tests.insert(0, lambda row: row.get("Active") is not False)
    rows = rows_for(entity.name)
    if len(tests) == 1:
        only = tests[0]
        matched = [row for row in rows if only(row)]
    else:
        matched = [row for row in rows if all(test(row) for test in tests)]
    if query.count:
        return {"QueryResponse": {"totalCount": len(matched)}}

    id_field = entity.fields["id"]
    if in_id_order is None or not in_id_order(entity.name):
        # (A store that keeps rows in Id order spares a paged read this sort on every page.)
        matched.sort(key=_sorter(id_field))
    if [(f, desc) for f, desc in order] == [(id_field, False)]:
        order = []  # ORDER BY Id: the sort just done (a paged read would pay for it twice)
    for f, desc in reversed(order):
        matched.sort(key=_sorter(f), reverse=desc)
    page = matched[start - 1 : start - 1 + max_results]
    if not page:
        return {"QueryResponse": {}}
    return {
        "QueryResponse": {
            entity.name: [_copy(row) for row in page],
            "startPosition": start,
            "maxResults": len(page),
        }
    }


def _sorter(f: _Field) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    def key(row: Mapping[str, Any]) -> tuple[bool, Any]:
        # Missing values sort before present ones; present values of one property share a type.
        value = _stored(row, f)
        return (value is not None, value if value is not None else 0)

    return key


def _copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than deepcopy."""
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
