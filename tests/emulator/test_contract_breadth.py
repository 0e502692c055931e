"""The emulator's Term, PaymentMethod and SalesReceipt held to real QuickBooks payloads
(`tests/samples/`, sources in its README), by test_contract's rule: same keys, same JSON types."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx2
import pytest

from tests.emulator.test_contract import (
    address_keys,
    assert_answer,
    assert_shape,
    body_of,
    entity_profile,
    first_id,
    load,
    post,
    sales_line,
)

pytestmark = pytest.mark.anyio

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


async def rows(client: httpx2.AsyncClient, base: str, entity: str) -> list[dict[str, object]]:
    answer = body_of(await client.get(f"{base}/query", params={"query": f"select * from {entity}"}))
    return list(answer["QueryResponse"][entity])


@pytest.mark.parametrize("entity", ["Term", "PaymentMethod"])
async def test_default_lists_have_the_samples_shape(
    client: httpx2.AsyncClient, base: str, entity: str
) -> None:
    profile = entity_profile(SAMPLES, entity)
    found = await rows(client, base, entity)
    for row in found:
        assert_shape(profile, row)
    sample = load(SAMPLES, f"{entity.lower()}-query-response.json")["QueryResponse"][entity]
    ours = {str(row["Name"]) for row in found}
    # Every default of a new company in the samples (the sample's extra test terms aside).
    wanted = {
        str(r["Name"]) for r in sample if not str(r["Name"]).startswith(("TermFor", "Net 10"))
    }
    assert wanted <= ours


async def test_a_term_reads_like_the_sample(client: httpx2.AsyncClient, base: str) -> None:
    term_id = await first_id(client, base, "Term", "where Name = 'Net 60'")
    ours = assert_answer(body_of(await client.get(f"{base}/term/{term_id}")), "Term")
    assert_shape(entity_profile(SAMPLES, "Term"), ours)
    assert (ours["Type"], ours["DueDays"]) == ("STANDARD", 60)


async def test_a_date_driven_term_is_created_as_the_reference_says(
    client: httpx2.AsyncClient, base: str
) -> None:
    made = body_of(await post(client, f"{base}/term", {"Name": "EOM", "DayOfMonthDue": 1}))
    assert_shape(entity_profile(SAMPLES, "Term"), made["Term"])
    assert made["Term"]["Type"] == "DATE_DRIVEN"
    refused = await post(client, f"{base}/term", {"Name": "No days"})
    assert refused.status_code == 400 and "2020" in refused.text


async def test_a_sales_receipt_reads_like_the_sample(
    client: httpx2.AsyncClient, base: str, samples_dir: Path
) -> None:
    customer_id = await first_id(client, base, "Customer")
    check = await first_id(client, base, "PaymentMethod", "where Name = 'Check'")
    bank = await first_id(client, base, "Account", "where AccountType = 'Bank'")
    body = {
        "CustomerRef": {"value": customer_id},
        "PaymentMethodRef": {"value": check},
        "DepositToAccountRef": {"value": bank},
        "PaymentRefNum": "10264",
        "Line": [sales_line("337.50")],
    }
    made = assert_answer(body_of(await post(client, f"{base}/salesreceipt", body)), "SalesReceipt")
    profile = entity_profile(SAMPLES, "SalesReceipt")
    # The SalesReceipt reference names BillEmail and LinkedTxn, which the sample company left
    # empty; an address is one type on every entity (test_contract pools their keys too).
    profile.keys[""] |= {"BillEmail", "LinkedTxn"}
    profile.keys[".BillAddr"] |= address_keys(samples_dir)
    for key in address_keys(samples_dir):
        profile.kinds.setdefault(f".BillAddr.{key}", {"string"})
    assert_shape(profile, {k: v for k, v in made.items() if k != "BillEmail"})
    assert made["Balance"] == 0 and made["TotalAmt"] == Decimal("337.50")
    assert made["PaymentMethodRef"]["name"] == "Check"


@pytest.mark.parametrize(
    ("entity", "ref", "value"),
    [
        ("salesreceipt", "PaymentMethodRef", "999"),
        ("salesreceipt", "DepositToAccountRef", "1"),  # an income account, not a bank
        ("invoice", "SalesTermRef", "999"),
    ],
)
async def test_a_reference_to_a_missing_or_wrong_list_entry_is_refused(
    client: httpx2.AsyncClient, base: str, entity: str, ref: str, value: str
) -> None:
    customer_id = await first_id(client, base, "Customer")
    body = {"CustomerRef": {"value": customer_id}, ref: {"value": value}, "Line": [sales_line()]}
    answer = await post(client, f"{base}/{entity}", body)
    assert answer.status_code == 400
    assert body_of_fault_code(answer) in {"2500", "6000"}


async def test_an_invoice_is_due_by_its_customers_terms(
    client: httpx2.AsyncClient, base: str
) -> None:
    net15 = await first_id(client, base, "Term", "where Name = 'Net 15'")
    customer = body_of(
        await post(
            client,
            f"{base}/customer",
            {"DisplayName": "Terms Co", "SalesTermRef": {"value": net15}},
        )
    )["Customer"]
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": "2026-03-01",
        "Line": [sales_line()],
    }
    invoice = body_of(await post(client, f"{base}/invoice", body))["Invoice"]
    assert invoice["DueDate"] == "2026-03-16"
    assert invoice["SalesTermRef"]["value"] == net15


def body_of_fault_code(answer: httpx2.Response) -> str:
    return str(answer.json()["Fault"]["Error"][0]["code"])


async def test_the_item_create_sample_is_accepted_with_its_income_account(
    client: httpx2.AsyncClient, base: str
) -> None:
    request = load(SAMPLES, "item-create-request.json")
    made = assert_answer(body_of(await post(client, f"{base}/item", request)), "Item")
    assert_shape(entity_profile(SAMPLES, "Item"), made)
    assert made["IncomeAccountRef"] == {"value": "1", "name": "Services"}
    bank = await first_id(client, base, "Account", "where AccountType = 'Bank'")
    refused = await post(
        client, f"{base}/item", {**request, "Name": "Other", "IncomeAccountRef": {"value": bank}}
    )
    assert refused.status_code == 400 and body_of_fault_code(refused) == "6000"


def _report_keys(
    value: object, path: str = "", out: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every key a report holds at each path, rows merged (`Rows.Row[]` nests recursively)."""
    out = {} if out is None else out
    if isinstance(value, dict):
        out.setdefault(path, set()).update(value)
        for key, item in value.items():
            # Nested sections repeat the row shape: one path for every level.
            child = "Row" if key == "Row" else f"{path}.{key}"
            _report_keys(item, child, out)
    elif isinstance(value, list):
        for item in value:
            _report_keys(item, path + "[]", out)
    return out


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("AgedReceivables", "report-agedreceivables.json"),
        ("CustomerBalance", "report-customerbalance.json"),
        ("ProfitAndLoss", "report-profitandloss.json"),
    ],
)
async def test_reports_have_the_shape_of_intuits_samples(
    client: httpx2.AsyncClient, base: str, name: str, sample: str
) -> None:
    answer = await client.get(f"{base}/reports/{name}", params={"customer": "1"})
    ours = body_of(answer)
    theirs = load(SAMPLES, sample)
    assert set(ours) == set(theirs) == {"Header", "Columns", "Rows"}  # no top-level "time"
    known, mine = _report_keys(theirs), _report_keys(ours)
    for path, keys in mine.items():
        assert keys <= known.get(path, set()), (path, keys - known.get(path, set()))
    assert [c["ColType"] for c in ours["Columns"]["Column"]] == [
        c["ColType"] for c in theirs["Columns"]["Column"]
    ]
    assert [c["ColTitle"] for c in ours["Columns"]["Column"]] == [
        c["ColTitle"] for c in theirs["Columns"]["Column"]
    ]
    last = ours["Rows"]["Row"][-1]
    if name != "ProfitAndLoss":
        assert (last["group"], last["type"], last["Summary"]["ColData"][0]["value"]) == (
            "GrandTotal",
            "Section",
            "TOTAL",
        )
    else:
        groups = [row.get("group") for row in ours["Rows"]["Row"]]
        assert groups == [row.get("group") for row in theirs["Rows"]["Row"]]
    for row in ours["Rows"]["Row"]:
        for cell in row.get("ColData", []):
            assert isinstance(cell["value"], str)


