"""Customers: find, upsert one from a CRM contact, and upsert many (a CRM sync) through batch.

Choices where the brief is silent:
- The CRM id is kept in the customer's Notes as a marker line `[crm:ID]`. QuickBooks shows Notes
  to the user (so the link is visible and editable), every edition has it, and the emulator has no
  AlternateId. Notes is not filterable, so finding a CRM id means reading the customer list: an
  upsert reads at most MAX_SCAN customers per Active state (1000 a page) and says so when the
  company is larger (`complete=False`, matches beyond it may be missed).
- Matching (CRM id, then email, then phone, then display name) runs over that list, active and
  inactive customers alike; an inactive match is updated but not reactivated (the result says
  `active: false`). A customer already linked to ANOTHER CRM id never matches by email, phone or
  name: the upsert answers `ambiguous` and names it.
- Text fields compare exactly (the CRM is the source of truth: a changed spelling or case is an
  update); only fields the contact gives are written. The DisplayName of an existing customer is
  changed only when `display_name` is given; given/family/company names alone never rename.
- A DisplayName already used by another customer is refused before writing, naming that record;
  a 6240 from QuickBooks (a vendor or employee has the name) is explained the same way.
- find_customer's candidate set: by id, one read; by email, LIKE '%address%' (a customer may list
  several addresses); by name or company, LIKE '%word%' on DisplayName, GivenName, FamilyName and
  CompanyName for the three longest words; by phone, which QuickBooks cannot filter, the first
  PHONE_SCAN customers per Active state. Ranking is `matching.rank_customers`.
- Concurrent upserts. Reading the customers, matching and writing run as one write section
  (`qb_mcp.store.intents`), shared by upsert_customer and upsert_customers for the whole realm:
  matching is by CRM id, email, phone or name, so two contacts with no argument in common can
  still find (or create) the same customer, and no narrower key would keep them apart. A second
  identical call waits, then finds the customer the first created (`unchanged`). Customer writes
  are short; during a bulk sync, single upserts wait for it.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping import matching
from qb_mcp.bookkeeping.common import (
    IdIn,
    InputModel,
    Line1,
    Text,
    amount_of,
    answer_text,
    collect,
    customer_candidates,
    customers_named,
    get_or_none,
    listed,
    take,
    text,
)
from qb_mcp.bookkeeping.directory import Directory
from qb_mcp.bookkeeping.explain import tool_error_text
from qb_mcp.errors import (
    DuplicateNameError,
    InvalidArgumentError,
    QbMcpError,
    QBOError,
    StaleObjectError,
)
from qb_mcp.qbo.batch import BATCH_LIMIT, BatchOp
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.idempotency import derive_key
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted
from qb_mcp.store.intents import Intent, IntentSections, Section, sections_for

MAX_SCAN = 20_000  # customers read per Active state to match CRM ids, emails and phones
PHONE_SCAN = 5_000  # customers read per Active state when find_customer searches by phone
MAX_MATCHES = 50
RANK_INLINE = 2_000  # candidates scored on the event loop; more go to a worker thread
MAX_CONTACTS = 5_000
_CRM_MARKER = re.compile(r"\[crm:([^\]\s]{1,64})\]")
_CRM_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,63}$"
_NAME_FORBIDDEN = (":", "\t", "\n", "\r")

Outcome = Literal["created", "updated", "unchanged", "ambiguous"]
MatchedOn = Literal["crm_id", "email", "phone", "display_name"]


# ---- views -------------------------------------------------------------------------------------


class CustomerView(BaseModel):
    """A customer, trimmed to what an agent needs."""

    id: str
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    open_balance: Decimal = Field(description="what the customer owes (QuickBooks' Balance)")
    active: bool
    crm_id: str | None = Field(default=None, description="from the [crm:ID] marker in Notes")


class CustomerMatchView(CustomerView):
    """A ranked search result."""

    score: int = Field(description="higher is a better match")
    reasons: list[str] = Field(description="why it matched, e.g. 'phone matches'")


def customer_view(customer: Mapping[str, Any]) -> CustomerView:
    """The trimmed view of a QuickBooks customer."""
    return CustomerView(**_view_fields(customer))


def _view_fields(customer: Mapping[str, Any]) -> dict[str, Any]:
    email = customer.get("PrimaryEmailAddr")
    phone = customer.get("PrimaryPhone") or customer.get("Mobile")
    return {
        "id": str(customer.get("Id", "")),
        "display_name": text(customer.get("DisplayName")),
        "given_name": text(customer.get("GivenName")),
        "family_name": text(customer.get("FamilyName")),
        "company": text(customer.get("CompanyName")),
        "email": text(email.get("Address")) if isinstance(email, Mapping) else None,
        "phone": text(phone.get("FreeFormNumber")) if isinstance(phone, Mapping) else None,
        "open_balance": amount_of(customer.get("Balance")),
        "active": customer.get("Active") is not False,
        "crm_id": crm_id_of(customer),
    }


def crm_id_of(customer: Mapping[str, Any]) -> str | None:
    """The CRM id from the `[crm:ID]` marker in Notes, if any."""
    notes = customer.get("Notes")
    found = _CRM_MARKER.search(notes) if isinstance(notes, str) else None
    return found.group(1) if found else None


# ---- find_customer -----------------------------------------------------------------------------


class FindCustomerInput(InputModel):
    """What to look for; give at least one field. Matching is forgiving, results are ranked."""

    customer_id: IdIn | None = Field(default=None, description="just this one")
    query: Line1 | None = Field(
        default=None,
        max_length=500,
        description="@: email, 7+ digits: phone, else name",
    )
    name: Line1 | None = Field(default=None, max_length=500, description="any name, or words of it")
    email: Line1 | None = Field(
        default=None, max_length=320, description="address or '@domain.com'"
    )
    phone: Line1 | None = Field(default=None, max_length=60, description="any format, 7+ digits")
    # Not `company`: that argument names the QuickBooks company a tool works on (tools/base.py).
    company_name: Line1 | None = Field(
        default=None, max_length=500, description="company name or part"
    )
    crm_id: str | None = Field(
        default=None, pattern=_CRM_ID, description="as given to upsert_customer(s)"
    )
    include_inactive: bool = Field(default=True, description="inactive too")
    limit: int = Field(default=10, ge=1, le=MAX_MATCHES, description="most returned")

    @model_validator(mode="after")
    def _one_field(self) -> FindCustomerInput:
        if self.customer_id is None and self.crm_id is None:
            # The matcher's own checks (at least one field, 7+ phone digits, an @ in an email).
            self.search()
        return self

    def query_field(self) -> str | None:
        """Which field the free-text `query` stands for: "email", "phone" or "name"."""
        text = (self.query or "").strip()
        if not text:
            return None
        if "@" in text:
            return "email"
        digits = sum(ch.isdigit() for ch in text)
        if digits >= matching.MIN_PHONE_DIGITS and all(
            ch.isdigit() or ch in " +-().x/" for ch in text.lower()
        ):
            return "phone"
        return "name"

    def search(self) -> matching.CustomerSearch:
        """The fields to match, `query` filling the one it stands for (unless given too)."""
        fields = {
            "name": self.name or None,
            "email": self.email or None,
            "phone": self.phone or None,
            "company": self.company_name or None,
        }
        field = self.query_field()
        if field is not None and fields[field] is None:
            fields[field] = (self.query or "").strip()
        return matching.CustomerSearch(**fields)


class FindCustomerResult(BaseModel):
    """Ranked matches, best first."""

    matches: list[CustomerMatchView]
    searched: str = Field(description="how the candidates were gathered (QuickBooks' limits)")


async def find_customer(
    client: QBOClient, params: FindCustomerInput, *, directory: Directory | None = None
) -> FindCustomerResult:
    """Ranked customers matching an id, name, email, phone or company.

    With the company's `directory` (the local index), a search costs at most one QuickBooks
    request (CDC) and covers every customer; without it, targeted queries and bounded reads.
    """
    if params.customer_id is not None:
        found = await get_or_none(client, "Customer", params.customer_id)
        matches = (
            [CustomerMatchView(**_view_fields(found), score=100, reasons=["id matches"])]
            if found is not None
            else []
        )
        return FindCustomerResult(matches=matches, searched=f"read customer {params.customer_id}")
    if params.crm_id is not None:
        return await _find_crm_id(client, params, params.crm_id, directory)
    search = params.search()
    if directory is not None:
        return await _find_in(directory, search, params)
    candidates: dict[str, dict[str, Any]] = {}
    how: list[str] = []
    if params.query_field() is not None:
        how.append(f"query read as a {params.query_field()}")
    if search.name or search.company:
        for row in await customer_candidates(client, name=search.name, company=search.company):
            candidates.setdefault(str(row.get("Id")), row)
        how.append("name words (LIKE)")
    if search.email:
        address = matching.normalise_email(search.email)
        for active in (True, False):
            query = (
                Query.select("Customer")
                .where("PrimaryEmailAddr", "LIKE", f"%{address}%")
                .where("Active", "=", active)
            )
            async for row in take(client.query_all(query), MAX_SCAN):
                candidates.setdefault(str(row.get("Id")), row)
        how.append("email (LIKE)")
    if search.phone:
        rows, complete = await _scan(client, PHONE_SCAN)
        for row in rows:
            candidates.setdefault(str(row.get("Id")), row)
        how.append(
            "phone: every customer (QuickBooks cannot filter by phone)"
            if complete
            else f"phone: the first {PHONE_SCAN} active and {PHONE_SCAN} inactive customers only "
            "(QuickBooks cannot filter by phone; add a name or email to search further)"
        )

    def ranked_from(rows: Iterable[dict[str, Any]]) -> list[matching.CustomerMatch]:
        pool = [c for c in rows if params.include_inactive or c.get("Active") is not False]
        return matching.rank_customers(pool, search, limit=params.limit)

    ranked = ranked_from(candidates.values())
    if not ranked and (search.name or search.company) and not search.phone:
        # LIKE compares the stored text, so "obrien" misses "O'Brien" and "Cafe" may miss
        # "Café": read a bounded list and let the folding matcher try.
        rows, complete = await _scan(client, PHONE_SCAN)
        ranked = ranked_from(rows)
        how.append(
            "no LIKE hit: every customer read and matched with accents and punctuation folded"
            if complete
            else f"no LIKE hit: the first {PHONE_SCAN} active and inactive customers matched"
        )
    return FindCustomerResult(
        matches=[
            CustomerMatchView(**_view_fields(m.customer), score=m.score, reasons=list(m.reasons))
            for m in ranked
        ],
        searched="; ".join(how),
    )


async def _find_crm_id(
    client: QBOClient, params: FindCustomerInput, crm_id: str, directory: Directory | None
) -> FindCustomerResult:
    """The customers whose Notes carry `[crm:crm_id]` (upsert_customer's marker): every customer
    in the local index, or, without one, a bounded read (QuickBooks cannot filter by Notes)."""
    if directory is not None:
        await directory.fresh()
        rows, known = directory.customers(), directory.freshness()
        how = f"CRM ids of every customer ({known.customers}) in the local index"
    else:
        rows, complete = await _scan(client, PHONE_SCAN)
        how = "CRM ids of " + (
            "every customer"
            if complete
            else f"the first {PHONE_SCAN} active and inactive customers"
        )
    marker = f"[crm:{crm_id}]"
    found = [
        c
        for c in rows
        # The substring test first: a scan of a large company in C, the exact rule after it.
        if marker in str(c.get("Notes") or "")
        and crm_id_of(c) == crm_id
        and (params.include_inactive or c.get("Active") is not False)
    ]
    found.sort(key=lambda c: (c.get("Active") is False, _id_order(c)))
    return FindCustomerResult(
        matches=[
            CustomerMatchView(**_view_fields(c), score=100, reasons=["CRM id matches"])
            for c in found[: params.limit]
        ],
        searched=how,
    )


def _id_order(customer: Mapping[str, Any]) -> tuple[int, str]:
    entity_id = str(customer.get("Id", ""))
    return (len(entity_id), entity_id)


async def _find_in(
    directory: Directory, search: matching.CustomerSearch, params: FindCustomerInput
) -> FindCustomerResult:
    await directory.fresh()
    pool = [
        c
        for c in directory.customer_candidates(search)
        if params.include_inactive or c.get("Active") is not False
    ]
    if len(pool) > RANK_INLINE:
        # A short word can make most of a large company a candidate: score it off the loop.
        ranked = await anyio.to_thread.run_sync(
            lambda: matching.rank_customers(pool, search, limit=params.limit)
        )
    else:
        ranked = matching.rank_customers(pool, search, limit=params.limit)
    known = directory.freshness()
    return FindCustomerResult(
        matches=[
            CustomerMatchView(**_view_fields(m.customer), score=m.score, reasons=list(m.reasons))
            for m in ranked
        ],
        searched=(f"query read as a {params.query_field()}; " if params.query_field() else "")
        + f"every customer ({known.customers}) in the local index, names, emails and phones "
        f"folded; as of {known.age_seconds or 0:.0f} s ago",
    )


async def _scan(client: QBOClient, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Active then inactive customers, at most `limit` of each; (rows, whether that was all)."""
    rows: list[dict[str, Any]] = []
    complete = True
    for active in (True, False):
        query = Query.select("Customer").where("Active", "=", active).order_by("Id")
        count = 0
        async for row in take(client.query_all(query), limit + 1):
            count += 1
            if count > limit:
                complete = False
                break
            rows.append(row)
    return rows, complete


# ---- the contact -------------------------------------------------------------------------------


class AddressIn(InputModel):
    """A billing address; only the parts given are written."""

    line1: Line1 | None = Field(default=None, max_length=500, description="street")
    line2: Line1 | None = Field(default=None, max_length=500, description="second line")
    city: Line1 | None = Field(default=None, max_length=255, description="city")
    state: Line1 | None = Field(default=None, max_length=255, description="region code")
    postal_code: Line1 | None = Field(default=None, max_length=30, description="ZIP code")
    country: Line1 | None = Field(default=None, max_length=255, description="full name")

    def to_wire(self) -> dict[str, str]:
        """QuickBooks' PhysicalAddress fields that were given."""
        names = {
            "line1": "Line1",
            "line2": "Line2",
            "city": "City",
            "state": "CountrySubDivisionCode",
            "postal_code": "PostalCode",
            "country": "Country",
        }
        return {wire: value for attr, wire in names.items() if (value := getattr(self, attr))}


class CustomerContact(InputModel):
    """A contact from a CRM. Give at least one of display, given, family or company name."""

    crm_id: str | None = Field(
        default=None,
        pattern=_CRM_ID,
        description="kept in Notes as [crm:ID]",
    )
    display_name: Line1 | None = Field(
        default=None,
        max_length=500,
        description="unique; default 'Given Family'",
    )
    given_name: Line1 | None = Field(default=None, max_length=100, description="first name")
    family_name: Line1 | None = Field(default=None, max_length=100, description="last name")
    company_name: Line1 | None = Field(default=None, max_length=100, description="company")
    email: Line1 | None = Field(default=None, max_length=100, description="primary email")
    phone: Line1 | None = Field(default=None, max_length=30, description="primary phone")
    billing_address: AddressIn | None = Field(default=None, description="only parts given change")
    notes: Text | None = Field(default=None, max_length=1900, description="free text")

    @model_validator(mode="after")
    def _check(self) -> CustomerContact:
        names = (self.display_name, self.given_name, self.family_name, self.company_name)
        if not any(names):
            raise ValueError(
                "give at least one of display_name, given_name, family_name or company_name "
                "(QuickBooks needs a name: fault 6080)"
            )
        for label, value in zip(
            ("display_name", "given_name", "family_name", "company_name"), names, strict=True
        ):
            if value and any(c in value for c in _NAME_FORBIDDEN):
                raise ValueError(
                    f"{label} must not contain ':' (QuickBooks uses it for sub-customers)"
                )
        if self.email and "@" not in matching.normalise_email(self.email):
            raise ValueError("email must be an address like name@example.com")
        if self.phone and matching.normalise_phone(self.phone) is None:
            raise ValueError("phone has no digits")
        return self

    def wanted_display_name(self) -> str:
        """The DisplayName a new customer gets."""
        if self.display_name:
            return self.display_name
        person = " ".join(p for p in (self.given_name, self.family_name) if p)
        return person or self.company_name or ""

    def create_body(self) -> dict[str, Any]:
        """The Customer body for a create."""
        body: dict[str, Any] = {"DisplayName": self.wanted_display_name()}
        for attr, wire in _SCALARS:
            value = getattr(self, attr)
            if value:
                body[wire] = value
        if self.email:
            body["PrimaryEmailAddr"] = {"Address": self.email}
        if self.phone:
            body["PrimaryPhone"] = {"FreeFormNumber": self.phone}
        if self.billing_address is not None and self.billing_address.to_wire():
            body["BillAddr"] = self.billing_address.to_wire()
        notes = _compose_notes(self.notes, self.crm_id)
        if notes:
            body["Notes"] = notes
        return body


_SCALARS = (
    ("given_name", "GivenName"),
    ("family_name", "FamilyName"),
    ("company_name", "CompanyName"),
)


def _compose_notes(notes: str | None, crm_id: str | None) -> str | None:
    marker = f"[crm:{crm_id}]" if crm_id else ""
    if notes is None:
        return marker or None
    body = _CRM_MARKER.sub("", notes).strip()
    return "\n".join(p for p in (body, marker) if p) or None


# ---- planning (pure) ---------------------------------------------------------------------------


class _Plan(BaseModel):
    outcome: Literal["create", "update", "unchanged", "ambiguous", "conflict"]
    customer: dict[str, Any] | None = None
    matched_on: MatchedOn | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    message: str = ""


class CustomerLookup:
    """Customers indexed once by what an upsert matches on, so each contact costs its hits.

    Every customer's strings are normalised once, here; each lookup answers exactly what testing
    every customer would (`matching.email_matches`, `phone_matches`, `display_name_matches`, the
    6240 fold), in the customers' order. Pure CPU, no I/O: safe to build off the event loop.
    """

    def __init__(self, customers: Sequence[Mapping[str, Any]]) -> None:
        self.customers = list(customers)
        self._crm: dict[str, list[int]] = {}
        self._email: dict[str, list[int]] = {}
        self._digits: dict[str, list[int]] = {}
        self._trimmed: dict[str, list[int]] = {}
        self._phones: list[list[matching.Phone]] = []
        self._display: dict[str, list[int]] = {}
        self._folded: dict[str, list[int]] = {}
        for at, customer in enumerate(self.customers):
            crm = crm_id_of(customer)
            if crm is not None:
                self._crm.setdefault(crm, []).append(at)
            for email in dict.fromkeys(matching.customer_emails(customer)):
                self._email.setdefault(email, []).append(at)
            phones = [phone for _, phone in matching.customer_phones(customer)]
            self._phones.append(phones)
            for phone in phones:
                digits, trimmed = matching.phone_keys(phone)
                _add(self._digits, digits, at)
                for key in trimmed:
                    _add(self._trimmed, key, at)
            shown = customer.get("DisplayName")
            display = matching.normalise_name(_field_text(shown))
            if display:
                self._display.setdefault(display, []).append(at)
            if isinstance(shown, str):
                self._folded.setdefault(shown.strip().casefold(), []).append(at)

    def _rows(self, positions: Iterable[int]) -> list[Mapping[str, Any]]:
        return [self.customers[at] for at in sorted(set(positions))]

    def by_crm_id(self, crm_id: str) -> list[Mapping[str, Any]]:
        """Customers whose Notes carry `[crm:crm_id]`."""
        return self._rows(self._crm.get(crm_id, ()))

    def by_email(self, email: str) -> list[Mapping[str, Any]]:
        """Customers with `email` among their addresses."""
        wanted = matching.normalise_email(email)
        return self._rows(self._email.get(wanted, ())) if wanted else []

    def by_phone(self, phone: str) -> list[Mapping[str, Any]]:
        """Customers with a number that is exactly `phone` (not a mere suffix match)."""
        wanted = matching.normalise_phone(phone)
        if wanted is None:
            return []
        digits, trimmed = matching.phone_keys(wanted)
        near = [*self._digits.get(digits, ()), *self._trimmed.get(digits, ())]
        for key in trimmed:
            near += self._digits.get(key, ())
        return self._rows(
            at
            for at in near
            if any(matching.phone_match(wanted, p) == "exact" for p in self._phones[at])
        )

    def by_display_name(self, name: str) -> list[Mapping[str, Any]]:
        """Customers whose DisplayName folds (accents, case, punctuation) to `name`'s."""
        wanted = matching.normalise_name(name)
        return self._rows(self._display.get(wanted, ())) if wanted else []

    def name_taken(self, name: str, *, skip: str | None) -> Mapping[str, Any] | None:
        """The first customer other than `skip` holding DisplayName `name` as QuickBooks folds it."""
        for at in self._folded.get(name.strip().casefold(), ()):
            if str(self.customers[at].get("Id")) != skip:
                return self.customers[at]
        return None


def _add(index: dict[str, list[int]], key: str, at: int) -> None:
    positions = index.setdefault(key, [])
    if not positions or positions[-1] != at:
        positions.append(at)


def _field_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def plan_upsert(
    contact: CustomerContact, customers: Sequence[Mapping[str, Any]] | CustomerLookup
) -> _Plan:
    """What an upsert of `contact` would do against `customers` (no I/O)."""
    lookup = customers if isinstance(customers, CustomerLookup) else CustomerLookup(customers)
    steps: list[tuple[MatchedOn, Callable[[], list[Mapping[str, Any]]]]] = []
    if contact.crm_id:
        crm = contact.crm_id
        steps.append(("crm_id", lambda: lookup.by_crm_id(crm)))
    if contact.email:
        email = contact.email
        steps.append(("email", lambda: lookup.by_email(email)))
    if contact.phone:
        phone = contact.phone
        steps.append(("phone", lambda: lookup.by_phone(phone)))
    wanted = contact.wanted_display_name()
    steps.append(("display_name", lambda: lookup.by_display_name(wanted)))
    for how, found in steps:
        hits = [dict(c) for c in found()]
        if how != "crm_id" and contact.crm_id:
            others = [c for c in hits if crm_id_of(c) not in (None, contact.crm_id)]
            hits = [c for c in hits if c not in others]
            if others and not hits:
                return _Plan(
                    outcome="ambiguous",
                    matched_on=how,
                    candidates=others,
                    message=f"the {how.replace('_', ' ')} matches {listed(others)}, which is "
                    f"linked to another CRM id {_crm_ids(others)}; "
                    "nothing was written. If they are the same person, fix the [crm:...] marker "
                    "in that customer's Notes; if not, give this contact a distinct "
                    "display_name, email and phone",
                )
        if len(hits) == 1:
            return _plan_update(contact, hits[0], how, lookup)
        if len(hits) > 1:
            return _Plan(
                outcome="ambiguous",
                matched_on=how,
                candidates=hits,
                message=f"the {how.replace('_', ' ')} matches {len(hits)} customers: "
                f"{listed(hits)}; nothing was written. Give the contact's crm_id, or make the "
                "QuickBooks customers distinct, then upsert again",
            )
    taken = lookup.name_taken(wanted, skip=None)
    if taken is not None:  # pragma: no cover - the display-name step matches it first
        return _conflict(wanted, taken)
    return _Plan(outcome="create", changes=contact.create_body())


def _plan_update(
    contact: CustomerContact,
    current: dict[str, Any],
    how: MatchedOn,
    lookup: CustomerLookup,
) -> _Plan:
    changes: dict[str, Any] = {}
    if contact.display_name and current.get("DisplayName") != contact.display_name:
        taken = lookup.name_taken(contact.display_name, skip=str(current.get("Id")))
        if taken is not None:
            return _conflict(contact.display_name, taken)
        changes["DisplayName"] = contact.display_name
    for attr, wire in _SCALARS:
        value = getattr(contact, attr)
        if value and current.get(wire) != value:
            changes[wire] = value
    if contact.email and _nested(current, "PrimaryEmailAddr", "Address") != contact.email:
        changes["PrimaryEmailAddr"] = {"Address": contact.email}
    if contact.phone and _nested(current, "PrimaryPhone", "FreeFormNumber") != contact.phone:
        changes["PrimaryPhone"] = {"FreeFormNumber": contact.phone}
    if contact.billing_address is not None:
        given = contact.billing_address.to_wire()
        now = current.get("BillAddr") if isinstance(current.get("BillAddr"), Mapping) else {}
        assert isinstance(now, Mapping)
        if any(now.get(k) != v for k, v in given.items()):
            # QuickBooks replaces the whole address object: keep the parts not given.
            merged = {k: v for k, v in now.items() if k not in ("Id", "Lat", "Long")}
            changes["BillAddr"] = {**merged, **given}
    notes_now = text(current.get("Notes"))
    if contact.notes is not None:
        wanted_notes = _compose_notes(contact.notes, contact.crm_id or crm_id_of(current))
    elif contact.crm_id and crm_id_of(current) != contact.crm_id:
        wanted_notes = _compose_notes(notes_now or "", contact.crm_id)
    else:
        wanted_notes = notes_now
    if (wanted_notes or None) != (notes_now or None):
        if wanted_notes and len(wanted_notes) > 2000:
            return _Plan(
                outcome="conflict",
                customer=current,
                matched_on=how,
                message="the customer's Notes plus the CRM marker exceed QuickBooks' 2000 "
                "characters; shorten the notes",
            )
        changes["Notes"] = wanted_notes or ""
    if not changes:
        return _Plan(outcome="unchanged", customer=current, matched_on=how)
    return _Plan(outcome="update", customer=current, matched_on=how, changes=changes)


def _conflict(name: str, taken: Mapping[str, Any]) -> _Plan:
    return _Plan(
        outcome="conflict",
        candidates=[dict(taken)],
        message=duplicate_name_text(name, [taken]),
    )


def _crm_ids(customers: Sequence[Mapping[str, Any]]) -> str:
    """The CRM ids in these customers' Notes markers, quoted as QuickBooks' data."""
    ids = sorted({str(crm_id_of(c)) for c in customers})
    return ", ".join(quoted(crm_id, label="CRM id in QuickBooks Notes") for crm_id in ids)


def duplicate_name_text(name: str, holders: Sequence[Mapping[str, Any]]) -> str:
    """Why a DisplayName cannot be used (6240), naming the record that holds it."""
    if holders:
        who = f"customer {listed(list(holders))}"
        fix = (
            "update that customer instead (upsert with its email, phone or crm_id), or give "
            "this contact a different display_name (e.g. add the city or company)"
        )
    else:
        who = "a vendor or employee (not a customer, so it cannot be shown here)"
        fix = "give this contact a different display_name (e.g. add the company or city)"
    return (
        f"QuickBooks refuses the DisplayName {quoted(name)} (fault 6240, Duplicate Name Exists): "
        f"it is already used by {who}. DisplayName must be unique across customers, vendors "
        f"and employees. Nothing was written; {fix}"
    )


def _nested(obj: Mapping[str, Any], key: str, inner: str) -> str | None:
    value = obj.get(key)
    return text(value.get(inner)) if isinstance(value, Mapping) else None


async def load_customers(client: QBOClient) -> tuple[list[dict[str, Any]], bool]:
    """Every customer (active and inactive, at most MAX_SCAN of each) to match against."""
    return await _scan(client, MAX_SCAN)


async def candidates_for(
    client: QBOClient, contact: CustomerContact
) -> tuple[list[dict[str, Any]], bool]:
    """The customers an upsert of `contact` must be matched against.

    A CRM id lives in Notes and a phone anywhere in three fields, neither filterable: then the
    customer list is read (`load_customers`). Otherwise two targeted searches suffice, each for
    active and inactive customers: email LIKE '%address%' (PrimaryEmailAddr may hold several)
    and the DisplayName itself (for the display-name match and the uniqueness check).
    """
    if contact.crm_id or contact.phone:
        return await load_customers(client)
    queries: list[Query] = []
    for active in (True, False):
        if contact.email:
            address = matching.normalise_email(contact.email)
            queries.append(
                Query.select("Customer")
                .where("PrimaryEmailAddr", "LIKE", f"%{address}%")
                .where("Active", "=", active)
            )
        for shown in {contact.wanted_display_name(), contact.display_name or ""} - {""}:
            queries.append(
                Query.select("Customer")
                .where("DisplayName", "=", shown)
                .where("Active", "=", active)
            )
    pages = await asyncio.gather(*(collect(client, query, MAX_SCAN) for query in queries))
    seen: dict[str, dict[str, Any]] = {}
    for rows in pages:
        for row in rows:
            seen.setdefault(str(row.get("Id")), row)
    return list(seen.values()), True


# ---- upsert_customer ---------------------------------------------------------------------------


class UpsertCustomerResult(BaseModel):
    """What the upsert did."""

    outcome: Outcome
    customer: CustomerView | None = Field(default=None, description="the customer now")
    matched_on: MatchedOn | None = None
    changed_fields: list[str] = Field(default_factory=list)
    candidates: list[CustomerView] = Field(
        default_factory=list, description="ambiguous: the customers it could be"
    )
    complete_scan: bool = Field(
        default=True,
        description="False when the company has more customers than were read for matching",
    )
    message: str = ""


# The lock every customer write of a realm takes (module docstring, "Concurrent upserts").
CUSTOMER_WRITES = "customers"


async def upsert_customer(
    client: QBOClient, contact: CustomerContact, *, sections: IntentSections | None = None
) -> UpsertCustomerResult:
    """Create or update the customer for a CRM contact; `ambiguous` writes nothing."""
    intent = Intent.of(
        client.realm_id, "upsert_customer", contact.model_dump(mode="json"), group=CUSTOMER_WRITES
    )
    async with (sections or sections_for(None)).hold(intent) as section:
        return await _upsert(client, contact, section)


async def _upsert(
    client: QBOClient, contact: CustomerContact, section: Section
) -> UpsertCustomerResult:
    customers, complete = await candidates_for(client, contact)
    plan = plan_upsert(contact, customers)
    if plan.outcome == "conflict":
        raise InvalidArgumentError(plan.message)
    if plan.outcome == "ambiguous":
        return UpsertCustomerResult(
            outcome="ambiguous",
            matched_on=plan.matched_on,
            candidates=[customer_view(c) for c in plan.candidates],
            complete_scan=complete,
            message=plan.message,
        )
    if plan.outcome == "unchanged":
        assert plan.customer is not None
        await section.found("Customer", answer_text("Customer", plan.customer))
        return UpsertCustomerResult(
            outcome="unchanged",
            customer=customer_view(plan.customer),
            matched_on=plan.matched_on,
            complete_scan=complete,
        )
    try:
        if plan.outcome == "create":
            key = derive_key(
                client.realm_id, "upsert_customer", "Customer", _key_basis(contact, plan.changes)
            )
            saved = await client.create("Customer", plan.changes, idempotency_key=key)
            outcome: Outcome = "created"
        else:
            assert plan.customer is not None
            saved = await client.update(
                "Customer", str(plan.customer["Id"]), plan.changes, expected=plan.customer
            )
            outcome = "updated"
    except DuplicateNameError as error:
        raise await explain_duplicate(client, error, plan.changes.get("DisplayName")) from None
    if outcome == "created":
        await section.written("Customer")
    else:
        await section.found("Customer", answer_text("Customer", saved))
    return UpsertCustomerResult(
        outcome=outcome,
        customer=customer_view(saved),
        matched_on=plan.matched_on,
        changed_fields=sorted(plan.changes) if outcome == "updated" else [],
        complete_scan=complete,
    )


def _key_basis(contact: CustomerContact, body: Mapping[str, Any]) -> dict[str, Any]:
    # The CRM id when there is one, with the body: a retried call sends the same key, and a
    # corrected contact (after a refused create) gets a new one instead of a ledger conflict.
    return {"crm_id": contact.crm_id or "", "body": dict(body)}


async def explain_duplicate(
    client: QBOClient, error: DuplicateNameError, name: object
) -> DuplicateNameError:
    """The 6240 error again, its message naming the record that holds the name."""
    shown = name if isinstance(name, str) else ""
    holders = await customers_named(client, shown) if shown else []
    return DuplicateNameError(
        duplicate_name_text(shown, holders),
        status_code=error.status_code,
        errors=error.errors,
        fault_type=error.fault_type,
        intuit_tid=error.intuit_tid,
    )


# ---- upsert_customers (bulk) -------------------------------------------------------------------

BulkOutcomeName = Literal["created", "updated", "unchanged", "ambiguous", "failed"]
Progress = Callable[[int, int, str], Awaitable[None] | None]


class UpsertCustomersInput(InputModel):
    """Contacts from a CRM sync, processed as one job."""

    contacts: list[CustomerContact] = Field(
        min_length=1,
        max_length=MAX_CONTACTS,
        description="as for upsert_customer",
    )


class BulkOutcome(BaseModel):
    """One contact's outcome, at its position in the input."""

    index: int
    outcome: BulkOutcomeName
    customer_id: str | None = None
    display_name: str | None = None
    crm_id: str | None = None
    matched_on: MatchedOn | None = None
    changed_fields: list[str] = Field(default_factory=list)
    candidate_ids: list[str] = Field(default_factory=list)
    message: str = Field(default="", description="ambiguous/failed: what happened, what to do")


class UpsertCustomersResult(BaseModel):
    """Per-contact outcomes in input order, and the counts."""

    outcomes: list[BulkOutcome]
    counts: dict[str, int]
    complete_scan: bool


async def upsert_customers(
    client: QBOClient,
    params: UpsertCustomersInput,
    *,
    progress: Progress | None = None,
    sections: IntentSections | None = None,
    directory: Directory | None = None,
) -> UpsertCustomersResult:
    """Match every contact first, then create/update through batch (30 a request).

    With the company's `directory` (the local index), the customers are matched from it after
    one CDC request instead of being read page by page; what is written is noted in it.
    """
    intent = Intent.of(
        client.realm_id, "upsert_customers", params.model_dump(mode="json"), group=CUSTOMER_WRITES
    )
    async with (sections or sections_for(None)).hold(intent) as section:
        result = await _upsert_many(client, params, progress, directory)
        if result.counts["failed"] == 0 and result.counts["ambiguous"] == 0:
            # Every contact's customer is there as asked: an earlier, interrupted run's batches
            # are settled (their answers cannot be rebuilt, so none is kept).
            await section.found("Batch", None)
        return result


async def _upsert_many(
    client: QBOClient,
    params: UpsertCustomersInput,
    progress: Progress | None,
    directory: Directory | None,
) -> UpsertCustomersResult:
    contacts = params.contacts
    total = len(contacts)
    if directory is not None:
        await directory.fresh()
        customers, complete = directory.customers(), True
    else:
        customers, complete = await load_customers(client)
    # Matching a first sync is seconds of CPU: in a worker thread, so the server keeps answering
    # other calls meanwhile (the planning is pure: no I/O, nothing shared with the loop).
    outcomes, writes = await anyio.to_thread.run_sync(_plan_contacts, contacts, customers)
    done = total - len(writes)
    await _report(progress, done, total, f"matched {total} contacts; {len(writes)} to write")
    lock = asyncio.Lock()
    written: list[dict[str, Any]] = []

    async def run_chunk(chunk: list[tuple[int, BatchOp, _Plan]]) -> None:
        nonlocal done
        results = await client.batch([op for _, op, _ in chunk])
        for (index, op, plan), result in zip(chunk, results, strict=True):
            base = BulkOutcome(index=index, outcome="failed", crm_id=contacts[index].crm_id)
            outcome: BulkOutcomeName = "created" if op.operation == "create" else "updated"
            if result.ok and result.entity:
                outcomes[index] = _done(base, outcome, plan, result.entity)
                written.append(result.entity)
                continue
            error = result.error
            if isinstance(error, StaleObjectError) and plan.customer is not None:
                # A list query can hand out a stale SyncToken: the client re-reads and re-applies
                # only if nobody changed the same fields.
                try:
                    saved = await client.update(
                        "Customer", str(plan.customer["Id"]), plan.changes, expected=plan.customer
                    )
                    outcomes[index] = _done(base, "updated", plan, saved)
                    written.append(saved)
                    continue
                except (QbMcpError, QBOError) as retry_error:
                    error = retry_error  # type: ignore[assignment]
            if isinstance(error, DuplicateNameError):
                error = await explain_duplicate(client, error, plan.changes.get("DisplayName"))
            outcomes[index] = base.model_copy(
                update={
                    "matched_on": plan.matched_on,
                    "customer_id": str(plan.customer["Id"]) if plan.customer else None,
                    "message": _failure_text(error),
                }
            )
        async with lock:
            done += len(chunk)
            await _report(progress, done, total, f"wrote {done} of {total} contacts")

    chunks = [writes[i : i + BATCH_LIMIT] for i in range(0, len(writes), BATCH_LIMIT)]
    # Chunks run concurrently; the client's per-realm limiter keeps them within QuickBooks'
    # limits (10 in flight, 40 batch requests a minute).
    await asyncio.gather(*(run_chunk(chunk) for chunk in chunks))
    if directory is not None and written:
        await directory.remember("Customer", written)
    final = [o for o in outcomes if o is not None]
    assert len(final) == total
    counts = {name: 0 for name in ("created", "updated", "unchanged", "ambiguous", "failed")}
    for outcome in final:
        counts[outcome.outcome] += 1
    return UpsertCustomersResult(outcomes=final, counts=counts, complete_scan=complete)


def _plan_contacts(
    contacts: Sequence[CustomerContact], customers: Sequence[Mapping[str, Any]]
) -> tuple[list[BulkOutcome | None], list[tuple[int, BatchOp, _Plan]]]:
    """Every contact's plan against one index of the customers: outcomes decided without a
    write, and the writes to send (linear in contacts + customers)."""
    lookup = CustomerLookup(customers)
    outcomes: list[BulkOutcome | None] = [None] * len(contacts)
    writes: list[tuple[int, BatchOp, _Plan]] = []
    claimed: dict[str, int] = {}
    for index, contact in enumerate(contacts):
        plan = plan_upsert(contact, lookup)
        base = BulkOutcome(index=index, outcome="failed", crm_id=contact.crm_id)
        claims = _claims(contact, plan)
        clash = next((c for c in claims if c in claimed), None)
        if clash is not None:
            outcomes[index] = base.model_copy(
                update={
                    "message": f"contact {index} is the same customer as contact "
                    f"{claimed[clash]} of this sync ({clash}); merge them in the CRM and sync "
                    "again. Nothing was written for this one"
                }
            )
            continue
        for claim in claims:
            claimed[claim] = index
        if plan.outcome in ("ambiguous", "conflict"):
            outcomes[index] = base.model_copy(
                update={
                    "outcome": "ambiguous" if plan.outcome == "ambiguous" else "failed",
                    "matched_on": plan.matched_on,
                    "candidate_ids": [str(c.get("Id")) for c in plan.candidates],
                    "message": plan.message,
                }
            )
        elif plan.outcome == "unchanged":
            assert plan.customer is not None
            outcomes[index] = _done(base, "unchanged", plan, plan.customer)
        elif plan.outcome == "create":
            writes.append((index, BatchOp.create("Customer", plan.changes), plan))
        else:
            assert plan.customer is not None
            op = BatchOp.update(
                "Customer",
                str(plan.customer["Id"]),
                plan.changes,
                sync_token=str(plan.customer.get("SyncToken", "0")),
            )
            writes.append((index, op, plan))
    return outcomes, writes


def _claims(contact: CustomerContact, plan: _Plan) -> list[str]:
    """What two contacts of one sync must not share: a CRM id, the customer they write, a new
    name (otherwise both would be written, the second over or beside the first)."""
    claims = [f"crm id {contact.crm_id}"] if contact.crm_id else []
    if plan.customer is not None and plan.outcome in ("update", "unchanged"):
        claims.append(f"customer {plan.customer.get('Id')}")
    if plan.outcome == "create":
        claims.append(f"new customer {quoted(contact.wanted_display_name().casefold())}")
    return claims


def _done(
    base: BulkOutcome, outcome: BulkOutcomeName, plan: _Plan, customer: Mapping[str, Any]
) -> BulkOutcome:
    return base.model_copy(
        update={
            "outcome": outcome,
            "customer_id": str(customer.get("Id")),
            "display_name": text(customer.get("DisplayName")),
            "matched_on": plan.matched_on,
            "changed_fields": sorted(plan.changes) if outcome == "updated" else [],
        }
    )


def _failure_text(error: BaseException | None) -> str:
    if error is None:
        return "QuickBooks answered this batch item without the customer; read it again"
    if isinstance(error, DuplicateNameError):
        return str(error)
    return tool_error_text(error)


async def _report(progress: Progress | None, done: int, total: int, message: str) -> None:
    if progress is None:
        return
    answer = progress(done, total, message)
    if inspect.isawaitable(answer):
        await answer
