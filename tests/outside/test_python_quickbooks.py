"""python-quickbooks (PyPI) against the emulator: its ordinary object API, unmodified.

Only its base URL constant is pointed at the emulator (and oauthlib is told, by its own switch,
that plain http is fine on loopback). Every request goes through the library's own serialisation
(with its defaults: empty strings, zero quantities, ...) and its own fault parsing, so a failure
here is a place where the emulator refuses what QuickBooks accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.batch import batch_create, batch_delete, batch_update
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.estimate import Estimate
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.salesreceipt import SalesReceipt

from qb_mcp.emulator import Emulator
from tests.auth.live import serve
from tests.outside.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    Loopback,
    Running,
    emulator_config,
)

SERVICES = "1"  # the demo company's "Services" item


def connect(running: Loopback, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    """A QuickBooks client as its README builds one, connected through the OAuth code flow."""
    monkeypatch.setattr(QuickBooks, "api_url_v3", f"{running.base_url}/v3")
    # requests-oauthlib refuses plain http unless told this is a local test (oauthlib's own
    # switch for that); the emulator on loopback has no TLS.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, running.discovery_url)
    redirect = running.consent(auth.get_authorization_url([Scopes.ACCOUNTING]))
    auth.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    return QuickBooks(
        auth_client=auth,
        refresh_token=auth.refresh_token,
        company_id=redirect["realmId"],
        minorversion=75,
    )


@pytest.fixture
def qb(running: Running, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    return connect(running, monkeypatch)


def new_customer(qb: QuickBooks, name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    return customer.save(qb=qb)


def service_line(amount: int, qty: int = 1) -> SalesItemLine:
    line = SalesItemLine()
    line.Amount = amount
    line.Description = "Garden work"
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = SERVICES
    line.SalesItemLineDetail.Qty = qty
    line.SalesItemLineDetail.UnitPrice = amount // qty
    return line


def invoice_for(qb: QuickBooks, customer: Customer, amount: int) -> Invoice:
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [service_line(amount)]
    return invoice.save(qb=qb)


def pay(qb: QuickBooks, customer: Customer, invoice: Invoice, amount: int) -> Payment:
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = amount
    line = PaymentLine()
    line.Amount = amount
    line.LinkedTxn = [invoice.to_linked_txn()]
    payment.Line = [line]
    return payment.save(qb=qb)


# ---- customers -----------------------------------------------------------------------------


def test_customer_create_with_the_library_defaults(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Outside Python Co")
    assert int(customer.Id) > 0
    assert customer.SyncToken == "0"
    assert customer.DisplayName == "Outside Python Co"
    assert Customer.get(customer.Id, qb=qb).DisplayName == "Outside Python Co"


def test_get_then_save_bumps_the_sync_token(qb: QuickBooks) -> None:
    customer = Customer.get(new_customer(qb, "Get Then Save").Id, qb=qb)
    customer.CompanyName = "Get Then Save Ltd"
    saved = customer.save(qb=qb)
    assert saved.SyncToken == "1"
    assert Customer.get(customer.Id, qb=qb).CompanyName == "Get Then Save Ltd"


def test_a_stale_sync_token_is_their_5010_exception(qb: QuickBooks) -> None:
    created = new_customer(qb, "Stale Token Co")
    first, second = Customer.get(created.Id, qb=qb), Customer.get(created.Id, qb=qb)
    first.Notes = "first writer"
    first.save(qb=qb)
    second.Notes = "second writer"
    with pytest.raises(QuickbooksException) as stale:
        second.save(qb=qb)
    assert stale.value.error_code == 5010
    assert "Stale Object Error" in stale.value.message
    assert Customer.get(created.Id, qb=qb).Notes == "first writer"


def test_a_repeated_request_id_replays_the_first_answer(qb: QuickBooks) -> None:
    """save(request_id=...) is the library's retry-safe write: the retry must not write twice."""
    first, retry = Customer(), Customer()
    first.DisplayName = retry.DisplayName = "Request Id Python"
    created = first.save(qb=qb, request_id="outside-python-1")
    replayed = retry.save(qb=qb, request_id="outside-python-1")
    assert replayed.Id == created.Id
    assert Customer.count("DisplayName = 'Request Id Python'", qb=qb) == 1


# ---- queries -------------------------------------------------------------------------------


def test_filter_escapes_the_apostrophe(qb: QuickBooks) -> None:
    found = Customer.filter(DisplayName="O'Brien Plumbing", qb=qb)
    assert [c.DisplayName for c in found] == ["O'Brien Plumbing"]


def test_where_with_like_and_order(qb: QuickBooks) -> None:
    found = Customer.where("DisplayName LIKE 'O%'", order_by="DisplayName", qb=qb)
    assert found and all(c.DisplayName.startswith("O") for c in found)


def test_count(qb: QuickBooks) -> None:
    total = Customer.count(qb=qb)
    assert total == len(Customer.all(max_results=1000, qb=qb))
    assert Customer.count("DisplayName = 'O\\'Brien Plumbing'", qb=qb) == 1


