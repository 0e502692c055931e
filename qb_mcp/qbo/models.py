"""Pydantic models of the QuickBooks entities qb-mcp works with, exact to the wire.

Attributes are snake_case, wire names PascalCase (plus QuickBooks' few lower-case ones: `domain`,
`sparse`, a Ref's `value`/`name`/`type`). Three rules keep a round trip lossless:
- unknown fields are kept (`extra="allow"`) and written back under their wire names;
- `to_wire()` writes only the fields that were set, so a parsed object comes back as it was and a
  model built for a sparse update sends only what it names;
- money and quantities are `Decimal`, and a `float` anywhere in the input is refused: decode
  QuickBooks JSON with `parse_float=Decimal` (`qb_mcp.qbo.wire.decode`).
Dates and times stay strings exactly as QuickBooks wrote them (`"2015-07-24"`,
`"2015-07-24T10:33:39-07:00"`): QuickBooks mixes offsets and precisions, and re-rendering a parsed
datetime could change the text it compares on.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_pascal

from qb_mcp.errors import InvalidArgumentError


def _refuse_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(
            "a float cannot hold money exactly; decode JSON with parse_float=Decimal "
            "or pass a Decimal or str"
        )
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


# Finite only: pydantic refuses NaN and infinities for Decimal unless told otherwise.
Amount = Annotated[Decimal, BeforeValidator(_refuse_float)]


class WireModel(BaseModel):
    """Base of every model: PascalCase wire names, unknown fields kept, sparse output."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        allow_inf_nan=False,
    )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """Parse a decoded JSON object; bad data is InvalidArgumentError naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                f"{cls.__name__}: expected a JSON object, got {type(data).__name__}"
            )
        where = _find_float(data)
        if where is not None:
            raise InvalidArgumentError(
                f"{cls.__name__}: {where} is a float; decode QuickBooks JSON with "
                "parse_float=Decimal so money never passes through float"
            )
        try:
            return cls.model_validate(dict(data))
        except PydanticValidationError as exc:
            raise InvalidArgumentError(f"{cls.__name__}: {_summarise(exc)}") from None

    def to_wire(self) -> dict[str, Any]:
        """The JSON object for QuickBooks: wire names, only fields that were set, Decimal kept."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="python")


class Ref(WireModel):
    """A reference to another object: `{"value": "1", "name": "Services"}`."""

    value: str
    name: str | None = Field(default=None, alias="name")
    type: str | None = Field(default=None, alias="type")

    model_config = ConfigDict(alias_generator=None)


class MetaData(WireModel):
    """When QuickBooks created and last changed the object (read only)."""

    create_time: str | None = None
    last_updated_time: str | None = None


class EmailAddress(WireModel):
    address: str | None = None


class PhoneNumber(WireModel):
    free_form_number: str | None = None


class PhysicalAddress(WireModel):
    id: str | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    line5: str | None = None
    city: str | None = None
    country_sub_division_code: str | None = None
    country: str | None = None
    postal_code: str | None = None
    lat: str | None = None
    long: str | None = None


class LinkedTxn(WireModel):
    """A link to another transaction: an invoice's estimate, a payment's invoices."""

    txn_id: str
    txn_type: str | None = None
    txn_line_id: str | None = None


class SalesItemLineDetail(WireModel):
    item_ref: Ref | None = None
    qty: Amount | None = None
    unit_price: Amount | None = None
    tax_code_ref: Ref | None = None
    class_ref: Ref | None = None
    service_date: str | None = None
    item_account_ref: Ref | None = None


class SubTotalLineDetail(WireModel):
    item_ref: Ref | None = None


class Line(WireModel):
    """One line of an estimate, invoice or payment; other detail types are kept as extras."""

    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Amount | None = None
    detail_type: str | None = None
    sales_item_line_detail: SalesItemLineDetail | None = None
    sub_total_line_detail: SubTotalLineDetail | None = None
    linked_txn: list[LinkedTxn] | None = None


class QBOEntity(WireModel):
    """Fields every QuickBooks entity has."""

    entity_name: ClassVar[str] = ""

    id: str | None = None
    sync_token: str | None = None
    domain: str | None = Field(default=None, alias="domain")
    sparse: bool | None = Field(default=None, alias="sparse")
    meta_data: MetaData | None = None


class CompanyInfo(QBOEntity):
    entity_name: ClassVar[str] = "CompanyInfo"

    company_name: str | None = None
    legal_name: str | None = None
    company_addr: PhysicalAddress | None = None
    legal_addr: PhysicalAddress | None = None
    customer_communication_addr: PhysicalAddress | None = None
    primary_phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    country: str | None = None
    fiscal_year_start_month: str | None = None
    company_start_date: str | None = None
    supported_languages: str | None = None


class Customer(QBOEntity):
    entity_name: ClassVar[str] = "Customer"

    display_name: str | None = None
    title: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    family_name: str | None = None
    suffix: str | None = None
    company_name: str | None = None
    fully_qualified_name: str | None = None
    print_on_check_name: str | None = None
    primary_email_addr: EmailAddress | None = None
    primary_phone: PhoneNumber | None = None
    mobile: PhoneNumber | None = None
    fax: PhoneNumber | None = None
    bill_addr: PhysicalAddress | None = None
    ship_addr: PhysicalAddress | None = None
    notes: str | None = None
    active: bool | None = None
    job: bool | None = None
    bill_with_parent: bool | None = None
    parent_ref: Ref | None = None
    taxable: bool | None = None
    preferred_delivery_method: str | None = None
    currency_ref: Ref | None = None
    balance: Amount | None = None
    balance_with_jobs: Amount | None = None
    open_balance_date: str | None = None


