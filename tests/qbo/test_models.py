"""Every entity in the real samples parses into its model and comes back unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.models import (
    ENTITY_NAMES,
    CompanyInfo,
    Customer,
    Estimate,
    Invoice,
    Item,
    Line,
    LinkedTxn,
    Payment,
    Ref,
    SalesItemLineDetail,
    entity_model,
)
from tests.conftest import SAMPLES


def load(path: Path) -> Any:
    return json.loads(path.read_text(), parse_float=Decimal)


def entities_in(value: Any, where: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(entity name, location, object) for every entity object nested anywhere in a payload."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else key
            if key in ENTITY_NAMES:
                objects = item if isinstance(item, list) else [item]
                for index, obj in enumerate(objects):
                    assert isinstance(obj, dict), here
                    yield key, f"{here}[{index}]", obj
            else:
                yield from entities_in(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from entities_in(item, f"{where}[{index}]")


def sample_entities() -> list[Any]:
    found = []
    for path in sorted(SAMPLES.glob("*.json")):
        if path.name.startswith("report-"):
            continue  # a report's Header.Customer is an id, not a Customer object
        for name, where, obj in entities_in(load(path)):
            found.append(pytest.param(name, obj, id=f"{path.name}:{where}"))
    return found


ALL = sample_entities()


def test_the_samples_hold_the_transaction_and_customer_entities() -> None:
    # The samples have no Item or CompanyInfo; those are tested below with Intuit's reference shape.
    names = {p.values[0] for p in ALL}
    assert {"Customer", "Estimate", "Invoice", "Payment"} <= names
    assert len(ALL) >= 20


def assert_same_wire(actual: Any, expected: Any, where: str = "") -> None:
    """Equal as JSON, with numbers compared by value (Decimal("275.0") == 275)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), where
        for key in expected:
            assert_same_wire(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_wire(a, e, f"{where}[{index}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected and type(actual) is type(expected), where
    else:
        assert isinstance(actual, Decimal | int) and not isinstance(actual, bool), where
        assert Decimal(actual) == Decimal(expected), where


@pytest.mark.parametrize(("name", "obj"), ALL)
def test_sample_entity_round_trips(name: str, obj: dict[str, Any]) -> None:
    model = entity_model(name).from_wire(obj)
    assert type(model).entity_name == name
    assert_same_wire(model.to_wire(), obj)


@pytest.mark.parametrize(("name", "obj"), ALL)
def test_sample_entity_ids_are_strings_and_money_is_decimal(name: str, obj: dict[str, Any]) -> None:
    model = entity_model(name).from_wire(obj)
    assert model.id == obj.get("Id")
    for field in ("total_amt", "balance", "unapplied_amt", "balance_with_jobs", "unit_price"):
        value = getattr(model, field, None)
        assert value is None or type(value) is Decimal, field
    for line in getattr(model, "line", None) or []:
        assert line.amount is None or type(line.amount) is Decimal
        detail = line.sales_item_line_detail
        if detail is not None:
            assert detail.qty is None or type(detail.qty) is Decimal
            assert detail.unit_price is None or type(detail.unit_price) is Decimal


def test_invoice_fields_are_typed(samples_dir: Path) -> None:
    invoice = Invoice.from_wire(load(samples_dir / "invoice-read-response.json")["Invoice"])
    assert invoice.id == "130"
    assert invoice.sync_token == "0"
    assert invoice.total_amt == Decimal("362.07")
    assert invoice.balance == Decimal("362.07")
    assert invoice.customer_ref == Ref(value="24", name="Sonnenschein Family Store")
    assert invoice.linked_txn == [LinkedTxn(txn_id="100", txn_type="Estimate")]
    assert invoice.txn_date == "2014-09-19"
    assert invoice.meta_data is not None
    assert invoice.meta_data.create_time == "2014-09-19T13:16:17-07:00"
    assert invoice.line is not None
    first = invoice.line[0].sales_item_line_detail
    assert first is not None and first.unit_price == Decimal("275") and first.qty == 1
    assert invoice.line[3].detail_type == "SubTotalLineDetail"
    assert invoice.line[3].sub_total_line_detail is not None


def test_customer_money_and_unknown_fields(samples_dir: Path) -> None:
    customer = Customer.from_wire(load(samples_dir / "customer-read-response.json")["Customer"])
    assert customer.balance_with_jobs == Decimal("85.0")
    assert customer.primary_phone is not None
    assert customer.primary_phone.free_form_number == "(415) 444-6538"
    assert customer.bill_addr is not None and customer.bill_addr.city == "Half Moon Bay"


def test_unknown_fields_are_kept_and_written_back() -> None:
    data = {"Id": "1", "DisplayName": "A", "SomethingNew": {"Nested": [1, "x"]}, "zz": True}
    customer = Customer.from_wire(data)
    assert customer.to_wire() == data


def test_payment_unapplied_and_ar_account(samples_dir: Path) -> None:
    payment = Payment.from_wire(
        {"TotalAmt": Decimal("25"), "UnappliedAmt": 0, "ARAccountRef": {"value": "84"}}
    )
    assert payment.unapplied_amt == Decimal("0")
    assert payment.ar_account_ref == Ref(value="84")
    assert payment.to_wire()["ARAccountRef"] == {"value": "84"}


def test_model_built_in_code_writes_only_what_it_names() -> None:
    invoice = Invoice(
        customer_ref=Ref(value="1"),
        line=[
            Line(
                amount=Decimal("100.00"),
                detail_type="SalesItemLineDetail",
                sales_item_line_detail=SalesItemLineDetail(
                    item_ref=Ref(value="1"), qty=Decimal("2"), unit_price=Decimal("50")
                ),
            )
        ],
    )
    assert invoice.to_wire() == {
        "CustomerRef": {"value": "1"},
        "Line": [
            {
                "Amount": Decimal("100.00"),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "1"},
                    "Qty": Decimal("2"),
                    "UnitPrice": Decimal("50"),
                },
            }
        ],
    }