def test_paging_with_start_position_and_max_results(qb: QuickBooks) -> None:
    everyone = [c.Id for c in Customer.all(order_by="Id", max_results=1000, qb=qb)]
    first = [c.Id for c in Customer.all(order_by="Id", start_position=1, max_results=5, qb=qb)]
    second = [c.Id for c in Customer.all(order_by="Id", start_position=6, max_results=5, qb=qb)]
    assert first == everyone[:5]
    assert second == everyone[5:10]


def test_item_all_asks_for_a_property_list(qb: QuickBooks) -> None:
    items = Item.all(qb=qb)  # SELECT *, Sku FROM Item
    assert SERVICES in [i.Id for i in items]


def test_select_with_a_property_list(qb: QuickBooks) -> None:
    answer = qb.query(
        "SELECT Id, DisplayName FROM Customer WHERE DisplayName = 'O\\'Brien Plumbing'"
    )
    (row,) = answer["QueryResponse"]["Customer"]
    assert row["DisplayName"] == "O'Brien Plumbing"
    # "The response set always returns all properties for each object. That is, projections are
    # not supported" (Intuit, "Query operations and syntax"; docs/emulator.md, item 3).
    assert row["SyncToken"] and row["MetaData"]


# ---- sales ---------------------------------------------------------------------------------


