"""Backend: companies, reads, name lists (Customer, Item, CompanyInfo) and update semantics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.seed import DEMO_REALM_ID
from tests.emulator.client_bodies import PYTHON_QUICKBOOKS_CUSTOMER

R = DEMO_REALM_ID


@pytest.fixture
def backend(clock: Any) -> Backend:
    backend = Backend(clock=clock)
    backend.add_company(R)
    return backend


def fault(call: Any, *args: Any, **kwargs: Any) -> QBOFault:
    with pytest.raises(QBOFault) as info:
        call(*args, **kwargs)
    return info.value


def code(f: QBOFault) -> str:
    return f.errors[0].code


def customer(backend: Backend, name: str) -> dict[str, Any]:
    rows = backend.query(R, f"select * from Customer where DisplayName = '{name}'")
    return dict(rows["QueryResponse"]["Customer"][0])


# companies


def test_demo_company_has_company_info_items_and_a_dozen_customers(backend: Backend) -> None:
    info = backend.company_info(R)["CompanyInfo"]
    assert info["Country"] == "US" and info["CompanyName"] and info["Id"] == "1"
    assert info["FiscalYearStartMonth"] == "January"
    assert backend.read(R, "item", "1")["Item"]["Name"] == "Services"
    count = backend.query(R, "select count(*) from Customer where Active in (true, false)")
    assert count["QueryResponse"]["totalCount"] == 12


def test_demo_customers_include_apostrophes_and_non_ascii(backend: Backend) -> None:
    for name in ("O\\'Brien Plumbing", "Amy\\'s Bird Sanctuary", "Café Zoë", "Müller GmbH"):
        assert customer(backend, name)["DisplayName"] == name.replace("\\'", "'")


def test_demo_balances_are_consistent(backend: Backend) -> None:
    invoices = backend.query(R, "select * from Invoice")["QueryResponse"]["Invoice"]
    credits = backend.query(R, "select * from CreditMemo")["QueryResponse"]["CreditMemo"]
    assert credits, "the demo company holds credit memos"
    for c in backend.query(R, "select * from Customer")["QueryResponse"]["Customer"]:
        mine = [i["Balance"] for i in invoices if i["CustomerRef"]["value"] == c["Id"]]
        held = [m["RemainingCredit"] for m in credits if m["CustomerRef"]["value"] == c["Id"]]
        # What they owe less the credit they hold (CreditMemo reference).
        assert c["Balance"] == sum(mine, Decimal(0)) - sum(held, Decimal(0))
    balances = sorted(i["Balance"] for i in invoices)
    assert Decimal("0.00") in balances  # one paid
    partly = [i for i in invoices if Decimal(0) < i["Balance"] < i["TotalAmt"]]
    assert partly, "one invoice is partly paid"


def test_empty_company_has_company_info_and_item_1_only(backend: Backend) -> None:
    backend.add_company("42", seed="empty", company_name="Acme")
    assert backend.company_info("42")["CompanyInfo"]["CompanyName"] == "Acme"
    assert backend.query("42", "select * from Customer") == {"QueryResponse": {}}
    items = backend.query("42", "select * from Item")["QueryResponse"]["Item"]
    assert [i["Name"] for i in items] == ["Services"]
    assert backend.realm_ids() == [R, "42"] and backend.has_company("42")


def test_companies_are_independent(backend: Backend) -> None:
    backend.add_company("42", seed="empty")
    backend.write("42", "customer", {"DisplayName": "Only Here"})
    assert (
        "Customer"
        not in backend.query(R, "select * from Customer where DisplayName = 'Only Here'")[
            "QueryResponse"
        ]
    )


def test_unknown_realm_is_a_fault(backend: Backend) -> None:
    assert code(fault(backend.read, "nope", "customer", "1")) == "610"


def test_reset_restores_the_seed(backend: Backend) -> None:
    backend.write(R, "customer", {"DisplayName": "Temporary"})
    backend.reset()
    assert backend.query(R, "select * from Customer where DisplayName = 'Temporary'") == {
        "QueryResponse": {}
    }
    assert backend.write(R, "customer", {"DisplayName": "Next"})["Customer"]["Id"] == "13"


# reads


def test_read_unknown_id_is_610(backend: Backend) -> None:
    f = fault(backend.read, R, "customer", "999")
    assert code(f) == "610" and f.errors[0].message == "Object Not Found"


def test_unknown_entity_is_500_unsupported(backend: Backend) -> None:
    assert code(fault(backend.read, R, "vendor", "1")) == "500"
    assert code(fault(backend.write, R, "widget", {"Name": "x"})) == "500"


def test_entity_name_is_case_insensitive(backend: Backend) -> None:
    assert backend.read(R, "CUSTOMER", "1")["Customer"]["Id"] == "1"


def test_company_info_reads_by_realm_id(backend: Backend) -> None:
    assert backend.read(R, "companyinfo", R)["CompanyInfo"]["Id"] == "1"


def test_answers_are_copies(backend: Backend) -> None:
    backend.read(R, "customer", "1")["Customer"]["DisplayName"] = "mutated"
    assert backend.read(R, "customer", "1")["Customer"]["DisplayName"] == "Amy's Bird Sanctuary"


# customer create


def test_create_customer_answers_like_qbo(backend: Backend, clock: Any) -> None:
    c = backend.write(R, "customer", {"DisplayName": "King's Groceries", "GivenName": "James"})[
        "Customer"
    ]
    assert c["Id"] == "13" and c["SyncToken"] == "0"
    assert c["domain"] == "QBO" and c["sparse"] is False and c["Active"] is True
    assert c["Balance"] == Decimal("0.00") and c["FullyQualifiedName"] == "King's Groceries"
    assert c["MetaData"]["CreateTime"] == c["MetaData"]["LastUpdatedTime"]
    assert c["MetaData"]["CreateTime"].endswith("-07:00") or c["MetaData"]["CreateTime"].endswith(
        "-08:00"
    )


def test_ids_increase_per_entity(backend: Backend) -> None:
    a = backend.write(R, "customer", {"DisplayName": "A1"})["Customer"]["Id"]
    b = backend.write(R, "customer", {"DisplayName": "A2"})["Customer"]["Id"]
    i = backend.write(R, "item", {"Name": "Widget"})["Item"]["Id"]
    assert (a, b, i) == ("13", "14", "6")


def test_display_name_defaults_to_name_parts(backend: Backend) -> None:
    c = backend.write(R, "customer", {"Title": "Dr", "GivenName": "Ada", "FamilyName": "Lovelace"})
    assert c["Customer"]["DisplayName"] == "Dr Ada Lovelace"


def test_customer_without_any_name_is_6080(backend: Backend) -> None:
    assert code(fault(backend.write, R, "customer", {"CompanyName": "Only Company"})) == "6080"
    assert code(fault(backend.write, R, "customer", {"DisplayName": "   "})) == "6080"


def test_duplicate_display_name_is_6240_case_insensitive(backend: Backend) -> None:
    f = fault(backend.write, R, "customer", {"DisplayName": "o'brien PLUMBING"})
    assert code(f) == "6240"
    assert f.errors[0].detail.startswith("The name supplied already exists. :")


def test_inactive_customer_still_holds_its_name(backend: Backend) -> None:
    assert code(fault(backend.write, R, "customer", {"DisplayName": "Kookies by Kathy"})) == "6240"


@pytest.mark.parametrize("bad", ["a:b", "a\tb", "a\nb"])
def test_separators_in_names_are_refused(backend: Backend, bad: str) -> None:
    f = fault(backend.write, R, "customer", {"DisplayName": bad})
    assert code(f) == "6000" and f.errors[0].element == "DisplayName"
    assert (
        code(fault(backend.write, R, "customer", {"DisplayName": "ok", "GivenName": bad})) == "6000"
    )


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("DisplayName", 500),
        ("GivenName", 100),
        ("FamilyName", 100),
        ("MiddleName", 100),
        ("CompanyName", 100),
        ("Notes", 2000),
    ],
)
def test_length_limits_are_2050_with_element(backend: Backend, field: str, limit: int) -> None:
    body = {"DisplayName": "Long Fellow", field: "x" * (limit + 1)}
    f = fault(backend.write, R, "customer", body)
    assert code(f) == "2050" and f.errors[0].element == field
    body[field] = "y" * limit
    assert backend.write(R, "customer", body)["Customer"][field] == "y" * limit


def test_phone_longer_than_30_is_2050(backend: Backend) -> None:
    body = {"DisplayName": "Phoney", "PrimaryPhone": {"FreeFormNumber": "1" * 31}}
    f = fault(backend.write, R, "customer", body)
    assert code(f) == "2050" and f.errors[0].element == "PrimaryPhone.FreeFormNumber"


def test_wrong_types_are_2010(backend: Backend) -> None:
    assert code(fault(backend.write, R, "customer", {"DisplayName": {"a": 1}})) == "2010"
    assert (
        code(fault(backend.write, R, "customer", {"DisplayName": "x", "Active": "maybe"})) == "2010"
    )
    assert (
        code(fault(backend.write, R, "customer", {"DisplayName": "x", "BillAddr": "street"}))
        == "2010"
    )


def test_numbers_where_strings_go_are_coerced_like_jackson(backend: Backend) -> None:
    assert (
        backend.write(R, "customer", {"DisplayName": 12345})["Customer"]["DisplayName"] == "12345"
    )


def test_unknown_property_is_2010_naming_it(backend: Backend) -> None:
    f = fault(backend.write, R, "customer", {"DisplayName": "x", "Nickname": "y"})
    assert code(f) == "2010" and "Nickname" in f.errors[0].detail


def test_body_must_be_an_object(backend: Backend) -> None:
    assert code(fault(backend.write, R, "customer", ["DisplayName"])) == "2010"  # type: ignore[arg-type]


def test_read_only_fields_are_ignored_on_create(backend: Backend) -> None:
    c = backend.write(
        R, "customer", {"DisplayName": "Rich", "Balance": 1000, "Id": None, "MetaData": {}}
    )["Customer"]
    assert c["Balance"] == Decimal("0.00")


def test_bad_email_is_refused(backend: Backend) -> None:
    body = {"DisplayName": "Mailer", "PrimaryEmailAddr": {"Address": "nobody"}}
    assert code(fault(backend.write, R, "customer", body)) == "6000"


def test_addresses_get_ids(backend: Backend) -> None:
    c = backend.write(R, "customer", {"DisplayName": "Addressed", "BillAddr": {"Line1": "1 Road"}})
    assert c["Customer"]["BillAddr"]["Id"]


# updates


def test_sparse_update_keeps_other_fields_and_bumps_synctoken(backend: Backend, clock: Any) -> None:
    before = backend.read(R, "customer", "2")["Customer"]
    clock.advance(60)
    after = backend.write(
        R, "customer", {"Id": "2", "SyncToken": "0", "sparse": True, "MiddleName": "Mark"}
    )["Customer"]
    assert after["SyncToken"] == "1" and after["MiddleName"] == "Mark"
    assert after["PrimaryPhone"] == before["PrimaryPhone"]
    assert after["MetaData"]["CreateTime"] == before["MetaData"]["CreateTime"]
    assert after["MetaData"]["LastUpdatedTime"] > before["MetaData"]["LastUpdatedTime"]


def test_full_update_drops_fields_left_out(backend: Backend) -> None:
    after = backend.write(
        R, "customer", {"Id": "2", "SyncToken": "0", "DisplayName": "O'Brien Plumbing"}
    )
    c = after["Customer"]
    assert "PrimaryPhone" not in c and "GivenName" not in c and c["SyncToken"] == "1"


def test_stale_synctoken_is_5010_and_changes_nothing(backend: Backend) -> None:
    backend.write(R, "customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Notes": "one"})
    f = fault(
        backend.write, R, "customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Notes": "two"}
    )
    assert code(f) == "5010" and f.errors[0].message == "Stale Object Error"
    assert f.errors[0].detail.startswith("Stale Object Error : You and root were working")
    assert backend.read(R, "customer", "2")["Customer"]["Notes"] == "one"


def test_update_needs_synctoken(backend: Backend) -> None:
    f = fault(backend.write, R, "customer", {"Id": "2", "sparse": True, "Notes": "x"})
    assert code(f) == "2020" and "SyncToken" in f.errors[0].detail


def test_update_of_unknown_id_is_610(backend: Backend) -> None:
    f = fault(backend.write, R, "customer", {"Id": "404", "SyncToken": "0", "DisplayName": "x"})
    assert code(f) == "610"


def test_rename_to_an_existing_name_is_6240(backend: Backend) -> None:
    body = {"Id": "2", "SyncToken": "0", "sparse": True, "DisplayName": "Café Zoë"}
    assert code(fault(backend.write, R, "customer", body)) == "6240"


def test_renaming_to_own_name_in_other_case_is_allowed(backend: Backend) -> None:
    body = {"Id": "2", "SyncToken": "0", "sparse": True, "DisplayName": "O'BRIEN PLUMBING"}
    assert backend.write(R, "customer", body)["Customer"]["DisplayName"] == "O'BRIEN PLUMBING"


def test_deactivating_a_customer_hides_it_from_default_queries(backend: Backend) -> None:
    backend.write(R, "customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Active": False})
    assert backend.query(R, "select * from Customer where Id = '2'") == {"QueryResponse": {}}
    assert backend.read(R, "customer", "2")["Customer"]["Active"] is False


def test_name_lists_cannot_be_deleted_or_voided(backend: Backend) -> None:
    for entity in ("customer", "item"):
        for op in ("delete", "void"):
            f = fault(backend.write, R, entity, {"Id": "1", "SyncToken": "0"}, op)
            assert code(f) == "500"


# items and company info


def test_item_name_is_unique_and_required(backend: Backend) -> None:
    assert code(fault(backend.write, R, "item", {"Name": "services"})) == "6240"
    assert code(fault(backend.write, R, "item", {"Type": "Service"})) == "2020"


def test_item_type_is_an_enumeration(backend: Backend) -> None:
    f = fault(backend.write, R, "item", {"Name": "Odd", "Type": "Magic"})
    assert code(f) == "2170" and f.errors[0].element == "Type"


def test_item_unit_price_must_be_a_number(backend: Backend) -> None:
    assert code(fault(backend.write, R, "item", {"Name": "Odd", "UnitPrice": "abc"})) == "2010"
    item = backend.write(R, "item", {"Name": "Even", "UnitPrice": "12.5"})["Item"]
    assert item["UnitPrice"] == Decimal("12.5")


def test_company_info_sparse_update(backend: Backend) -> None:
    info = backend.company_info(R)["CompanyInfo"]
    body = {"Id": "1", "SyncToken": info["SyncToken"], "sparse": True, "LegalName": "Craig Ltd"}
    after = backend.write(R, "companyinfo", body)["CompanyInfo"]
    assert after["LegalName"] == "Craig Ltd" and after["CompanyName"] == info["CompanyName"]
    assert code(fault(backend.write, R, "companyinfo", {"CompanyName": "New"})) == "500"


# what QuickBooks answers, a client can send back


@pytest.mark.parametrize("entity", ["Customer", "Item", "Estimate", "Invoice", "Payment"])
def test_every_seeded_object_round_trips_as_full_and_sparse_update(
    backend: Backend, entity: str
) -> None:
    rows = backend.query(R, f"select * from {entity} maxresults 1000")["QueryResponse"][entity]
    for row in rows:
        if row.get("Active") is False:
            continue
        full = backend.write(R, entity, dict(row))[entity]
        assert full["SyncToken"] == str(int(row["SyncToken"]) + 1)
        for key in ("TotalAmt", "Balance", "UnappliedAmt", "DisplayName", "Name", "DocNumber"):
            assert full.get(key) == row.get(key)
        sparse = backend.write(R, entity, {**full, "sparse": True})[entity]
        assert sparse["SyncToken"] == str(int(full["SyncToken"]) + 1)


def test_company_info_round_trips(backend: Backend) -> None:
    info = backend.company_info(R)["CompanyInfo"]
    after = backend.write(R, "companyinfo", dict(info))["CompanyInfo"]
    assert after["CompanyAddr"] == info["CompanyAddr"] and after["SyncToken"] == "1"


def test_demo_estimates_and_invoices_cover_every_state(backend: Backend) -> None:
    today = "2026-01-15"  # the conftest clock's date in California
    estimates = backend.query(R, "select * from Estimate")["QueryResponse"]["Estimate"]
    statuses = {e["TxnStatus"] for e in estimates}
    assert {"Pending", "Accepted", "Rejected"} <= statuses
    assert any(e["ExpirationDate"] < today and e["TxnStatus"] == "Pending" for e in estimates)
    invoices = backend.query(R, "select * from Invoice")["QueryResponse"]["Invoice"]
    assert any(i["DueDate"] < today and i["Balance"] == i["TotalAmt"] > 0 for i in invoices)
    payments = backend.query(R, "select * from Payment")["QueryResponse"]["Payment"]
    assert any(p["Line"] for p in payments) and any(p["UnappliedAmt"] > 0 for p in payments)


def test_a_snapshot_does_not_change_with_later_writes() -> None:
    import json

    from qb_mcp.emulator.backend import Backend
    from qb_mcp.emulator.seed import DEMO_REALM_ID

    backend = Backend()
    backend.add_company(DEMO_REALM_ID)
    snapshot = backend.snapshot()
    frozen = json.dumps(snapshot, sort_keys=True)
    backend.write(DEMO_REALM_ID, "customer", {"DisplayName": "After The Snapshot"})
    assert json.dumps(snapshot, sort_keys=True) == frozen


# blank dates and enumerations (issue 9, item 2)


def test_python_quickbooks_default_customer_saves(backend: Backend) -> None:
    created = backend.write(R, "customer", dict(PYTHON_QUICKBOOKS_CUSTOMER))["Customer"]
    assert created["DisplayName"] == "Defaults Co"
    # Blank is "not sent": the default applies and no date is made up.
    assert created["PreferredDeliveryMethod"] == "Print" and "OpenBalanceDate" not in created


def test_read_then_save_with_blank_defaults_works(backend: Backend) -> None:
    created = backend.write(R, "customer", {"DisplayName": "Round Trip", "Notes": "n"})["Customer"]
    body = {**PYTHON_QUICKBOOKS_CUSTOMER, **created, "PreferredDeliveryMethod": "", "Notes": "m"}
    updated = backend.write(R, "customer", body)["Customer"]
    assert updated["Notes"] == "m" and updated["SyncToken"] == "1"


def test_a_blank_enumeration_is_not_sent_but_a_wrong_one_is_2170(backend: Backend) -> None:
    item = backend.write(R, "item", {"Name": "Blank Type", "Type": ""})["Item"]
    assert item["Name"] == "Blank Type"
    body = {"DisplayName": "Bad Delivery", "PreferredDeliveryMethod": "Pigeon"}
    assert code(fault(backend.write, R, "customer", body)) == "2170"