async def test_an_unknown_report_or_a_bad_date_is_a_fault(
    client: httpx2.AsyncClient, base: str
) -> None:
    unknown = await client.get(f"{base}/reports/NoSuchReport")
    bad_date = await client.get(f"{base}/reports/AgedReceivables", params={"report_date": "soon"})
    assert unknown.status_code == 400 and body_of_fault_code(unknown) == "500"
    assert bad_date.status_code == 400 and "report_date" in bad_date.text


async def test_the_credit_memo_sample_is_accepted_and_answered_in_its_shape(
    client: httpx2.AsyncClient, base: str, samples_dir: Path
) -> None:
    customer = await first_id(client, base, "Customer", "where DisplayName = 'Cool Cars'")
    item = await first_id(client, base, "Item")
    request = load(SAMPLES, "creditmemo-create-request.json")
    request["CustomerRef"] = {"value": customer}
    request["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": item}
    before = body_of(await client.get(f"{base}/customer/{customer}"))["Customer"]["Balance"]
    made = assert_answer(body_of(await post(client, f"{base}/creditmemo", request)), "CreditMemo")
    profile = entity_profile(SAMPLES, "CreditMemo")
    profile.keys[""] |= {"BillEmail", "LinkedTxn"}  # in the reference, empty in the sample
    profile.keys[".BillAddr"] |= address_keys(samples_dir)
    profile.keys[".ShipAddr"] |= address_keys(samples_dir)
    for key in address_keys(samples_dir):
        profile.kinds.setdefault(f".BillAddr.{key}", {"string"})
    assert_shape(profile, {k: v for k, v in made.items() if k != "BillEmail"})
    assert made["TotalAmt"] == made["Balance"] == made["RemainingCredit"] == 50
    after = body_of(await client.get(f"{base}/customer/{customer}"))["Customer"]["Balance"]
    assert Decimal(str(after)) == Decimal(str(before)) - 50  # the credit is the customer's
    deleted = await post(
        client, f"{base}/creditmemo?operation=delete", {"Id": made["Id"], "SyncToken": "0"}
    )
    assert body_of(deleted)["CreditMemo"]["status"] == "Deleted"
    back = body_of(await client.get(f"{base}/customer/{customer}"))["Customer"]["Balance"]
    assert Decimal(str(back)) == Decimal(str(before))