def test_sparse_update_body_round_trips(samples_dir: Path) -> None:
    body = load(samples_dir / "customer-sparse-update-request.json")
    assert Customer.from_wire(body).to_wire() == body
    assert Customer.from_wire(body).sparse is True


def test_item_reference_sample_round_trips() -> None:
    # The Item sample object of Intuit's API reference (all-entities/item).
    data = json.loads(
        """{"FullyQualifiedName": "Rock Fountain", "domain": "QBO", "Id": "5",
        "Name": "Rock Fountain", "TrackQtyOnHand": true, "Type": "Inventory", "PurchaseCost": 125,
        "QtyOnHand": 2, "IncomeAccountRef": {"name": "Sales of Product Income", "value": "79"},
        "AssetAccountRef": {"name": "Inventory Asset", "value": "81"}, "Taxable": true,
        "MetaData": {"CreateTime": "2014-09-16T10:42:19-07:00",
        "LastUpdatedTime": "2014-09-19T13:16:17-07:00"}, "sparse": false, "Active": true,
        "SyncToken": "2", "InvStartDate": "2014-09-19", "UnitPrice": 275.50,
        "ExpenseAccountRef": {"name": "Cost of Goods Sold", "value": "80"},
        "PurchaseDesc": "Rock Fountain", "Description": "Rock Fountain"}""",
        parse_float=Decimal,
    )
    item = Item.from_wire(data)
    assert item.unit_price == Decimal("275.50") and type(item.qty_on_hand) is Decimal
    assert item.type == "Inventory"
    assert_same_wire(item.to_wire(), data)


def test_company_info_parses() -> None:
    data = {
        "CompanyName": "Larry's Bakery",
        "LegalName": "Larry's Bakery",
        "CompanyAddr": {"City": "Mountain View", "Line1": "123 Main St", "Id": "1"},
        "Country": "US",
        "Email": {"Address": "donotreply@intuit.com"},
        "Id": "1",
        "SyncToken": "4",
        "NameValue": [{"Name": "NeoEnabled", "Value": "true"}],
    }
    info = CompanyInfo.from_wire(data)
    assert info.company_name == "Larry's Bakery"
    assert info.company_addr is not None and info.company_addr.city == "Mountain View"
    assert info.to_wire() == data


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"TotalAmt": 25.5}, "TotalAmt is a float"),
        ({"Line": [{"Amount": 0.1}]}, "Line[0].Amount is a float"),
        ({"TxnTaxDetail": {"TotalTax": 1.5}}, "TxnTaxDetail.TotalTax is a float"),
        ({"TotalAmt": "lots"}, "TotalAmt"),
        ({"TotalAmt": "NaN"}, "TotalAmt"),
        ({"TotalAmt": True}, "TotalAmt"),
        ({"Id": 5}, "Id"),
        ({"CustomerRef": {"name": "no value"}}, "CustomerRef.value"),
        ({"Line": "not a list"}, "Line"),
    ],
)
def test_bad_data_is_a_clear_invalid_argument(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidArgumentError, match="Invoice") as info:
        Invoice.from_wire(data)
    assert fragment in str(info.value)


def test_from_wire_refuses_non_objects() -> None:
    with pytest.raises(InvalidArgumentError, match="JSON object"):
        Customer.from_wire(["Id", "1"])  # type: ignore[arg-type]


def test_entity_model_lookup() -> None:
    assert entity_model("invoice") is Invoice
    assert entity_model("Item") is Item
    assert entity_model("ESTIMATE") is Estimate
    with pytest.raises(InvalidArgumentError, match="unknown QuickBooks entity 'Vendor'"):
        entity_model("Vendor")
