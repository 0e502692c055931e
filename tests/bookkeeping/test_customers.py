"""find_customer, upsert_customer and upsert_customers against the emulator's demo company."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from qb_mcp.bookkeeping.customers import (
    CustomerContact,
    FindCustomerInput,
    UpsertCustomersInput,
    crm_id_of,
    find_customer,
    upsert_customer,
    upsert_customers,
)
from qb_mcp.emulator import DEMO_REALM_ID, Emulator
from qb_mcp.errors import DuplicateNameError, InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.store import Database
from tests.bookkeeping.support import (
    BeforeFirstWrite,
    build_client,
    database,
    emulator,
    named,
    objects,
    qbo,
    state,
)

pytestmark = pytest.mark.anyio
__all__ = ["database", "emulator", "qbo"]


# ---- find_customer -----------------------------------------------------------------------------


async def test_find_by_phone_in_another_format(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(phone="+1 650-555-3311"))
    assert found.matches[0].display_name == "Amy's Bird Sanctuary"
    assert "phone matches" in found.matches[0].reasons
    assert "phone" in found.searched


async def test_find_by_partial_name_ranks_and_shows_balance(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(name="bird"))
    top = found.matches[0]
    assert top.display_name == "Amy's Bird Sanctuary"
    # Customer.Balance: the 274.00 invoice less the demo company's 50.00 credit memo.
    assert top.open_balance == Decimal("224.00") and top.active


async def test_find_by_email_ignores_case(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(email="SURF@intuit.COM"))
    assert [m.display_name for m in found.matches] == ["Bill's Windsurf Shop"]


async def test_find_includes_inactive_only_when_asked(qbo: QBOClient) -> None:
    both = await find_customer(qbo, FindCustomerInput(email="qbwebsamplecompany@yahoo.com"))
    active = await find_customer(
        qbo, FindCustomerInput(email="qbwebsamplecompany@yahoo.com", include_inactive=False)
    )
    assert {m.display_name for m in both.matches} == {"Red Rock Diner", "Kookies by Kathy"}
    assert [m.display_name for m in active.matches] == ["Red Rock Diner"]


async def test_find_by_id(qbo: QBOClient, emulator: Emulator) -> None:
    amy = named(emulator, "Amy's Bird Sanctuary")
    found = await find_customer(qbo, FindCustomerInput(customer_id=amy["Id"]))
    assert [m.id for m in found.matches] == [amy["Id"]]


async def test_find_by_unknown_id_finds_nothing(qbo: QBOClient) -> None:
    assert (await find_customer(qbo, FindCustomerInput(customer_id="99999"))).matches == []


@pytest.mark.parametrize(
    "fields",
    [{}, {"phone": "12"}, {"email": "not-an-address"}, {"name": "   "}, {"limit": 0}],
)
def test_find_refuses_unusable_searches(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FindCustomerInput(**fields)


# ---- upsert_customer ---------------------------------------------------------------------------


def contact(**fields: Any) -> CustomerContact:
    base: dict[str, Any] = {
        "crm_id": "crm-1001",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "company_name": "Analytical Engines",
        "email": "ada@engines.example",
        "phone": "(212) 555-0101",
        "billing_address": {"line1": "1 Difference St", "city": "London", "country": "UK"},
        "notes": "Met at the expo",
    }
    base.update(fields)
    return CustomerContact(**base)


async def test_upsert_creates_then_is_unchanged(qbo: QBOClient, emulator: Emulator) -> None:
    before = len(objects(emulator, "Customer"))
    first = await upsert_customer(qbo, contact())
    second = await upsert_customer(qbo, contact())
    assert first.outcome == "created" and second.outcome == "unchanged"
    assert first.customer is not None and second.customer is not None
    assert second.customer.id == first.customer.id and second.matched_on == "crm_id"
    assert len(objects(emulator, "Customer")) == before + 1
    stored = named(emulator, "Ada Lovelace")
    assert crm_id_of(stored) == "crm-1001" and stored["Notes"].startswith("Met at the expo")


async def test_upsert_updates_only_changed_fields(qbo: QBOClient, emulator: Emulator) -> None:
    created = await upsert_customer(qbo, contact())
    updated = await upsert_customer(qbo, contact(email="ada@newmail.example"))
    assert updated.outcome == "updated" and updated.changed_fields == ["PrimaryEmailAddr"]
    assert created.customer is not None and updated.customer is not None
    assert updated.customer.id == created.customer.id
    assert updated.customer.email == "ada@newmail.example"
    assert named(emulator, "Ada Lovelace")["SyncToken"] == "1"


async def test_upsert_matches_an_existing_customer_by_email(
    qbo: QBOClient, emulator: Emulator
) -> None:
    amy = named(emulator, "Amy's Bird Sanctuary")
    result = await upsert_customer(
        qbo,
        CustomerContact(
            crm_id="c-amy",
            display_name="Amy's Bird Sanctuary",
            email="birds@intuit.com",
            phone="650 555 9999",
        ),
    )
    assert result.outcome == "updated" and result.matched_on == "email"
    assert result.customer is not None and result.customer.id == amy["Id"]
    assert set(result.changed_fields) == {"PrimaryEmailAddr", "PrimaryPhone", "Notes"}
    assert crm_id_of(named(emulator, "Amy's Bird Sanctuary")) == "c-amy"


async def test_upsert_matches_by_phone(qbo: QBOClient, emulator: Emulator) -> None:
    dylan = named(emulator, "Dylan Sollfrank")
    result = await upsert_customer(
        qbo, CustomerContact(given_name="Dylan", family_name="S.", phone="+1 (650) 555-0987")
    )
    assert result.matched_on == "phone"
    assert result.customer is not None and result.customer.id == dylan["Id"]


async def test_upsert_ambiguous_email_writes_nothing(qbo: QBOClient, emulator: Emulator) -> None:
    before = state(emulator)
    result = await upsert_customer(
        qbo, CustomerContact(display_name="Someone New", email="qbwebsamplecompany@yahoo.com")
    )
    assert result.outcome == "ambiguous" and result.matched_on == "email"
    assert {c.display_name for c in result.candidates} == {"Red Rock Diner", "Kookies by Kathy"}
    assert state(emulator) == before


async def test_upsert_refuses_a_display_name_held_by_another_customer(
    qbo: QBOClient, emulator: Emulator
) -> None:
    cars = named(emulator, "Cool Cars")
    before = state(emulator)
    with pytest.raises(InvalidArgumentError) as raised:
        await upsert_customer(
            qbo, CustomerContact(display_name="Cool Cars", email="birds@intuit.com")
        )
    assert cars["Id"] in str(raised.value) and "Cool Cars" in str(raised.value)
    assert "6240" in str(raised.value)
    assert state(emulator) == before


async def test_a_customer_linked_to_another_crm_id_is_not_taken(
    qbo: QBOClient, emulator: Emulator
) -> None:
    await upsert_customer(qbo, contact())
    before = state(emulator)
    other = await upsert_customer(qbo, contact(crm_id="crm-2002"))
    assert other.outcome == "ambiguous" and "crm-1001" in other.message
    assert state(emulator) == before


# ---- upsert_customers --------------------------------------------------------------------------


def crm_contacts(count: int) -> list[dict[str, Any]]:
    return [
        {
            "crm_id": f"bulk-{n}",
            "given_name": f"Given{n}",
            "family_name": f"Family{n}",
            "email": f"person{n}@bulk.example",
            "phone": f"(303) 555-{n:04d}",
        }
        for n in range(count)
    ]


async def test_bulk_creates_200_then_all_unchanged(qbo: QBOClient, emulator: Emulator) -> None:
    before = len(objects(emulator, "Customer"))
    seen: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        seen.append((done, total, message))

    params = UpsertCustomersInput.model_validate({"contacts": crm_contacts(200)})
    first = await upsert_customers(qbo, params, progress=progress)
    assert first.counts["created"] == 200
    assert [o.index for o in first.outcomes] == list(range(200))
    assert all(o.display_name == f"Given{o.index} Family{o.index}" for o in first.outcomes)
    assert len(objects(emulator, "Customer")) == before + 200
    assert seen[-1][:2] == (200, 200) and [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    again = await upsert_customers(qbo, params)
    assert again.counts["unchanged"] == 200


async def test_bulk_mixes_outcomes_in_input_order(qbo: QBOClient, emulator: Emulator) -> None:
    contacts = [
        {"display_name": "Brand New Co", "email": "new@co.example"},
        {"display_name": "Someone", "email": "qbwebsamplecompany@yahoo.com"},
        {"display_name": "Amy's Bird Sanctuary", "phone": "(650) 555-7777"},
        {"display_name": "Brand New Co", "email": "other@co.example"},
        {"display_name": "Cool Cars", "email": "Surf@Intuit.com"},
    ]
    result = await upsert_customers(
        qbo, UpsertCustomersInput.model_validate({"contacts": contacts})
    )
    assert [o.outcome for o in result.outcomes] == [
        "created",
        "ambiguous",
        "updated",
        "failed",
        "failed",
    ]
    assert "contact 0" in result.outcomes[3].message
    assert "Cool Cars" in result.outcomes[4].message
    assert (
        named(emulator, "Amy's Bird Sanctuary")["PrimaryPhone"]["FreeFormNumber"]
        == "(650) 555-7777"
    )


# ---- input models ------------------------------------------------------------------------------

_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
_contact_fields = st.dictionaries(
    st.sampled_from(
        [
            "crm_id",
            "display_name",
            "given_name",
            "family_name",
            "company_name",
            "email",
            "phone",
            "billing_address",
            "notes",
            "unknown",
        ]
    ),
    _values,
    max_size=6,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_contact_fields)
def test_any_contact_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    try:
        model = CustomerContact.model_validate(fields)
    except ValidationError:
        return
    body = model.create_body()
    assert body["DisplayName"] and ":" not in body["DisplayName"]


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["customer_id", "name", "email", "phone", "company_name", "limit"]),
        _values,
        max_size=4,
    )
)
def test_any_find_input_validates_or_is_refused(fields: dict[str, Any]) -> None:
    try:
        model = FindCustomerInput.model_validate(fields)
    except ValidationError:
        return
    assert model.customer_id or model.name or model.email or model.phone or model.company_name


# ---- races: someone else writes between our read and our write ---------------------------------


async def test_a_duplicate_name_from_quickbooks_names_the_holder(
    emulator: Emulator, database: Database
) -> None:
    holder: dict[str, Any] = {}

    def someone_takes_the_name() -> None:
        answer = emulator.backend.write(DEMO_REALM_ID, "Customer", {"DisplayName": "Ada Lovelace"})
        holder.update(answer["Customer"])

    transport = BeforeFirstWrite(emulator, someone_takes_the_name)
    async with build_client(emulator, database, transport) as client:
        with pytest.raises(DuplicateNameError) as raised:
            await upsert_customer(client, contact(email="ada@elsewhere.example"))
    assert holder["Id"] in str(raised.value) and "6240" in str(raised.value)
    assert raised.value.code == "6240"


async def test_a_stale_sync_token_in_bulk_is_recovered(
    emulator: Emulator, database: Database
) -> None:
    amy = named(emulator, "Amy's Bird Sanctuary")

    def someone_edits_amy() -> None:
        emulator.backend.write(
            DEMO_REALM_ID,
            "Customer",
            {"Id": amy["Id"], "SyncToken": amy["SyncToken"], "sparse": True, "Notes": "VIP"},
        )

    transport = BeforeFirstWrite(emulator, someone_edits_amy)
    params = UpsertCustomersInput.model_validate(
        {"contacts": [{"display_name": "Amy's Bird Sanctuary", "phone": "(650) 555-2222"}]}
    )
    async with build_client(emulator, database, transport) as client:
        result = await upsert_customers(client, params)
    assert result.outcomes[0].outcome == "updated"
    stored = named(emulator, "Amy's Bird Sanctuary")
    assert stored["PrimaryPhone"]["FreeFormNumber"] == "(650) 555-2222"
    assert stored["Notes"] == "VIP"


async def test_find_falls_back_to_folded_matching_when_like_misses(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(name="obrien"))
    assert found.matches[0].display_name == "O'Brien Plumbing"
    assert "no LIKE hit" in found.searched


async def test_find_by_accentless_name(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(name="cafe zoe"))
    assert [m.display_name for m in found.matches][:1] == ["Café Zoë"]


async def test_bulk_refuses_a_crm_id_given_twice(qbo: QBOClient, emulator: Emulator) -> None:
    contacts = [
        {"crm_id": "same", "display_name": "First Spelling"},
        {"crm_id": "same", "display_name": "Second Spelling"},
    ]
    result = await upsert_customers(
        qbo, UpsertCustomersInput.model_validate({"contacts": contacts})
    )
    assert [o.outcome for o in result.outcomes] == ["created", "failed"]
    assert "crm id same" in result.outcomes[1].message
    assert all(c["DisplayName"] != "Second Spelling" for c in objects(emulator, "Customer"))


async def test_bulk_progress_may_be_a_plain_function(qbo: QBOClient) -> None:
    calls: list[tuple[int, int]] = []
    params = UpsertCustomersInput.model_validate({"contacts": crm_contacts(31)})
    await upsert_customers(
        qbo, params, progress=lambda done, total, _m: calls.append((done, total))
    )
    assert calls[0] == (0, 31) and calls[-1] == (31, 31) and len(calls) == 3


async def test_find_by_company(qbo: QBOClient) -> None:
    found = await find_customer(qbo, FindCustomerInput(company_name="windsurf"))
    assert found.matches[0].display_name == "Bill's Windsurf Shop"


async def test_a_stale_sync_token_in_a_single_upsert_is_recovered(
    emulator: Emulator, database: Database
) -> None:
    amy = named(emulator, "Amy's Bird Sanctuary")

    def someone_edits_amy() -> None:
        emulator.backend.write(
            DEMO_REALM_ID,
            "Customer",
            {"Id": amy["Id"], "SyncToken": amy["SyncToken"], "sparse": True, "Notes": "VIP"},
        )

    transport = BeforeFirstWrite(emulator, someone_edits_amy)
    async with build_client(emulator, database, transport) as client:
        result = await upsert_customer(
            client, CustomerContact(display_name="Amy's Bird Sanctuary", company_name="Amy's Birds")
        )
    assert result.outcome == "updated" and result.changed_fields == ["CompanyName"]
    stored = named(emulator, "Amy's Bird Sanctuary")
    assert stored["CompanyName"] == "Amy's Birds" and stored["Notes"] == "VIP"
