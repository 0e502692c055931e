"""The emulator held to real QuickBooks payloads (`tests/samples/`, with their sources).

For each sample answer, the emulator's answer to the equivalent request must have the same keys
and value types; each sample request must be accepted; each sample fault must be matched by our
fault for the same situation in shape. Values may differ.

The rule for "same keys and types" (real samples carry whatever data their company had, so a
literal key-for-key match would test Intuit's demo data, not our shape):

1. Every sample answer object of an entity (read, create, update, void and query answers alike)
   is merged into one profile per path: the keys seen there, the keys seen in *every* answer
   there, and the JSON types each key had. List items are one path (`Line[]`). Sample *requests*
   add keys and types only (a request shows a real field name, not what an answer must hold).
2. Every key we emit must be one some sample has at that path, or a field QBO_API.md names for
   the entity (DOCUMENTED): we invent no fields. Its JSON type must be one the samples had there
   (number is number: 100, 100.0 and 100.00 alike).
   BillAddr and ShipAddr are one type everywhere, so their keys are pooled across entities.
3. Every key present in all sample answers at a path must be in ours too, except the keys listed
   in DATA_KEYS: optional fields a sample has only because its company filled them in
   (addresses, phone, e-mail, notes, custom fields, project, ...), which we emit only when set.

Values are never compared, so Intuit's Java-enum sample values (invoice-void-response, see the
samples' README) are not copied; instead `test_enum_values_are_the_wire_names` checks ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig
from qb_mcp.emulator.webhooks import sign
from tests.emulator.conftest import FakeClock, in_process_client

pytestmark = pytest.mark.anyio

# Optional fields: present in the samples only because Intuit's demo company filled them in.
DATA_KEYS = frozenset(
    {
        "PrimaryEmailAddr",
        "PrimaryPhone",
        "Mobile",
        "Fax",
        "WebAddr",
        "BillAddr",
        "ShipAddr",
        "Notes",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "Title",
        "Suffix",
        "CompanyName",
        "DefaultTaxCodeRef",
        "CustomField",
        "ProjectRef",
        "BillEmail",
        "CustomerMemo",
        "PrivateNote",
        "Description",
        "TaxCodeRef",
        "Qty",
        "UnitPrice",
        "LineNum",
        "Id",  # a SubTotalLine carries no Id; sales lines do
        "ExpirationDate",
        "AcceptedBy",
        "AcceptedDate",
        "DocNumber",
        "PaymentRefNum",
        "DepositToAccountRef",
        "PaymentMethodRef",
        "ARAccountRef",
        "ProcessPayment",
        "CurrencyRef",
        "ExchangeRate",
        "TxnSource",
        "LineEx",
        "DueDate",
        "ShipDate",
        "TrackingNum",
        "DeliveryInfo",
        "SalesTermRef",
        "ClassRef",
        "DepartmentRef",
        "Lat",
        "Long",
        "Line2",
        "Line3",
        "Country",
        "name",  # a Ref's display name
        "AllowIPNPayment",
        "AllowOnlinePayment",
        "AllowOnlineCreditCardPayment",
        "AllowOnlineACHPayment",
        "LinkedTxn",
        "TxnStatus",
        "Taxable",
        "PreferredDeliveryMethod",
        "BalanceWithJobs",
        "Balance",  # answers to deletes and some stubs carry no Balance
        "UnappliedAmt",
        "TotalTax",
    }
)


# Fields QBO_API.md section 5 names for an entity that no sample answer happens to carry.
DOCUMENTED: dict[str, dict[str, set[str]]] = {
    "Estimate": {"": {"ExpirationDate", "LinkedTxn", "TxnStatus", "AcceptedBy", "AcceptedDate"}},
    "Invoice": {"": {"LinkedTxn"}},
    "Payment": {"": {"UnappliedAmt", "PaymentRefNum"}},
}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(type(value))


@dataclass
class Profile:
    """What the samples of one entity hold at each path."""

    keys: dict[str, set[str]] = field(default_factory=dict)  # path -> keys seen anywhere
    always: dict[str, set[str]] = field(default_factory=dict)  # path -> keys seen every time
    kinds: dict[str, set[str]] = field(default_factory=dict)  # "path.key" -> JSON types

    def add(self, sample: Any, path: str = "", *, answer: bool = True) -> None:
        if isinstance(sample, dict):
            self.keys.setdefault(path, set()).update(sample)
            if answer:
                seen = self.always.get(path)
                self.always[path] = set(sample) if seen is None else seen & set(sample)
            for key, value in sample.items():
                self.kinds.setdefault(f"{path}.{key}", set()).add(kind(value))
                self.add(value, f"{path}.{key}", answer=answer)
        elif isinstance(sample, list):
            for item in sample:
                self.kinds.setdefault(f"{path}[]", set()).add(kind(item))
                self.add(item, f"{path}[]", answer=answer)

    def problems(self, ours: Any, path: str = "") -> Iterator[str]:
        """Where `ours` breaks the rule in the module docstring (nothing: same shape)."""
        if isinstance(ours, dict):
            known = self.keys.get(path)
            if known is None:
                yield f"{path or '<top>'}: an object where no sample has one"
                return
            for key in sorted(set(ours) - known):
                yield f"{path}.{key}: a key no sample has"
            for key in sorted(self.always.get(path, set()) - set(ours) - DATA_KEYS):
                yield f"{path}.{key}: missing (every sample has it)"
            for key, value in ours.items():
                kinds = self.kinds.get(f"{path}.{key}")
                if key not in known or kinds is None:
                    continue  # unknown keys are reported above; documented ones have no type
                if kind(value) not in kinds:
                    yield f"{path}.{key}: {kind(value)} where the samples have {sorted(kinds)}"
                    continue
                yield from self.problems(value, f"{path}.{key}")
        elif isinstance(ours, list):
            for item in ours:
                kinds = self.kinds.get(f"{path}[]")
                if kinds is None:
                    # An empty list in every sample: only the item type cannot be checked.
                    continue
                if kind(item) not in kinds:
                    yield f"{path}[]: {kind(item)} where the samples have {sorted(kinds)}"
                    continue
                yield from self.problems(item, f"{path}[]")


def load(samples_dir: Path, name: str) -> Any:
    return json.loads((samples_dir / name).read_text(), parse_float=Decimal)


def entity_profile(samples_dir: Path, entity: str) -> Profile:
    """Every sample object of `entity`, from every answer that holds one."""
    profile = Profile()
    for path in sorted(samples_dir.glob("*-response*.json")):
        body = load(samples_dir, path.name)
        if entity in body and body[entity].get("status") != "Deleted":
            profile.add(body[entity])
        query = body.get("QueryResponse")
        for row in query.get(entity, []) if isinstance(query, dict) else []:
            profile.add(row)
    assert profile.keys, f"no sample holds a {entity}"
    for path in sorted(samples_dir.glob(f"{entity.lower()}-*-request*.json")):
        profile.add(load(samples_dir, path.name), answer=False)
    for path, keys in DOCUMENTED.get(entity, {}).items():
        profile.keys.setdefault(path, set()).update(keys)
    # BillAddr and ShipAddr are one type (PhysicalAddress) on every entity: pool their keys.
    addresses = address_keys(samples_dir)
    for path in profile.keys:
        if path.endswith((".BillAddr", ".ShipAddr")):
            profile.keys[path] |= addresses
            for key in addresses:
                profile.kinds.setdefault(f"{path}.{key}", {"string"})
    return profile


def address_keys(samples_dir: Path) -> set[str]:
    """Every key any sample's BillAddr or ShipAddr has."""
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("BillAddr", "ShipAddr") and isinstance(item, dict):
                    keys.update(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in samples_dir.glob("*.json"):
        walk(load(samples_dir, path.name))
    return keys


def assert_shape(profile: Profile, ours: Any) -> None:
    problems = list(profile.problems(ours))
    assert not problems, "\n".join(problems)


def body_of(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
    return body


def assert_answer(body: dict[str, Any], entity: str) -> dict[str, Any]:
    """A single-entity answer: `{Entity: {...}, "time": ...}` and nothing else."""
    assert set(body) == {entity, "time"}
    assert isinstance(body["time"], str)
    result: dict[str, Any] = body[entity]
    return result


@pytest.fixture
def samples(samples_dir: Path) -> Path:
    return samples_dir


# ---- helpers that make the equivalent request in our company --------------------------------


async def first_id(client: httpx2.AsyncClient, base: str, entity: str, where: str = "") -> str:
    query = f"select * from {entity} {where} maxresults 1"
    rows = body_of(await client.get(f"{base}/query", params={"query": query}))["QueryResponse"]
    assert rows.get(entity), f"the demo company has no {entity} {where}"
    return str(rows[entity][0]["Id"])


async def new_customer(client: httpx2.AsyncClient, base: str, name: str) -> dict[str, Any]:
    body = body_of(await client.post(f"{base}/customer", json={"DisplayName": name}))
    return dict(body["Customer"])


def sales_line(amount: str = "100.00") -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal(amount),
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": Decimal(amount)},
    }


def jsonable(value: dict[str, Any]) -> bytes:
    return json.dumps(value, default=str).encode()


async def post(client: httpx2.AsyncClient, url: str, body: dict[str, Any]) -> httpx2.Response:
    # Decimals go out as JSON numbers, as any QBO client sends them.
    text = json.dumps(body, default=lambda d: float(d) if isinstance(d, Decimal) else str(d))
    return await client.post(url, content=text, headers={"Content-Type": "application/json"})


async def new_invoice(
    client: httpx2.AsyncClient, base: str, customer_id: str, amount: str = "100.00"
) -> dict[str, Any]:
    body = {"CustomerRef": {"value": customer_id}, "Line": [sales_line(amount)]}
    return dict(body_of(await post(client, f"{base}/invoice", body))["Invoice"])


async def new_payment(
    client: httpx2.AsyncClient, base: str, customer_id: str, invoice_id: str, amount: str
) -> dict[str, Any]:
    body = {
        "TotalAmt": Decimal(amount),
        "CustomerRef": {"value": customer_id},
        "Line": [
            {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}
        ],
    }
    return dict(body_of(await post(client, f"{base}/payment", body))["Payment"])


# ---- Customer ---------------------------------------------------------------------------------


async def test_customer_read(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    customer_id = await first_id(client, base, "Customer")
    ours = assert_answer(body_of(await client.get(f"{base}/customer/{customer_id}")), "Customer")
    assert_shape(entity_profile(samples, "Customer"), ours)


async def test_customer_create_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    request = load(samples, "customer-create-request.json")
    ours = assert_answer(body_of(await post(client, f"{base}/customer", request)), "Customer")
    assert_shape(entity_profile(samples, "Customer"), ours)
    # The sample sets these; a faithful create keeps them.
    for key in ("PrimaryEmailAddr", "PrimaryPhone", "BillAddr", "GivenName", "FamilyName"):
        assert key in ours, key


async def test_customer_sparse_update_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    created = await new_customer(client, base, "Sparse Sample Co")
    request = {**load(samples, "customer-sparse-update-request.json"), "Id": created["Id"]}
    ours = assert_answer(body_of(await post(client, f"{base}/customer", request)), "Customer")
    assert ours["SyncToken"] == "1"
    assert ours["MiddleName"] == "Mark"
    assert_shape(entity_profile(samples, "Customer"), ours)


# ---- Estimate ---------------------------------------------------------------------------------


async def estimate_request(client: httpx2.AsyncClient, base: str, samples: Path) -> dict[str, Any]:
    """The sample create request, pointed at a customer and an item of our company."""
    request = load(samples, "estimate-create-request.json")
    request["CustomerRef"] = {"value": await first_id(client, base, "Customer")}
    request["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "1"}
    request["Line"][0]["SalesItemLineDetail"].pop("TaxCodeRef")  # no tax codes in the emulator
    return dict(request)


async def test_estimate_read(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    estimate_id = await first_id(client, base, "Estimate")
    ours = assert_answer(body_of(await client.get(f"{base}/estimate/{estimate_id}")), "Estimate")
    assert_shape(entity_profile(samples, "Estimate"), ours)


async def test_estimate_create_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    request = await estimate_request(client, base, samples)
    ours = assert_answer(body_of(await post(client, f"{base}/estimate", request)), "Estimate")
    assert ours["TotalAmt"] == Decimal("35")  # TotalAmt in a request is read-only: recomputed
    assert_shape(entity_profile(samples, "Estimate"), ours)


async def test_estimate_accept_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    request = await estimate_request(client, base, samples)
    created = assert_answer(body_of(await post(client, f"{base}/estimate", request)), "Estimate")
    accept = {
        **load(samples, "estimate-sparse-update-accept-request.json"),
        "Id": created["Id"],
        "SyncToken": created["SyncToken"],
    }
    ours = assert_answer(body_of(await post(client, f"{base}/estimate", accept)), "Estimate")
    assert ours["TxnStatus"] == "Accepted"
    assert_shape(entity_profile(samples, "Estimate"), ours)


async def test_estimate_delete_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    request = await estimate_request(client, base, samples)
    created = assert_answer(body_of(await post(client, f"{base}/estimate", request)), "Estimate")
    delete = {**load(samples, "estimate-delete-request.json")}
    delete.update(Id=created["Id"], SyncToken=created["SyncToken"])
    ours = body_of(await post(client, f"{base}/estimate?operation=delete", delete))
    sample = load(samples, "estimate-delete-response.json")
    assert_same_stub(ours, sample, "Estimate")


def assert_same_stub(ours: dict[str, Any], sample: dict[str, Any], entity: str) -> None:
    assert set(ours) == set(sample)
    assert set(ours[entity]) == set(sample[entity])
    assert ours[entity]["status"] == "Deleted"
    assert {k: kind(v) for k, v in ours[entity].items()} == {
        k: kind(v) for k, v in sample[entity].items()
    }


# ---- Invoice ----------------------------------------------------------------------------------


async def test_invoice_read(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    invoice_id = await first_id(client, base, "Invoice")
    ours = assert_answer(body_of(await client.get(f"{base}/invoice/{invoice_id}")), "Invoice")
    assert_shape(entity_profile(samples, "Invoice"), ours)


async def test_invoice_create_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    request = load(samples, "invoice-create-request.json")
    request["CustomerRef"] = {"value": await first_id(client, base, "Customer")}
    ours = assert_answer(body_of(await post(client, f"{base}/invoice", request)), "Invoice")
    assert_shape(entity_profile(samples, "Invoice"), ours)
    assert [line["DetailType"] for line in ours["Line"]] == [
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert ours["Balance"] == ours["TotalAmt"] == Decimal("100")


async def test_invoice_delete_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    customer = await new_customer(client, base, "Invoice Delete Co")
    created = await new_invoice(client, base, customer["Id"])
    delete = {"Id": created["Id"], "SyncToken": created["SyncToken"]}
    ours = body_of(await post(client, f"{base}/invoice?operation=delete", delete))
    assert_same_stub(ours, load(samples, "invoice-delete-response.json"), "Invoice")


async def test_invoice_void_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    customer = await new_customer(client, base, "Invoice Void Co")
    created = await new_invoice(client, base, customer["Id"])
    void = {"Id": created["Id"], "SyncToken": created["SyncToken"]}
    ours = assert_answer(
        body_of(await post(client, f"{base}/invoice?operation=void", void)), "Invoice"
    )
    assert ours["TotalAmt"] == ours["Balance"] == 0
    assert "Voided" in ours["PrivateNote"]
    assert_shape(entity_profile(samples, "Invoice"), ours)


async def test_enum_values_are_the_wire_names(client: httpx2.AsyncClient, base: str) -> None:
    customer = await new_customer(client, base, "Enum Co")
    invoice = await new_invoice(client, base, customer["Id"])
    for value in (invoice.get("PrintStatus"), invoice.get("EmailStatus")):
        assert value is None or not re.fullmatch(r"[A-Z_]+", value), value
    assert invoice["Line"][0]["DetailType"] == "SalesItemLineDetail"


# ---- Payment ----------------------------------------------------------------------------------


async def test_payment_read(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    payment_id = await first_id(client, base, "Payment")
    ours = assert_answer(body_of(await client.get(f"{base}/payment/{payment_id}")), "Payment")
    assert_shape(entity_profile(samples, "Payment"), ours)


async def test_payment_create_samples_are_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    customer = await new_customer(client, base, "Payment Sample Co")
    invoice = await new_invoice(client, base, customer["Id"], "25.00")
    linked = load(samples, "payment-create-request-linked.json")
    linked["CustomerRef"] = {"value": customer["Id"]}
    linked["Line"][0]["LinkedTxn"][0]["TxnId"] = invoice["Id"]
    unapplied = load(samples, "payment-create-request-unapplied.json")
    unapplied["CustomerRef"] = {"value": customer["Id"]}
    profile = entity_profile(samples, "Payment")
    for request in (linked, unapplied):
        ours = assert_answer(body_of(await post(client, f"{base}/payment", request)), "Payment")
        assert_shape(profile, ours)
    assert ours["UnappliedAmt"] == Decimal("100")


async def test_payment_delete_and_void_samples(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    customer = await new_customer(client, base, "Payment Delete Co")
    invoice = await new_invoice(client, base, customer["Id"], "50.00")
    first = await new_payment(client, base, customer["Id"], invoice["Id"], "20.00")
    second = await new_payment(client, base, customer["Id"], invoice["Id"], "30.00")
    deleted = body_of(
        await post(
            client,
            f"{base}/payment?operation=delete",
            {"Id": first["Id"], "SyncToken": first["SyncToken"]},
        )
    )
    assert_same_stub(deleted, load(samples, "payment-delete-response.json"), "Payment")
    voided = assert_answer(
        body_of(
            await post(
                client,
                f"{base}/payment?operation=update&include=void",
                {"Id": second["Id"], "SyncToken": second["SyncToken"], "sparse": True},
            )
        ),
        "Payment",
    )
    assert voided["TotalAmt"] == 0
    assert_shape(entity_profile(samples, "Payment"), voided)


# ---- query, CDC, batch ------------------------------------------------------------------------

QUERY_RESPONSE_KEYS = {"startPosition", "maxResults", "totalCount"}


def assert_query_response(ours: dict[str, Any], sample: dict[str, Any], entity: str) -> None:
    assert set(ours) == {"QueryResponse", "time"}
    ours_qr, sample_qr = ours["QueryResponse"], sample["QueryResponse"]
    assert set(ours_qr) <= QUERY_RESPONSE_KEYS | {entity}
    assert {entity, "startPosition", "maxResults"} <= set(ours_qr)
    assert set(sample_qr) - {"totalCount"} <= set(ours_qr)
    for key in ("startPosition", "maxResults"):
        assert isinstance(ours_qr[key], int)
    assert ours_qr["maxResults"] == len(ours_qr[entity])  # QBO: the number of rows returned


async def test_customer_query_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    query = "select * from Customer Where Metadata.LastUpdatedTime > '2015-03-01'"
    ours = body_of(await client.get(f"{base}/query", params={"query": query}))
    assert_query_response(ours, load(samples, "query-response-customer.json"), "Customer")
    profile = entity_profile(samples, "Customer")
    for row in ours["QueryResponse"]["Customer"]:
        assert_shape(profile, row)


async def test_invoice_query_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    invoice_id = await first_id(client, base, "Invoice")
    query = f"select * from Invoice where id = '{invoice_id}'"
    ours = body_of(await client.get(f"{base}/query", params={"query": query}))
    assert_query_response(ours, load(samples, "query-response-invoice.json"), "Invoice")
    assert_shape(entity_profile(samples, "Invoice"), ours["QueryResponse"]["Invoice"][0])


async def test_count_query_sample(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    # The sample counts Accounts, which the emulator does not hold; the answer's shape is the same.
    ours = body_of(await client.get(f"{base}/query", params={"query": "select count(*) from Item"}))
    sample = load(samples, "query-response-count.json")
    assert set(ours) == set(sample)
    assert set(ours["QueryResponse"]) == set(sample["QueryResponse"]) == {"totalCount"}
    assert isinstance(ours["QueryResponse"]["totalCount"], int)


async def test_cdc_sample(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    request = await estimate_request(client, base, samples)
    created = assert_answer(body_of(await post(client, f"{base}/estimate", request)), "Estimate")
    await post(
        client,
        f"{base}/estimate?operation=delete",
        {"Id": created["Id"], "SyncToken": created["SyncToken"]},
    )
    await new_customer(client, base, "CDC Sample Co")
    since = emulator.now().isoformat()
    ours = body_of(
        await client.get(
            f"{base}/cdc", params={"entities": "Customer,Estimate", "changedSince": since}
        )
    )
    sample = load(samples, "cdc-response.json")
    assert set(ours) == set(sample)
    assert len(ours["CDCResponse"]) == 1
    assert set(ours["CDCResponse"][0]) == {"QueryResponse"}
    groups = ours["CDCResponse"][0]["QueryResponse"]
    stub_keys = set(sample["CDCResponse"][0]["QueryResponse"][1]["Estimate"][2])
    found: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        assert set(group) <= QUERY_RESPONSE_KEYS | {"Customer", "Estimate"}
        for entity in ("Customer", "Estimate"):
            found.setdefault(entity, []).extend(group.get(entity, []))
    stubs = [row for row in found["Estimate"] if row.get("status") == "Deleted"]
    assert [stub["Id"] for stub in stubs] == [created["Id"]]
    assert set(stubs[0]) == stub_keys
    profile = entity_profile(samples, "Customer")
    assert found["Customer"]
    for row in found["Customer"]:
        assert_shape(profile, row)


def assert_fault_shape(ours: dict[str, Any], sample: dict[str, Any]) -> None:
    """A standard fault: `Fault` with `Error` items of strings and a `type`, as the sample."""
    assert set(sample["Fault"]) == set(ours["Fault"]) == {"Error", "type"}
    assert isinstance(ours["Fault"]["type"], str)
    sample_keys = set().union(*(set(e) for e in sample["Fault"]["Error"]))
    for error in ours["Fault"]["Error"]:
        # `element` is absent from some captures and "" in others; we always send it.
        assert sample_keys - {"element"} <= set(error) <= sample_keys | {"element"}
        assert all(isinstance(v, str) for v in error.values())
    assert ours["Fault"]["Error"][0]["code"] == sample["Fault"]["Error"][0]["code"]


async def test_batch_sample_is_accepted(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    ours = body_of(await post(client, f"{base}/batch", load(samples, "batch-request.json")))
    assert set(ours) == {"BatchItemResponse", "time"}
    assert sorted(item["bId"] for item in ours["BatchItemResponse"]) == [
        "bid1",
        "bid2",
        "bid3",
        "bid4",
    ]


async def test_batch_answers_have_the_samples_shape(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    # The sample's situations in our company: a duplicate name (6240), a missing invoice (610),
    # a stale SyncToken (5010), and a query.
    taken = await new_customer(client, base, "Batch Sample Co")
    await post(
        client,
        f"{base}/customer",
        {"Id": taken["Id"], "SyncToken": "0", "sparse": True, "Notes": "moves SyncToken to 1"},
    )
    request = {
        "BatchItemRequest": [
            {"bId": "bid1", "operation": "create", "Customer": {"DisplayName": "Batch Sample Co"}},
            {"bId": "bid2", "operation": "delete", "Invoice": {"Id": "999999", "SyncToken": "0"}},
            {
                "bId": "bid3",
                "operation": "update",
                "Customer": {"Id": taken["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"},
            },
            {"bId": "bid4", "Query": "select * from Customer maxresults 2"},
        ]
    }
    ours = {
        item["bId"]: item
        for item in body_of(await post(client, f"{base}/batch", request))["BatchItemResponse"]
    }
    sample = {
        item["bId"]: item for item in load(samples, "batch-response.json")["BatchItemResponse"]
    }
    for bid in ("bid1", "bid2", "bid3"):
        assert set(ours[bid]) == set(sample[bid]) == {"bId", "Fault"}
        assert_fault_shape(ours[bid], sample[bid])
    assert set(ours["bid4"]) == set(sample["bid4"]) == {"bId", "QueryResponse"}
    assert {"startPosition", "maxResults"} <= set(ours["bid4"]["QueryResponse"])
    for row in ours["bid4"]["QueryResponse"]["Customer"]:
        assert_shape(entity_profile(samples, "Customer"), row)
    fault_items = load(samples, "fault-batch-item-errors.json")["BatchItemResponse"]
    for item in fault_items:
        assert_fault_shape(ours[item["bId"]], item)


# ---- faults -----------------------------------------------------------------------------------


def fault_body(response: httpx2.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"Fault", "time"}
    assert isinstance(body["time"], str)
    return body


async def test_duplicate_name_fault(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    await new_customer(client, base, "Twice Co")
    ours = fault_body(await client.post(f"{base}/customer", json={"DisplayName": "Twice Co"}))
    assert_fault_shape(ours, load(samples, "fault-6240-duplicate-name.json"))


async def test_query_parse_fault(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    query = "select * from Customer where DisplayName = 'O'Brien Plumbing'"
    ours = fault_body(await client.get(f"{base}/query", params={"query": query}))
    assert_fault_shape(ours, load(samples, "fault-4000-query-parse.json"))


async def test_query_processing_fault(client: httpx2.AsyncClient, base: str, samples: Path) -> None:
    ours = fault_body(await client.get(f"{base}/query", params={"query": "select * from Vendor"}))
    assert_fault_shape(ours, load(samples, "fault-4002-query-processing.json"))


async def test_business_validation_fault(
    client: httpx2.AsyncClient, base: str, samples: Path
) -> None:
    customer = await new_customer(client, base, "Over Applied Co")
    invoice = await new_invoice(client, base, customer["Id"], "10.00")
    body = {
        "TotalAmt": 50,
        "CustomerRef": {"value": customer["Id"]},
        "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    ours = fault_body(await client.post(f"{base}/payment", json=body))
    assert_fault_shape(ours, load(samples, "fault-6000-business-validation.json"))


def xml_shape(element: ElementTree.Element) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """Tag, attribute names and children's shapes (the first of each tag), without namespaces."""
    tag = element.tag.split("}")[-1]
    children: dict[str, Any] = {}
    for child in element:
        children.setdefault(child.tag.split("}")[-1], xml_shape(child))
    return tag, tuple(sorted(element.attrib)), tuple(sorted(children.values()))


async def test_the_xml_fault_has_the_official_shape(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str, samples: Path
) -> None:
    emulator.chaos.throttle(count=1)
    response = await client.get(f"{base}/companyinfo/{realm_id}")
    assert response.status_code == 429
    ours = ElementTree.fromstring(response.content)
    sample = ElementTree.fromstring((samples / "fault-multiple-errors-official.xml").read_bytes())
    assert ours.tag == sample.tag  # the same namespace too
    # The sample's errors name an `element`; ours (a throttle) has none to name.
    expected = xml_shape(sample)
    assert xml_shape(ours) == (
        expected[0],
        expected[1],
        tuple(
            (tag, attrs, (("Error", ("code",), kids[0][2]),)) for tag, attrs, kids in expected[2]
        ),
    )


# ---- OAuth ------------------------------------------------------------------------------------


async def test_token_answer_and_invalid_grant(
    emulator: Emulator, client: httpx2.AsyncClient, samples: Path
) -> None:
    pair = emulator.issue_tokens()
    refreshed = await client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": pair.refresh_token},
        auth=("any-client", "any-secret"),
    )
    assert refreshed.status_code == 200
    sample = load(samples, "oauth-token-response.json")
    # id_token comes only with the openid scope.
    assert set(refreshed.json()) == set(sample) - {"id_token"}
    assert {k: kind(v) for k, v in refreshed.json().items()} == {
        k: kind(v) for k, v in sample.items() if k != "id_token"
    }
    refused = await client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": "AB1-not-a-token"},
        auth=("any-client", "any-secret"),
    )
    assert refused.status_code == 400
    error_sample = load(samples, "oauth-error-invalid-grant.json")
    assert refused.json()["error"] == error_sample["error"]
    assert set(refused.json()) <= set(error_sample)


# ---- the rule itself can fail -------------------------------------------------------------------


def test_the_rule_catches_invented_keys_wrong_types_and_missing_keys(samples: Path) -> None:
    sample = load(samples, "customer-read-response.json")["Customer"]
    profile = entity_profile(samples, "Customer")
    assert not list(profile.problems(sample))
    assert list(profile.problems({**sample, "Colour": "red"})) == [".Colour: a key no sample has"]
    assert list(profile.problems({**sample, "Balance": "85.00"})) == [
        ".Balance: string where the samples have ['number']"
    ]
    without_token = {k: v for k, v in sample.items() if k != "SyncToken"}
    assert list(profile.problems(without_token)) == [".SyncToken: missing (every sample has it)"]
    nested = {**sample, "MetaData": {"CreateTime": 5}}
    assert set(profile.problems(nested)) == {
        ".MetaData.CreateTime: number where the samples have ['string']",
        ".MetaData.LastUpdatedTime: missing (every sample has it)",
    }


# ---- webhooks ---------------------------------------------------------------------------------


def json_shape(value: Any) -> Any:
    """Keys and JSON types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_shape(value[0])] if value else []
    return kind(value)


async def test_a_legacy_webhook_has_the_samples_shape_and_signature(
    clock: FakeClock, realm_id: str, samples: Path
) -> None:
    received: list[httpx2.Request] = []

    def listener(request: httpx2.Request) -> httpx2.Response:
        received.append(request)
        return httpx2.Response(200)

    config = EmulatorConfig(
        webhook_url="http://listener.test/webhooks/intuit", webhook_verifier_token="verifier"
    )
    emulator = Emulator(config, clock=clock, webhook_transport=httpx2.MockTransport(listener))
    token = emulator.issue_tokens().access_token
    async with emulator.running(), in_process_client(emulator, token) as client:
        await new_customer(client, f"/v3/company/{realm_id}", "Webhook Shape Co")
        assert emulator.webhooks is not None
        await emulator.webhooks.drained()
    body = received[0].content
    assert received[0].headers["intuit-signature"] == sign(body, "verifier")
    ours = json.loads(body)
    assert json_shape(ours) == json_shape(load(samples, "webhook-legacy-signed.json"))
    entity = ours["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
    assert (entity["name"], entity["operation"]) == ("Customer", "Create")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[-+]\d\d:?\d\d", entity["lastUpdated"]
    )