def test_estimate_then_linked_invoice_then_payment_lowers_the_balance(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Quote To Cash Python")
    estimate = Estimate()
    estimate.CustomerRef = customer.to_ref()
    estimate.Line = [service_line(300, qty=2)]
    estimate = estimate.save(qb=qb)
    assert Decimal(str(estimate.TotalAmt)) == 300

    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [service_line(300, qty=2)]
    invoice.LinkedTxn = [estimate.to_linked_txn()]
    invoice = invoice.save(qb=qb)
    assert Decimal(str(invoice.Balance)) == 300
    linked = Estimate.get(estimate.Id, qb=qb).LinkedTxn
    assert [(t.TxnId, t.TxnType) for t in linked] == [(invoice.Id, "Invoice")]

    pay(qb, customer, invoice, 120)
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 180
    assert Decimal(str(Customer.get(customer.Id, qb=qb).Balance)) == 180


def test_decimal_amounts_round_trip(qb: QuickBooks) -> None:
    """With use_decimal the library reads amounts as Decimal and writes them as JSON strings."""
    qb.use_decimal = True
    customer = new_customer(qb, "Decimal Python")
    line = service_line(1)  # one unit, priced below
    line.Amount = line.SalesItemLineDetail.UnitPrice = Decimal("100.10")
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [line]
    saved = invoice.save(qb=qb)
    assert saved.TotalAmt == Decimal("100.10")
    read = Invoice.get(saved.Id, qb=qb)
    read.PrivateNote = "read back and saved as Decimal"
    assert read.save(qb=qb).Balance == Decimal("100.10")


def test_the_library_default_line_saves(qb: QuickBooks) -> None:
    """SalesItemLineDetail() as the library makes it: Qty 0, UnitPrice 0, with Amount 100."""
    customer = new_customer(qb, "Default Line Co")
    line = SalesItemLine()
    line.Amount = 100
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = SERVICES
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [line]
    saved = invoice.save(qb=qb)
    assert Decimal(str(saved.TotalAmt)) == 100


def test_payment_void_restores_the_invoice_balance(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Void Payment Python")
    invoice = invoice_for(qb, customer, 200)
    payment = pay(qb, customer, invoice, 200)
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 0
    payment.void(qb=qb)  # POST payment?operation=update&include=void, sparse
    voided = Payment.get(payment.Id, qb=qb)
    assert Decimal(str(voided.TotalAmt)) == 0
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 200


def test_payment_delete_restores_the_invoice_balance(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Delete Payment Python")
    invoice = invoice_for(qb, customer, 80)
    payment = pay(qb, customer, invoice, 80)
    answer = payment.delete(qb=qb)
    assert answer["Payment"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        Payment.get(payment.Id, qb=qb)
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 80


def test_sales_receipt_void_zeroes_it(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Sales Receipt Python")
    receipt = SalesReceipt()
    receipt.CustomerRef = customer.to_ref()
    receipt.Line = [service_line(45)]
    receipt = receipt.save(qb=qb)
    assert Decimal(str(receipt.TotalAmt)) == 45
    receipt.void(qb=qb)  # POST salesreceipt?operation=update&include=void, sparse
    voided = SalesReceipt.get(receipt.Id, qb=qb)
    assert Decimal(str(voided.TotalAmt)) == 0
    assert "Voided" in voided.PrivateNote


def test_invoice_void_zeroes_it(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Void Invoice Python")
    invoice = invoice_for(qb, customer, 90)
    invoice.void(qb=qb)  # POST invoice?operation=void
    voided = Invoice.get(invoice.Id, qb=qb)
    assert Decimal(str(voided.TotalAmt)) == 0
    assert Decimal(str(voided.Balance)) == 0
    assert "Voided" in voided.PrivateNote


def test_invoice_delete_removes_it(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Delete Invoice Python")
    invoice = invoice_for(qb, customer, 70)
    answer = invoice.delete(qb=qb)
    assert answer["Invoice"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException) as gone:
        Invoice.get(invoice.Id, qb=qb)
    assert gone.value.error_code == 610


# ---- batch and CDC -------------------------------------------------------------------------


def test_batch_create_update_delete(qb: QuickBooks) -> None:
    people = []
    for n in range(3):
        customer = Customer()
        customer.DisplayName = f"Batch Python {n}"
        people.append(customer)
    created = batch_create(people, qb=qb)
    assert created.faults == []
    assert sorted(c.DisplayName for c in created.successes) == [
        "Batch Python 0",
        "Batch Python 1",
        "Batch Python 2",
    ]

    fetched = [Customer.get(c.Id, qb=qb) for c in created.successes]
    for customer in fetched:
        customer.CompanyName = "Batched Ltd"
    updated = batch_update(fetched, qb=qb)
    assert updated.faults == []
    assert {c.CompanyName for c in updated.successes} == {"Batched Ltd"}
    assert {c.SyncToken for c in updated.successes} == {"1"}

    owner = created.successes[0]
    invoices = [invoice_for(qb, owner, 10 + n) for n in range(2)]
    deleted = batch_delete(invoices, qb=qb)
    assert deleted.faults == []
    for invoice in invoices:
        with pytest.raises(ObjectNotFoundException):
            Invoice.get(invoice.Id, qb=qb)


def test_batch_faults_are_per_item(qb: QuickBooks) -> None:
    taken = Customer()
    taken.DisplayName = "O'Brien Plumbing"  # a demo customer's name: 6240
    fresh = Customer()
    fresh.DisplayName = "Batch Fresh Python"
    answer = batch_create([taken, fresh], qb=qb)
    assert [c.DisplayName for c in answer.successes] == ["Batch Fresh Python"]
    (fault,) = answer.faults
    assert fault.Error[0].code == "6240"
    assert fault.original_object is taken


def test_change_data_capture(qb: QuickBooks) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    customer = new_customer(qb, "CDC Python")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    changes = change_data_capture([Customer, Invoice], stamp, qb=qb)
    assert customer.Id in [c.Id for c in changes.Customer]


def test_change_data_capture_with_a_datetime(qb: QuickBooks) -> None:
    """The library formats a datetime without an offset. Which zone QuickBooks reads it in is a
    documented choice (docs/emulator.md); a day back is in the past in any zone."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    customer = new_customer(qb, "CDC Python Naive")
    changes = change_data_capture([Customer], since, qb=qb)
    assert customer.Id in [c.Id for c in changes.Customer]


# ---- faults as the library reads them ------------------------------------------------------


def test_throttling_is_their_unreadable_429(running: Running, qb: QuickBooks) -> None:
    running.emulator.chaos.throttle(count=1)
    with pytest.raises(QuickbooksException) as throttled:
        Customer.get("1", qb=qb)
    # QuickBooks answers a throttled request with an XML body even when JSON was asked for;
    # python-quickbooks cannot read it as JSON and says so, with its catch-all code 10000.
    assert throttled.value.error_code == 10000
    assert "ThrottleExceeded" in throttled.value.message
    assert Customer.get("1", qb=qb).Id == "1"  # the next request goes through


def test_over_the_request_limit_is_the_same_429(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not injected: the realm's own per-minute budget (3 here, 500 in QuickBooks) runs out."""
    emulator = Emulator(emulator_config(requests_per_window=3))
    with serve(emulator.app) as base_url:
        qb = connect(Loopback(base_url), monkeypatch)
        for _ in range(3):
            Customer.get("1", qb=qb)
        with pytest.raises(QuickbooksException) as throttled:
            Customer.get("1", qb=qb)
    assert throttled.value.error_code == 10000
    assert "ThrottleExceeded" in throttled.value.message


def test_an_unknown_id_is_object_not_found(qb: QuickBooks) -> None:
    with pytest.raises(ObjectNotFoundException) as missing:
        Customer.get("987654", qb=qb)
    assert missing.value.error_code == 610


def test_a_bad_query_is_a_validation_exception(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as bad:
        Customer.where("DisplayName = 'a' OR DisplayName = 'b'", qb=qb)
    assert bad.value.error_code == 4000
    assert bad.value.detail


def test_a_duplicate_name_is_their_6240(qb: QuickBooks) -> None:
    with pytest.raises(QuickbooksException) as duplicate:
        new_customer(qb, "O'Brien Plumbing")
    assert duplicate.value.error_code == 6240
    assert "Duplicate Name Exists Error" in duplicate.value.message


def test_a_revoked_token_is_their_authorization_exception(qb: QuickBooks) -> None:
    qb.auth_client.revoke()
    with pytest.raises(AuthorizationException) as refused:
        Customer.get("1", qb=qb)
    assert refused.value.error_code == 401
