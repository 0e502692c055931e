"""Backend: estimates, invoices and payments: lines, totals, links, balances, void and delete."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.faults import QBOFault

R = "1234"
D = Decimal


@pytest.fixture
def backend(clock: Any) -> Backend:
    """An empty company with two customers and two priced items."""
    backend = Backend(clock=clock)
    backend.add_company(R, seed="empty")
    backend.write(R, "customer", {"DisplayName": "Ann"})  # Id 1
    backend.write(R, "customer", {"DisplayName": "Bob"})  # Id 2
    backend.write(R, "item", {"Name": "Hours", "UnitPrice": 75})  # Id 2
    return backend


def fault(call: Any, *args: Any, **kwargs: Any) -> QBOFault:
    with pytest.raises(QBOFault) as info:
        call(*args, **kwargs)
    return info.value


def code(f: QBOFault) -> str:
    return f.errors[0].code


def line(amount: Any, qty: Any = None, price: Any = None, item: str = "2") -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item}}
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    return {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail}


def invoice(backend: Backend, *amounts: Any, customer: str = "1", **extra: Any) -> dict[str, Any]:
    body = {"CustomerRef": {"value": customer}, "Line": [line(a) for a in amounts], **extra}
    return dict(backend.write(R, "invoice", body)["Invoice"])


def pay(
    backend: Backend, total: Any, *applied: tuple[str, Any], customer: str = "1"
) -> dict[str, Any]:
    body: dict[str, Any] = {"CustomerRef": {"value": customer}, "TotalAmt": total}
    if applied:
        body["Line"] = [
            {"Amount": amt, "LinkedTxn": [{"TxnId": inv, "TxnType": "Invoice"}]}
            for inv, amt in applied
        ]
    return dict(backend.write(R, "payment", body)["Payment"])


def get(backend: Backend, entity: str, entity_id: str) -> dict[str, Any]:
    return dict(backend.read(R, entity, entity_id)[entity])


def balance(backend: Backend, customer: str = "1") -> Decimal:
    value = get(backend, "Customer", customer)["Balance"]
    assert isinstance(value, Decimal)
    return value


# lines and totals


def test_invoice_total_subtotal_line_and_balance(backend: Backend) -> None:
    inv = invoice(backend, D("100.00"), D("50.25"))
    assert inv["TotalAmt"] == D("150.25") and inv["Balance"] == D("150.25")
    assert inv["Line"][-1] == {
        "DetailType": "SubTotalLineDetail",
        "Amount": D("150.25"),
        "SubTotalLineDetail": {},
    }
    assert [ln["LineNum"] for ln in inv["Line"][:-1]] == [1, 2]
    assert inv["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {"value": "2", "name": "Hours"}
    assert inv["LinkedTxn"] == [] and inv["Deposit"] == D("0.00")
    assert balance(backend) == D("150.25")


def test_amount_must_equal_qty_times_price_half_up(backend: Backend) -> None:
    body = {"CustomerRef": {"value": "1"}, "Line": [line(D("10.01"), D("3"), D("3.335"))]}
    assert backend.write(R, "invoice", body)["Invoice"]["TotalAmt"] == D("10.01")
    body["Line"] = [line(D("10.00"), D("3"), D("3.335"))]
    f = fault(backend.write, R, "invoice", body)
    assert code(f) == "6070" and "10.00" in f.errors[0].detail


@pytest.mark.parametrize(("qty", "price"), [(0, 0), (0, 50), (2, 0), (0, None)])
def test_a_zero_qty_or_price_leaves_the_amount_unchecked(
    backend: Backend, qty: Any, price: Any
) -> None:
    # python-quickbooks' default line (Qty 0, UnitPrice 0, Amount 100) saves in a real company.
    body = {"CustomerRef": {"value": "1"}, "Line": [line(D("100"), qty, price)]}
    saved = backend.write(R, "invoice", body)["Invoice"]
    assert saved["TotalAmt"] == D("100.00") and saved["Line"][0]["Amount"] == D("100.00")


def test_sales_line_detail_takes_every_property_of_the_schema(backend: Backend) -> None:
    # QuickBooks' ItemLineDetail + SalesItemLineDetail (intuit/QuickBooks-V3-Java-SDK).
    detail = {
        "ItemRef": {"value": "2"},
        "ClassRef": {"value": "5"},
        "UnitPrice": 75,
        "Qty": 2,
        "PriceLevelRef": {"value": "1"},
        "MarkupInfo": {"PercentBased": False, "Value": 0, "Percent": 0},
        "UOMRef": {"Unit": "hour"},
        "ItemAccountRef": {"value": "79", "name": "Sales"},
        "InventorySiteRef": {"value": "1"},
        "TaxCodeRef": {"value": "NON"},
        "TaxClassificationRef": {"value": "EUC-99990201-V1-00020000"},
        "ServiceDate": "2026-01-10",
        "TaxInclusiveAmt": 150,
        "DiscountRate": 0,
        "DiscountAmt": 0,
    }
    body = {
        "CustomerRef": {"value": "1"},
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 150, "SalesItemLineDetail": detail}
        ],
    }
    saved = backend.write(R, "invoice", body)["Invoice"]["Line"][0]["SalesItemLineDetail"]
    assert saved["ServiceDate"] == "2026-01-10" and saved["PriceLevelRef"] == {"value": "1"}


def test_python_quickbooks_default_invoice_saves(backend: Backend) -> None:
    # What python-quickbooks 0.9.12 sends for Invoice() with one SalesItemLine(Amount=100):
    # blank dates, a blank ServiceDate, Qty and UnitPrice 0, read-only defaults.
    body = {
        "AllowIPNPayment": True,
        "AllowOnlineACHPayment": False,
        "AllowOnlineCreditCardPayment": False,
        "ApplyTaxAfterDiscount": False,
        "Balance": 0,
        "CustomField": [],
        "CustomerRef": {"value": "1", "name": "Ann"},
        "Deposit": 0,
        "DueDate": "",
        "EmailStatus": "NotSet",
        "ExchangeRate": 1,
        "FreeFormAddress": False,
        "GlobalTaxCalculation": "TaxExcluded",
        "HomeBalance": 0,
        "HomeTotalAmt": 0,
        "InvoiceLink": "",
        "Line": [
            {
                "Amount": 100,
                "CustomField": [],
                "Description": "description",
                "DetailType": "SalesItemLineDetail",
                "LineNum": 1,
                "LinkedTxn": [],
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "2", "name": "Hours"},
                    "Qty": 0,
                    "ServiceDate": "",
                    "TaxInclusiveAmt": 0,
                    "UnitPrice": 0,
                },
            }
        ],
        "LinkedTxn": [],
        "PrintStatus": "NotSet",
        "PrivateNote": "",
        "ShipDate": "",
        "SyncToken": 0,
        "TotalAmt": "",
        "TrackingNum": "",
        "TxnDate": "",
        "domain": "QBO",
        "sparse": False,
    }
    saved = backend.write(R, "invoice", body)["Invoice"]
    assert saved["TotalAmt"] == D("100.00")
    assert saved["TxnDate"] and saved["DueDate"]  # blank is "not sent": the defaults apply
    assert "ShipDate" not in saved and "ServiceDate" not in saved["Line"][0]["SalesItemLineDetail"]


def test_a_blank_date_in_a_full_update_keeps_the_txn_date(backend: Backend) -> None:
    inv = invoice(backend, 10, TxnDate="2026-01-05")
    body = {**inv, "TxnDate": "", "DueDate": ""}
    updated = backend.write(R, "invoice", body)["Invoice"]
    assert updated["TxnDate"] == "2026-01-05"


def test_a_bad_date_is_still_2010(backend: Backend) -> None:
    assert code(fault(invoice, backend, 10, TxnDate="05/01/2026")) == "2010"
    assert code(fault(invoice, backend, 10, TxnDate=" ")) == "2010"


def test_missing_qty_defaults_to_one(backend: Backend) -> None:
    body = {"CustomerRef": {"value": "1"}, "Line": [line(D("75"), None, D("75"))]}
    got = backend.write(R, "invoice", body)["Invoice"]["Line"][0]["SalesItemLineDetail"]
    assert got["Qty"] == 1
    body["Line"] = [line(D("150"), None, D("75"))]
    assert code(fault(backend.write, R, "invoice", body)) == "6070"


def test_qty_without_price_derives_the_price(backend: Backend) -> None:
    body = {"CustomerRef": {"value": "1"}, "Line": [line(D("150"), D("2"))]}
    got = backend.write(R, "invoice", body)["Invoice"]["Line"][0]["SalesItemLineDetail"]
    assert got["UnitPrice"] == D("75")


def test_amount_alone_is_accepted_as_sent(backend: Backend) -> None:
    assert invoice(backend, 100)["TotalAmt"] == D("100.00")


def test_total_in_body_is_ignored(backend: Backend) -> None:
    inv = invoice(backend, 10, TotalAmt=999, Balance=999)
    assert inv["TotalAmt"] == D("10.00") and inv["Balance"] == D("10.00")


def test_client_sent_subtotal_lines_are_dropped(backend: Backend) -> None:
    body = {
        "CustomerRef": {"value": "1"},
        "Line": [
            line(10),
            {"DetailType": "SubTotalLineDetail", "Amount": 999, "SubTotalLineDetail": {}},
        ],
    }
    inv = backend.write(R, "invoice", body)["Invoice"]
    assert len(inv["Line"]) == 2 and inv["TotalAmt"] == D("10.00")


@pytest.mark.parametrize(
    ("body", "expected", "element"),
    [
        ({"Line": [line(10)]}, "2020", "CustomerRef"),
        ({"CustomerRef": {"value": "1"}}, "2020", "Line"),
        ({"CustomerRef": {"value": "1"}, "Line": []}, "2020", "Line"),
        ({"CustomerRef": {"value": "99"}, "Line": [line(10)]}, "2500", "CustomerRef"),
        ({"CustomerRef": {"value": "1"}, "Line": [line(10, item="99")]}, "2500", "ItemRef"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [{"DetailType": "Bogus"}]},
            "2170",
            "Line.DetailType",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [{"Amount": 1}]}, "2020", "Line.DetailType"),
        ({"CustomerRef": {"value": "1"}, "Line": [line("ten")]}, "2010", "Line.Amount"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [line(10)], "DocNumber": "x" * 22},
            "2050",
            "DocNumber",
        ),
        (
            {"CustomerRef": {"value": "1"}, "Line": [line(10)], "PrivateNote": "x" * 4001},
            "2050",
            "PrivateNote",
        ),
        (
            {
                "CustomerRef": {"value": "1"},
                "Line": [line(10)],
                "CustomerMemo": {"value": "x" * 1001},
            },
            "2050",
            "CustomerMemo.value",
        ),
        (
            {"CustomerRef": {"value": "1"}, "Line": [{**line(10), "Description": "x" * 4001}]},
            "2050",
            "Line.Description",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [line(-10)]}, "6000", "TotalAmt"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [line(10)], "TxnDate": "yesterday"},
            "2010",
            "TxnDate",
        ),
        ({"CustomerRef": "1", "Line": [line(10)]}, "2010", "CustomerRef"),
    ],
)
def test_invoice_faults(
    backend: Backend, body: dict[str, Any], expected: str, element: str
) -> None:
    before = backend.snapshot()
    f = fault(backend.write, R, "invoice", body)
    assert (code(f), f.errors[0].element) == (expected, element)
    assert backend.snapshot() == before


def test_inactive_customer_or_item_is_2500(backend: Backend) -> None:
    backend.write(R, "item", {"Id": "2", "SyncToken": "0", "sparse": True, "Active": False})
    assert code(fault(invoice, backend, 10)) == "2500"
    backend.write(R, "customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Active": False})
    body = {"CustomerRef": {"value": "2"}, "Line": [line(10, item="1")]}
    assert code(fault(backend.write, R, "invoice", body)) == "2500"


# doc numbers


def test_doc_numbers_are_assigned_per_entity(backend: Backend) -> None:
    assert invoice(backend, 1)["DocNumber"] == "1001"
    assert invoice(backend, 1)["DocNumber"] == "1002"
    est = backend.write(R, "estimate", {"CustomerRef": {"value": "1"}, "Line": [line(1)]})
    assert est["Estimate"]["DocNumber"] == "1001"


def test_duplicate_doc_number_is_6140(backend: Backend) -> None:
    invoice(backend, 1, DocNumber="A-7")
    f = fault(invoice, backend, 1, DocNumber="a-7")
    assert code(f) == "6140" and "DocNumber=a-7" in f.errors[0].detail


def test_auto_numbers_skip_taken_ones(backend: Backend) -> None:
    invoice(backend, 1, DocNumber="1001")
    assert invoice(backend, 1)["DocNumber"] == "1002"


def test_full_update_keeps_doc_number_and_recomputes(backend: Backend) -> None:
    inv = invoice(backend, 10)
    body = {"Id": inv["Id"], "SyncToken": "0", "CustomerRef": {"value": "1"}, "Line": [line(20)]}
    after = backend.write(R, "invoice", body)["Invoice"]
    assert after["DocNumber"] == inv["DocNumber"] and after["TotalAmt"] == D("20.00")
    assert after["SyncToken"] == "1" and balance(backend) == D("20.00")


def test_sparse_update_without_lines_keeps_lines(backend: Backend) -> None:
    inv = invoice(backend, 10)
    body = {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "hi"}
    after = backend.write(R, "invoice", body)["Invoice"]
    assert after["Line"] == inv["Line"] and after["PrivateNote"] == "hi"


def test_full_update_without_lines_is_2020(backend: Backend) -> None:
    inv = invoice(backend, 10)
    body = {"Id": inv["Id"], "SyncToken": "0", "CustomerRef": {"value": "1"}}
    assert code(fault(backend.write, R, "invoice", body)) == "2020"


# estimates and linking


def estimate(
    backend: Backend, amount: Any = 100, customer: str = "1", **extra: Any
) -> dict[str, Any]:
    body = {"CustomerRef": {"value": customer}, "Line": [line(amount)], **extra}
    return dict(backend.write(R, "estimate", body)["Estimate"])


def test_estimate_defaults(backend: Backend) -> None:
    est = estimate(backend)
    assert (
        est["TxnStatus"] == "Pending" and est["LinkedTxn"] == [] and est["TotalAmt"] == D("100.00")
    )
    assert est["TxnDate"] == "2026-01-15"


def test_estimate_accept_by_sparse_update(backend: Backend) -> None:
    est = estimate(backend)
    body = {
        "Id": est["Id"],
        "SyncToken": "0",
        "sparse": True,
        "TxnStatus": "Accepted",
        "AcceptedBy": "John Smith",
        "AcceptedDate": "2026-01-16",
    }
    after = backend.write(R, "estimate", body)["Estimate"]
    assert after["TxnStatus"] == "Accepted" and after["TotalAmt"] == D("100.00")
    body = {"Id": est["Id"], "SyncToken": "1", "sparse": True, "TxnStatus": "Won"}
    assert code(fault(backend.write, R, "estimate", body)) == "2170"


def test_linking_an_estimate_shows_the_invoice_on_it(backend: Backend) -> None:
    est = estimate(backend)
    inv = invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    assert inv["LinkedTxn"] == [{"TxnId": est["Id"], "TxnType": "Estimate"}]
    after = get(backend, "Estimate", est["Id"])
    assert after["LinkedTxn"] == [{"TxnId": inv["Id"], "TxnType": "Invoice"}]
    assert after["SyncToken"] == "1"
    assert after["TxnStatus"] == "Pending"  # not closed automatically: the client closes it


def test_second_invoice_for_an_estimate_is_refused(backend: Backend) -> None:
    est = estimate(backend)
    invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    before = backend.snapshot()
    f = fault(invoice, backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    assert code(f) == "6000" and "already linked" in f.errors[0].detail
    assert backend.snapshot() == before


def test_rejected_estimate_cannot_be_linked(backend: Backend) -> None:
    est = estimate(backend, TxnStatus="Rejected")
    assert (
        code(fault(invoice, backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}]))
        == "6000"
    )


def test_closed_estimate_can_be_linked(backend: Backend) -> None:
    est = estimate(backend, TxnStatus="Closed")
    inv = invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    assert inv["LinkedTxn"][0]["TxnId"] == est["Id"]


def test_estimate_of_another_customer_or_unknown_is_refused(backend: Backend) -> None:
    est = estimate(backend, customer="2")
    assert (
        code(fault(invoice, backend, 1, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}]))
        == "6000"
    )
    assert (
        code(fault(invoice, backend, 1, LinkedTxn=[{"TxnId": "77", "TxnType": "Estimate"}]))
        == "2500"
    )


def test_deleting_the_invoice_frees_the_estimate(backend: Backend) -> None:
    est = estimate(backend)
    inv = invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    backend.write(R, "invoice", {"Id": inv["Id"], "SyncToken": "0"}, "delete")
    assert get(backend, "Estimate", est["Id"])["LinkedTxn"] == []
    invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])


def test_estimates_cannot_be_voided(backend: Backend) -> None:
    est = estimate(backend)
    assert (
        code(fault(backend.write, R, "estimate", {"Id": est["Id"], "SyncToken": "0"}, "void"))
        == "500"
    )


def test_estimate_delete_answers_a_stub_and_reads_610(backend: Backend) -> None:
    est = estimate(backend)
    answer = backend.write(R, "estimate", {"Id": est["Id"], "SyncToken": "0"}, "delete")
    assert answer == {"Estimate": {"status": "Deleted", "domain": "QBO", "Id": est["Id"]}}
    assert code(fault(backend.read, R, "estimate", est["Id"])) == "610"
    assert backend.query(R, "select * from Estimate") == {"QueryResponse": {}}


def test_delete_with_stale_token_is_5010(backend: Backend) -> None:
    est = estimate(backend)
    assert (
        code(fault(backend.write, R, "estimate", {"Id": est["Id"], "SyncToken": "3"}, "delete"))
        == "5010"
    )


# payments


def test_payment_lowers_invoice_and_customer_balance(backend: Backend) -> None:
    inv = invoice(backend, D("100.00"))
    p = pay(backend, D("60.00"), (inv["Id"], D("40.00")))
    assert p["UnappliedAmt"] == D("20.00") and p["SyncToken"] == "0"
    after = get(backend, "Invoice", inv["Id"])
    assert after["Balance"] == D("60.00") and after["SyncToken"] == "1"
    assert {"TxnId": p["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
    assert balance(backend) == D("60.00")


def test_paying_in_full_gives_zero_balance(backend: Backend) -> None:
    inv = invoice(backend, D("99.99"))
    pay(backend, D("99.99"), (inv["Id"], D("99.99")))
    assert get(backend, "Invoice", inv["Id"])["Balance"] == D("0.00")
    assert balance(backend) == D("0.00")


def test_payment_without_lines_is_all_unapplied(backend: Backend) -> None:
    p = pay(backend, 100)
    assert p["UnappliedAmt"] == D("100.00") and p["Line"] == []


def test_over_application_is_refused(backend: Backend) -> None:
    inv = invoice(backend, 100)
    pay(backend, 70, (inv["Id"], 70))
    before = backend.snapshot()
    f = fault(pay, backend, 40, (inv["Id"], 40))
    assert code(f) == "6000" and "open balance of 30.00" in f.errors[0].detail
    assert backend.snapshot() == before


def test_lines_above_total_are_refused(backend: Backend) -> None:
    inv = invoice(backend, 100)
    assert code(fault(pay, backend, 10, (inv["Id"], 20))) == "6000"


def test_payment_of_other_customers_invoice_is_refused(backend: Backend) -> None:
    inv = invoice(backend, 100, customer="2")
    assert code(fault(pay, backend, 10, (inv["Id"], 10))) == "6000"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"CustomerRef": {"value": "1"}}, "2020"),
        ({"TotalAmt": 10}, "2020"),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": -1}, "6000"),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": "lots"}, "2010"),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": 10, "Line": [{"Amount": 5}]}, "2020"),
        (
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": 10,
                "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": "404", "TxnType": "Invoice"}]}],
            },
            "2500",
        ),
        (
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": 10,
                "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": "1", "TxnType": "Gift"}]}],
            },
            "2170",
        ),
    ],
)
def test_payment_faults(backend: Backend, body: dict[str, Any], expected: str) -> None:
    before = backend.snapshot()
    assert code(fault(backend.write, R, "payment", body)) == expected
    assert backend.snapshot() == before


def test_payment_update_reapplies(backend: Backend) -> None:
    inv = invoice(backend, 100)
    p = pay(backend, 50, (inv["Id"], 50))
    body = {
        "Id": p["Id"],
        "SyncToken": "0",
        "CustomerRef": {"value": "1"},
        "TotalAmt": 100,
        "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
    }
    after = backend.write(R, "payment", body)["Payment"]
    assert after["UnappliedAmt"] == D("0.00")
    assert get(backend, "Invoice", inv["Id"])["Balance"] == D("0.00")


def test_invoice_total_cannot_drop_below_payments(backend: Backend) -> None:
    inv = invoice(backend, 100)
    pay(backend, 80, (inv["Id"], 80))
    token = get(backend, "Invoice", inv["Id"])["SyncToken"]
    body = {"Id": inv["Id"], "SyncToken": token, "CustomerRef": {"value": "1"}, "Line": [line(50)]}
    assert code(fault(backend.write, R, "invoice", body)) == "6000"


# void and delete


def test_void_invoice_zeroes_it_and_unapplies_payments(backend: Backend) -> None:
    inv = invoice(backend, 100, PrivateNote="rush job")
    p = pay(backend, 100, (inv["Id"], 100))
    token = get(backend, "Invoice", inv["Id"])["SyncToken"]
    voided = backend.write(R, "invoice", {"Id": inv["Id"], "SyncToken": token}, "void")["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["LinkedTxn"] == []
    assert voided["PrivateNote"] == "Voided - rush job"
    assert all(ln["Amount"] == 0 for ln in voided["Line"])
    after = get(backend, "Payment", p["Id"])
    assert (
        after["UnappliedAmt"] == D("100.00") and after["Line"] == [] and after["SyncToken"] == "1"
    )
    assert balance(backend) == D("0.00")
    assert get(backend, "Invoice", inv["Id"])["DocNumber"] == inv["DocNumber"]


def void_payment(backend: Backend, payment_id: str, token: str = "0", **extra: Any) -> Any:
    """The documented void of a Payment: a sparse update with include=void."""
    body = {"Id": payment_id, "SyncToken": token, "sparse": True, **extra}
    return backend.write(R, "payment", body, "update", include="void")["Payment"]


def test_void_payment_restores_invoice_balance(backend: Backend) -> None:
    inv = invoice(backend, 100)
    p = pay(backend, 30, (inv["Id"], 30))
    voided = void_payment(backend, p["Id"])
    # As the "Void a payment" answer in Intuit's Payment reference: amounts 0, lines cleared.
    assert voided["TotalAmt"] == 0 and voided["UnappliedAmt"] == 0 and voided["Line"] == []
    assert voided["PrivateNote"] == "Voided" and voided["SyncToken"] == "1"
    assert get(backend, "Invoice", inv["Id"])["Balance"] == D("100.00")
    assert balance(backend) == D("100.00")


def test_void_payment_prepends_voided_to_the_note_it_is_sent(backend: Backend) -> None:
    p = pay(backend, 30)
    voided = void_payment(backend, p["Id"], PrivateNote="bounced cheque")
    assert voided["PrivateNote"] == "Voided - bounced cheque"


def test_void_payment_accepts_the_whole_object_it_read(backend: Backend) -> None:
    # node-quickbooks' voidPayment sends back everything it read, with sparse: true.
    inv = invoice(backend, 100)
    p = pay(backend, 30, (inv["Id"], 30))
    voided = backend.write(R, "payment", {**p, "sparse": True}, "update", include="void")
    assert voided["Payment"]["TotalAmt"] == 0
    assert get(backend, "Invoice", inv["Id"])["Balance"] == D("100.00")


def test_payment_operation_void_is_refused_and_changes_nothing(backend: Backend) -> None:
    inv = invoice(backend, 100)
    p = pay(backend, 30, (inv["Id"], 30))
    before = backend.snapshot()
    refused = fault(backend.write, R, "payment", {"Id": p["Id"], "SyncToken": "0"}, "void")
    assert code(refused) == "500"
    assert "include=void" in refused.errors[0].detail
    assert backend.snapshot() == before


def test_include_void_on_an_invoice_is_refused_and_changes_nothing(backend: Backend) -> None:
    inv = invoice(backend, 100)
    before = backend.snapshot()
    body = {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "sparse": True}
    refused = fault(backend.write, R, "invoice", body, "update", include="void")
    assert code(refused) == "500" and "operation=void" in refused.errors[0].detail
    assert backend.snapshot() == before


def test_include_void_with_a_stale_sync_token_is_5010(backend: Backend) -> None:
    p = pay(backend, 30)
    assert code(fault(void_payment, backend, p["Id"], "7")) == "5010"


def test_include_void_with_an_unknown_property_is_2010(backend: Backend) -> None:
    p = pay(backend, 30)
    assert code(fault(void_payment, backend, p["Id"], Colour="red")) == "2010"


def test_an_update_without_include_void_does_not_void(backend: Backend) -> None:
    p = pay(backend, 30)
    body = {"Id": p["Id"], "SyncToken": "0", "sparse": True}
    updated = backend.write(R, "payment", body, "update", include="allowduplicatedocnum")
    assert updated["Payment"]["TotalAmt"] == D("30.00")


def test_delete_payment_restores_invoice_balance(backend: Backend) -> None:
    inv = invoice(backend, 100)
    p = pay(backend, 30, (inv["Id"], 30))
    answer = backend.write(R, "payment", {"Id": p["Id"], "SyncToken": "0"}, "delete")
    assert answer["Payment"]["status"] == "Deleted"
    after = get(backend, "Invoice", inv["Id"])
    assert after["Balance"] == D("100.00") and after["LinkedTxn"] == []
    assert balance(backend) == D("100.00")


def test_delete_invoice_unapplies_payments_and_clears_balance(backend: Backend) -> None:
    inv = invoice(backend, 100)
    p = pay(backend, 30, (inv["Id"], 30))
    token = get(backend, "Invoice", inv["Id"])["SyncToken"]
    backend.write(R, "invoice", {"Id": inv["Id"], "SyncToken": token}, "delete")
    assert get(backend, "Payment", p["Id"])["UnappliedAmt"] == D("30.00")
    assert balance(backend) == D("0.00")
    assert code(fault(backend.read, R, "invoice", inv["Id"])) == "610"


def test_delete_needs_id_and_synctoken(backend: Backend) -> None:
    assert code(fault(backend.write, R, "invoice", {"SyncToken": "0"}, "delete")) == "2020"
    inv = invoice(backend, 1)
    assert code(fault(backend.write, R, "invoice", {"Id": inv["Id"]}, "delete")) == "2020"


def test_invoice_defaults_due_date_and_customer_details(backend: Backend) -> None:
    backend.write(
        R,
        "customer",
        {
            "Id": "1",
            "SyncToken": "0",
            "sparse": True,
            "BillAddr": {"Line1": "1 Main St"},
            "PrimaryEmailAddr": {"Address": "ann@example.com"},
        },
    )
    inv = invoice(backend, 10, TxnDate="2026-01-10")
    assert inv["DueDate"] == "2026-02-09"
    assert inv["BillAddr"]["Line1"] == "1 Main St" and inv["BillAddr"]["Id"]
    assert inv["BillEmail"] == {"Address": "ann@example.com"}


def test_payment_defaults_deposit_account(backend: Backend) -> None:
    assert pay(backend, 5)["DepositToAccountRef"] == {"value": "4"}


def test_linked_estimate_keeps_its_customer(backend: Backend) -> None:
    est = estimate(backend)
    invoice(backend, 100, LinkedTxn=[{"TxnId": est["Id"], "TxnType": "Estimate"}])
    body = {"Id": est["Id"], "SyncToken": "1", "sparse": True, "CustomerRef": {"value": "2"}}
    assert code(fault(backend.write, R, "estimate", body)) == "6000"


@pytest.mark.parametrize(
    "bad", ["1" * 25, "1e13", "NaN", "Infinity", "0." + "1" * 30, [], {"v": 1}, True]
)
def test_unreasonable_numbers_are_2010(backend: Backend, bad: Any) -> None:
    assert code(fault(invoice, backend, bad)) == "2010"


def test_txn_date_at_the_end_of_time_is_refused(backend: Backend) -> None:
    assert code(fault(invoice, backend, 1, TxnDate="9999-12-31")) == "2010"


# sales receipts (voided like payments: issue 9, item 1)


def receipt(backend: Backend, *amounts: Any, **extra: Any) -> dict[str, Any]:
    body = {"CustomerRef": {"value": "1"}, "Line": [line(a) for a in amounts], **extra}
    return dict(backend.write(R, "salesreceipt", body)["SalesReceipt"])


def test_a_sales_receipt_is_paid_in_full_and_owes_nothing(backend: Backend) -> None:
    made = receipt(backend, 40, 2.5, PaymentRefNum="1234")
    assert made["TotalAmt"] == D("42.50") and made["Balance"] == D("0.00")
    assert made["DocNumber"] and made["TxnDate"] and "DueDate" not in made
    assert balance(backend) == D("0.00")  # a receipt is not receivable


def test_python_quickbooks_default_sales_receipt_saves(backend: Backend) -> None:
    # python-quickbooks 0.9.12's SalesReceipt() defaults, with one line added.
    body = {
        "ApplyTaxAfterDiscount": False,
        "Balance": 0,
        "CustomField": [],
        "CustomerRef": {"value": "1"},
        "DocNumber": "",
        "EmailStatus": "NotSet",
        "ExchangeRate": 1,
        "GlobalTaxCalculation": "TaxExcluded",
        "Line": [line(15, 0, 0)],
        "LinkedTxn": [],
        "PaymentRefNum": "",
        "PrintStatus": "NotSet",
        "PrivateNote": "",
        "ShipDate": "",
        "SyncToken": 0,
        "TotalAmt": 0,
        "TrackingNum": "",
        "TxnDate": "",
        "domain": "QBO",
        "sparse": False,
    }
    made = backend.write(R, "salesreceipt", body)["SalesReceipt"]
    assert made["TotalAmt"] == D("15.00") and made["DocNumber"]


def test_a_sales_receipt_is_voided_by_update_with_include_void(backend: Backend) -> None:
    # Intuit's SalesReceipt reference, "Void a salesreceipt"; QuickBooks-V3-PHP-SDK#357.
    made = receipt(backend, 40)
    body = {"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True}
    voided = backend.write(R, "salesreceipt", body, "update", include="void")["SalesReceipt"]
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
    assert all(ln["Amount"] == 0 for ln in voided["Line"]) and voided["SyncToken"] == "1"


def test_sales_receipt_operation_void_is_refused_and_changes_nothing(backend: Backend) -> None:
    made = receipt(backend, 40)
    before = backend.snapshot()
    refused = fault(backend.write, R, "salesreceipt", {"Id": made["Id"], "SyncToken": "0"}, "void")
    assert code(refused) == "500" and "include=void" in refused.errors[0].detail
    assert backend.snapshot() == before


def test_sales_receipts_are_queried_and_deleted(backend: Backend) -> None:
    made = receipt(backend, 40)
    rows = backend.query(R, f"select * from SalesReceipt where DocNumber = '{made['DocNumber']}'")
    assert [r["Id"] for r in rows["QueryResponse"]["SalesReceipt"]] == [made["Id"]]
    body = {"Id": made["Id"], "SyncToken": "0"}
    assert backend.write(R, "salesreceipt", body, "delete")["SalesReceipt"]["status"] == "Deleted"