class Item(QBOEntity):
    entity_name: ClassVar[str] = "Item"

    name: str | None = None
    type: str | None = None
    description: str | None = None
    active: bool | None = None
    fully_qualified_name: str | None = None
    sku: str | None = None
    taxable: bool | None = None
    unit_price: Amount | None = None
    purchase_cost: Amount | None = None
    purchase_desc: str | None = None
    qty_on_hand: Amount | None = None
    track_qty_on_hand: bool | None = None
    inv_start_date: str | None = None
    income_account_ref: Ref | None = None
    expense_account_ref: Ref | None = None
    asset_account_ref: Ref | None = None
    sub_item: bool | None = None
    parent_ref: Ref | None = None


class _SalesTransaction(QBOEntity):
    """What estimates and invoices share."""

    doc_number: str | None = None
    txn_date: str | None = None
    customer_ref: Ref | None = None
    line: list[Line] | None = None
    total_amt: Amount | None = None
    home_total_amt: Amount | None = None
    exchange_rate: Amount | None = None
    currency_ref: Ref | None = None
    bill_email: EmailAddress | None = None
    bill_addr: PhysicalAddress | None = None
    ship_addr: PhysicalAddress | None = None
    customer_memo: Ref | None = None
    private_note: str | None = None
    linked_txn: list[LinkedTxn] | None = None
    sales_term_ref: Ref | None = None
    project_ref: Ref | None = None
    print_status: str | None = None
    email_status: str | None = None
    apply_tax_after_discount: bool | None = None


class Estimate(_SalesTransaction):
    entity_name: ClassVar[str] = "Estimate"

    txn_status: str | None = None
    expiration_date: str | None = None
    accepted_by: str | None = None
    accepted_date: str | None = None
    due_date: str | None = None


class Invoice(_SalesTransaction):
    entity_name: ClassVar[str] = "Invoice"

    due_date: str | None = None
    balance: Amount | None = None
    home_balance: Amount | None = None
    deposit: Amount | None = None


class Payment(QBOEntity):
    entity_name: ClassVar[str] = "Payment"

    txn_date: str | None = None
    customer_ref: Ref | None = None
    total_amt: Amount | None = None
    unapplied_amt: Amount | None = None
    exchange_rate: Amount | None = None
    currency_ref: Ref | None = None
    line: list[Line] | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None
    deposit_to_account_ref: Ref | None = None
    # Not PascalCase from the name ("ArAccountRef"); a validation/serialization alias keeps the
    # constructor keyword `ar_account_ref` for type checkers.
    ar_account_ref: Ref | None = Field(
        default=None, validation_alias="ARAccountRef", serialization_alias="ARAccountRef"
    )
    private_note: str | None = None
    process_payment: bool | None = None


class SalesReceipt(_SalesTransaction):
    """A sale paid at once: nothing is owed, so no Balance to collect."""

    entity_name: ClassVar[str] = "SalesReceipt"

    balance: Amount | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None
    deposit_to_account_ref: Ref | None = None


class CreditMemo(_SalesTransaction):
    """A credit to a customer: RemainingCredit is what is left to use against invoices."""

    entity_name: ClassVar[str] = "CreditMemo"

    balance: Amount | None = None
    remaining_credit: Amount | None = None
    invoice_ref: Ref | None = None


class RefundReceipt(_SalesTransaction):
    """Money paid back to a customer, from DepositToAccountRef."""

    entity_name: ClassVar[str] = "RefundReceipt"

    balance: Amount | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None
    payment_type: str | None = None
    deposit_to_account_ref: Ref | None = None


class Term(QBOEntity):
    """Payment terms (Net 30, Due on receipt): how many days until an invoice is due."""

    entity_name: ClassVar[str] = "Term"

    name: str | None = None
    active: bool | None = None
    type: str | None = None
    due_days: int | None = None
    discount_days: int | None = None
    discount_percent: Amount | None = None


class PaymentMethod(QBOEntity):
    """How a customer pays (Cash, Check, a card)."""

    entity_name: ClassVar[str] = "PaymentMethod"

    name: str | None = None
    active: bool | None = None
    type: str | None = None


class Account(QBOEntity):
    """A chart-of-accounts entry (income accounts for items, bank accounts for deposits)."""

    entity_name: ClassVar[str] = "Account"

    name: str | None = None
    fully_qualified_name: str | None = None
    active: bool | None = None
    account_type: str | None = None
    account_sub_type: str | None = None
    classification: str | None = None


_ENTITIES: tuple[type[QBOEntity], ...] = (
    CompanyInfo,
    Customer,
    Item,
    Estimate,
    Invoice,
    Payment,
    SalesReceipt,
    CreditMemo,
    RefundReceipt,
    Term,
    PaymentMethod,
    Account,
)
ENTITY_NAMES: tuple[str, ...] = tuple(cls.entity_name for cls in _ENTITIES)
_BY_LOWER = {cls.entity_name.lower(): cls for cls in _ENTITIES}


def entity_model(name: str) -> type[QBOEntity]:
    """The model class for an entity name (any case); unknown names are InvalidArgumentError."""
    cls = _BY_LOWER.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise InvalidArgumentError(
            f"unknown QuickBooks entity {name!r}; expected one of {', '.join(ENTITY_NAMES)}"
        )
    return cls


def _find_float(value: Any, path: str = "") -> str | None:
    """The path of the first float inside decoded JSON, or None."""
    if isinstance(value, float):
        return path or "the value"
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find_float(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_float(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _summarise(exc: PydanticValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "value"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
