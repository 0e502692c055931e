"""python-quickbooks (PyPI) on the emulator's terms, payment methods, items with income accounts
and reports: its own objects and its own `get_report`, unmodified."""

from __future__ import annotations

from decimal import Decimal

import pytest
from quickbooks import QuickBooks
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item
from quickbooks.objects.paymentmethod import PaymentMethod
from quickbooks.objects.refundreceipt import RefundReceipt
from quickbooks.objects.term import Term

from tests.outside.conftest import Running
from tests.outside.test_python_quickbooks import (
    connect,
    invoice_for,
    new_customer,
    pay,
    service_line,
)


@pytest.fixture
def qb(running: Running, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    return connect(running, monkeypatch)


def test_the_default_terms_and_payment_methods_are_listed(qb: QuickBooks) -> None:
    terms = {t.Name: t.DueDays for t in Term.all(qb=qb)}
    methods = {m.Name: m.Type for m in PaymentMethod.all(qb=qb)}
    assert terms["Net 30"] == 30 and terms["Due on receipt"] == 0
    assert methods["Check"] == "NON_CREDIT_CARD" and methods["Visa"] == "CREDIT_CARD"


def test_an_item_is_created_with_an_income_account(qb: QuickBooks) -> None:
    (income,) = Account.filter(Name="Sales of Product Income", qb=qb)
    item = Item()
    item.Name = "Outside Bird Seed"
    item.Type = "NonInventory"
    item.IncomeAccountRef = Ref()
    item.IncomeAccountRef.value = income.Id
    saved = item.save(qb=qb)
    assert Item.get(saved.Id, qb=qb).IncomeAccountRef.name == "Sales of Product Income"


def test_get_report_aged_receivables_totals_the_open_invoices(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Outside Report Co")
    invoice = invoice_for(qb, customer, 120)
    pay(qb, customer, invoice, 20)
    report = qb.get_report("AgedReceivables", {"customer": customer.Id})
    (row, total) = report["Rows"]["Row"]
    assert row["ColData"][0] == {"id": customer.Id, "value": "Outside Report Co"}
    assert total["group"] == "GrandTotal"
    assert Decimal(total["Summary"]["ColData"][-1]["value"]) == Decimal("100.00")
    balance = qb.get_report("CustomerBalance", {"customer": customer.Id})
    assert balance["Rows"]["Row"][0]["ColData"][1]["value"] == "100.00"


def test_a_credit_memo_is_created_read_and_deleted_with_the_library(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Outside Credit Co")
    invoice_for(qb, customer, 120)
    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.Line = [service_line(30)]
    memo = memo.save(qb=qb)
    read = CreditMemo.get(memo.Id, qb=qb)
    assert Decimal(str(read.TotalAmt)) == Decimal(str(read.RemainingCredit)) == 30
    # The credit is the customer's: their balance is what they owe less what they hold.
    assert Decimal(str(Customer.get(customer.Id, qb=qb).Balance)) == 90
    assert [m.Id for m in CreditMemo.filter(CustomerRef=customer.Id, qb=qb)] == [memo.Id]
    read.delete(qb=qb)
    assert Decimal(str(Customer.get(customer.Id, qb=qb).Balance)) == 120


def test_a_refund_receipt_is_paid_from_a_bank_account_with_the_library(qb: QuickBooks) -> None:
    customer = new_customer(qb, "Outside Refund Co")
    (bank,) = Account.filter(Name="Checking", qb=qb)
    (check,) = PaymentMethod.filter(Name="Check", qb=qb)
    refund = RefundReceipt()
    refund.CustomerRef = customer.to_ref()
    refund.DepositToAccountRef = bank.to_ref()
    refund.PaymentMethodRef = check.to_ref()
    refund.PaymentRefNum = "5001"
    refund.Line = [service_line(45)]
    saved = refund.save(qb=qb)
    read = RefundReceipt.get(saved.Id, qb=qb)
    assert Decimal(str(read.TotalAmt)) == 45 and Decimal(str(read.Balance)) == 0
    assert (read.DepositToAccountRef.name, read.PaymentMethodRef.name) == ("Checking", "Check")
    assert read.PaymentRefNum == "5001"