async def test_the_refund_receipt_sample_is_accepted_and_answered_in_its_shape(
    client: httpx2.AsyncClient, base: str, samples_dir: Path
) -> None:
    bank = await first_id(client, base, "Account", "where Name = 'Checking'")
    item = await first_id(client, base, "Item")
    request = load(SAMPLES, "refundreceipt-create-request.json")
    request["DepositToAccountRef"] = {"value": bank}
    request["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": item}
    made = assert_answer(
        body_of(await post(client, f"{base}/refundreceipt", request)), "RefundReceipt"
    )
    profile = entity_profile(SAMPLES, "RefundReceipt")
    profile.keys[""] |= {"LinkedTxn"}  # the reference's, empty in the samples
    assert_shape(profile, made)
    # From a bank account with no reference: a check to print, as the reference's answer shows.
    assert (made["PrintStatus"], made["PaymentRefNum"]) == ("NeedToPrint", "To Print")
    assert made["Balance"] == 0 and made["TotalAmt"] == 420
    customer = await first_id(client, base, "Customer")
    check = await first_id(client, base, "PaymentMethod", "where Name = 'Check'")
    paid = assert_answer(
        body_of(
            await post(
                client,
                f"{base}/refundreceipt",
                {
                    **request,
                    "CustomerRef": {"value": customer},
                    "PaymentMethodRef": {"value": check},
                    "PaymentRefNum": "10264",
                },
            )
        ),
        "RefundReceipt",
    )
    assert paid["PaymentMethodRef"]["name"] == "Check" and paid["PaymentRefNum"] == "10264"
    assert paid["PrintStatus"] == "NotSet"
    to_print = body_of(
        await post(
            client,
            f"{base}/refundreceipt",
            {**request, "PrintStatus": "NeedToPrint", "PaymentRefNum": "77"},
        )
    )["RefundReceipt"]
    assert to_print["PaymentRefNum"] == "To Print"  # NeedToPrint decides (the reference)
    found = body_of(
        await client.get(
            f"{base}/query",
            params={"query": f"select * from RefundReceipt where CustomerRef = '{customer}'"},
        )
    )
    assert [r["Id"] for r in found["QueryResponse"]["RefundReceipt"]] == [paid["Id"]]


async def test_a_refund_receipt_needs_the_account_the_money_left(
    client: httpx2.AsyncClient, base: str
) -> None:
    request = load(SAMPLES, "refundreceipt-create-request.json")
    request["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "1"}
    del request["DepositToAccountRef"]
    refused = await post(client, f"{base}/refundreceipt", request)
    assert refused.status_code == 400 and body_of_fault_code(refused) == "2020"
    income = await post(
        client, f"{base}/refundreceipt", {**request, "DepositToAccountRef": {"value": "1"}}
    )
    assert income.status_code == 400
