"""The upsert's customer index answers exactly what testing every customer would (issue 11)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qb_mcp.bookkeeping import customers as module
from qb_mcp.bookkeeping import matching
from qb_mcp.bookkeeping.customers import (
    CustomerContact,
    CustomerLookup,
    UpsertCustomersInput,
    crm_id_of,
    upsert_customers,
)
from qb_mcp.qbo.client import QBOClient
from tests.bookkeeping.support import database, emulator, qbo  # noqa: F401

NAMES = ["O'Brien", "OBrien", "Café", "cafe", "Ann  Lee", "ann lee", "Zoë", "", "  Bob "]
EMAILS = ["a@x.com", "A@X.com, b@y.org", "<b@y.org>", "mailto:c@z.io", "", "a@x.com;d@w.net"]
PHONES = [
    "(650) 555-3311",
    "+1 650 555 3311",
    "650-555-3311 x12",
    "555-3311",
    "+44 20 7946 0958",
    "020 7946 0958",
    "0044 20 7946 0958",
    "7946 0958",
    "",
]


def a_customer(at: int, name: str, email: str, phone: str, crm: str) -> dict[str, Any]:
    row: dict[str, Any] = {"Id": str(at + 1), "DisplayName": name or f"c{at}"}
    if email:
        row["PrimaryEmailAddr"] = {"Address": email}
    if phone:
        row["Mobile" if at % 2 else "PrimaryPhone"] = {"FreeFormNumber": phone}
    if crm:
        row["Notes"] = f"from the CRM [crm:{crm}]"
    return row


customers_strategy = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from(EMAILS),
        st.sampled_from(PHONES),
        st.sampled_from(["", "k1", "k2"]),
    ),
    max_size=12,
).map(lambda rows: [a_customer(at, *row) for at, row in enumerate(rows)])


@settings(max_examples=150, deadline=None)
@given(
    customers=customers_strategy,
    name=st.sampled_from(NAMES),
    email=st.sampled_from(EMAILS),
    phone=st.sampled_from(PHONES),
    crm=st.sampled_from(["k1", "k2", "k3"]),
)
def test_each_lookup_equals_a_scan(
    customers: list[dict[str, Any]], name: str, email: str, phone: str, crm: str
) -> None:
    lookup = CustomerLookup(customers)
    assert lookup.by_crm_id(crm) == [c for c in customers if crm_id_of(c) == crm]
    assert lookup.by_email(email) == [c for c in customers if matching.email_matches(c, email)]
    assert lookup.by_phone(phone) == [c for c in customers if matching.phone_matches(c, phone)]
    assert lookup.by_display_name(name) == [
        c for c in customers if matching.display_name_matches(c, name)
    ]
    folded = name.strip().casefold()
    expected = next(
        (c for c in customers if c["Id"] != "1" and c["DisplayName"].strip().casefold() == folded),
        None,
    )
    assert lookup.name_taken(name, skip="1") == expected


def test_a_plan_against_the_index_equals_one_against_the_list() -> None:
    customers = [
        a_customer(n, f"Person {n}", f"p{n}@x.com", f"650555{n:04d}", "") for n in range(50)
    ]
    contact = CustomerContact(display_name="Person 7", email="P7@x.com")
    assert module.plan_upsert(contact, customers) == module.plan_upsert(
        contact, CustomerLookup(customers)
    )


@pytest.mark.anyio
async def test_bulk_matching_runs_off_the_event_loop(
    qbo: QBOClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[threading.Thread] = []
    planned = module._plan_contacts

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return planned(*args)

    monkeypatch.setattr(module, "_plan_contacts", spy)
    params = UpsertCustomersInput.model_validate(
        {"contacts": [{"display_name": "Off Loop Ltd", "email": "off@loop.example"}]}
    )
    result = await upsert_customers(qbo, params)
    assert result.counts["created"] == 1
    assert threads and threads[0] is not threading.main_thread()
