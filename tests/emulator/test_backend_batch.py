"""Backend: batch, change data capture, change events and snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.changes import ChangeEvent
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.seed import DEMO_REALM_ID

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


def iso(clock: Any, delta: float = 0) -> str:
    return datetime.fromtimestamp(clock.now + delta, UTC).isoformat()


# batch


def test_batch_items_answer_independently(backend: Backend) -> None:
    body = {
        "BatchItemRequest": [
            {"bId": "bid1", "operation": "create", "Customer": {"DisplayName": "Café Zoë"}},
            {"bId": "bid2", "operation": "delete", "Invoice": {"Id": "129", "SyncToken": "0"}},
            {
                "bId": "bid3",
                "operation": "update",
                "Customer": {"Id": "2", "SyncToken": "7", "sparse": True, "Notes": "x"},
            },
            {"bId": "bid4", "operation": "create", "Customer": {"DisplayName": "Brand New"}},
            {"bId": "bid5", "Query": "select * from Customer where DisplayName = 'Brand New'"},
        ]
    }
    answers = backend.batch(R, body)["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["bid1", "bid2", "bid3", "bid4", "bid5"]
    codes = [a["Fault"]["Error"][0]["code"] for a in answers[:3]]
    assert codes == ["6240", "610", "5010"]
    assert answers[0]["Fault"]["type"] == "ValidationFault"
    assert answers[3]["Customer"]["DisplayName"] == "Brand New"
    assert answers[4]["QueryResponse"]["Customer"][0]["Id"] == answers[3]["Customer"]["Id"]
    assert backend.read(R, "customer", "2")["Customer"].get("Notes") is None


def test_batch_over_30_items_is_1040_and_runs_nothing(backend: Backend) -> None:
    items = [
        {"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"C{n}"}}
        for n in range(31)
    ]
    before = backend.snapshot()
    f = fault(backend.batch, R, {"BatchItemRequest": items})
    assert f.errors[0].code == "1040"
    assert backend.snapshot() == before
    assert len(backend.batch(R, {"BatchItemRequest": items[:30]})["BatchItemResponse"]) == 30


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], "2010"),
        ({}, "2020"),
        ({"BatchItemRequest": "x"}, "2010"),
        ({"BatchItemRequest": [{"operation": "create", "Customer": {"DisplayName": "Z"}}]}, "2020"),
        (
            {
                "BatchItemRequest": [
                    {"bId": "1", "Query": "select * from Item"},
                    {"bId": "1", "Query": "select * from Item"},
                ]
            },
            "6000",
        ),
        ({"Other": []}, "2010"),
    ],
)
def test_malformed_batch_bodies_fault_the_whole_request(
    backend: Backend, body: Any, expected: str
) -> None:
    before = backend.snapshot()
    assert fault(backend.batch, R, body).errors[0].code == expected
    assert backend.snapshot() == before


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"operation": "merge", "Customer": {"DisplayName": "Z"}}, "2170"),
        ({"Customer": {"DisplayName": "Z"}}, "2020"),
        ({"operation": "create"}, "6000"),
        ({"operation": "create", "Vendor": {"DisplayName": "Z"}}, "500"),
        ({"operation": "create", "customer": {"DisplayName": "Z"}}, "2010"),
        ({"Query": "select * from Customer where DisplayName = 'a' or Id = '1'"}, "4000"),
    ],
)
def test_bad_batch_items_fault_alone(backend: Backend, item: dict[str, Any], expected: str) -> None:
    body = {"BatchItemRequest": [{"bId": "a", **item}, {"bId": "b", "Query": "select * from Item"}]}
    answers = backend.batch(R, body)["BatchItemResponse"]
    assert answers[0]["Fault"]["Error"][0]["code"] == expected
    assert "QueryResponse" in answers[1]


def test_batch_events_per_item(backend: Backend) -> None:
    events: list[ChangeEvent] = []
    backend.subscribe(events.append)
    body = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "E1"}},
            {"bId": "2", "operation": "create", "Customer": {"DisplayName": "E1"}},
            {"bId": "3", "operation": "create", "Customer": {"DisplayName": "E2"}},
        ]
    }
    backend.batch(R, body)
    assert [(e.entity, e.operation) for e in events] == [("Customer", "Create")] * 2


# change events


def test_events_after_each_committed_change(backend: Backend, clock: Any) -> None:
    events: list[ChangeEvent] = []
    backend.subscribe(events.append)
    created = backend.write(R, "customer", {"DisplayName": "Evented"})["Customer"]
    fault(backend.write, R, "customer", {"DisplayName": "Evented"})
    assert len(events) == 1
    e = events[0]
    assert (e.realm_id, e.entity, e.entity_id, e.operation) == (
        R,
        "Customer",
        created["Id"],
        "Create",
    )
    assert e.last_updated == datetime.fromtimestamp(clock.now, UTC)


def test_payment_announces_the_invoice_it_changed(backend: Backend) -> None:
    events: list[ChangeEvent] = []
    backend.subscribe(events.append)
    body = {
        "CustomerRef": {"value": "5"},
        "TotalAmt": 10,
        "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": "3", "TxnType": "Invoice"}]}],
    }
    backend.write(R, "payment", body)
    assert [(e.entity, e.operation) for e in events] == [
        ("Payment", "Create"),
        ("Invoice", "Update"),
    ]


def test_void_and_delete_events(backend: Backend) -> None:
    events: list[ChangeEvent] = []
    backend.subscribe(events.append)
    backend.write(R, "invoice", {"Id": "3", "SyncToken": "0"}, "void")
    backend.write(R, "estimate", {"Id": "1", "SyncToken": "0"}, "delete")
    assert [(e.entity, e.entity_id, e.operation) for e in events] == [
        ("Invoice", "3", "Void"),
        ("Estimate", "1", "Delete"),
    ]


def test_batch_voids_a_payment_with_update_and_options_data_void(backend: Backend) -> None:
    payment = next(iter(backend.query(R, "select * from Payment")["QueryResponse"]["Payment"]))
    invoice_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    invoice = backend.read(R, "invoice", invoice_id)["Invoice"]
    body = {
        "BatchItemRequest": [
            {
                "bId": "1",
                "operation": "update",
                "optionsData": "void",
                "Payment": {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
            }
        ]
    }
    [answer] = backend.batch(R, body)["BatchItemResponse"]
    assert answer["Payment"]["TotalAmt"] == 0 and answer["Payment"]["Line"] == []
    restored = backend.read(R, "invoice", invoice_id)["Invoice"]["Balance"]
    assert restored == invoice["Balance"] + payment["Line"][0]["Amount"]


def test_batch_operation_void_on_a_payment_faults_that_item_only(backend: Backend) -> None:
    payment = next(iter(backend.query(R, "select * from Payment")["QueryResponse"]["Payment"]))
    stub = {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}
    body = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "void", "Payment": stub},
            {"bId": "2", "operation": "void", "Invoice": {"Id": "3", "SyncToken": "0"}},
        ]
    }
    first, second = backend.batch(R, body)["BatchItemResponse"]
    assert first["Fault"]["Error"][0]["code"] == "500"
    assert second["Invoice"]["TotalAmt"] == 0
    assert backend.read(R, "payment", payment["Id"])["Payment"]["TotalAmt"] == payment["TotalAmt"]


def test_failing_listener_does_not_break_the_write(backend: Backend) -> None:
    seen: list[ChangeEvent] = []

    def broken(event: ChangeEvent) -> None:
        raise RuntimeError("listener bug")

    backend.subscribe(broken)
    backend.subscribe(seen.append)
    created = backend.write(R, "customer", {"DisplayName": "Sturdy"})["Customer"]
    assert backend.read(R, "customer", created["Id"])["Customer"]["DisplayName"] == "Sturdy"
    assert len(seen) == 1


# cdc


def test_cdc_returns_changes_and_deleted_stubs(backend: Backend, clock: Any) -> None:
    clock.advance(3600)
    since = iso(clock)
    created = backend.write(R, "customer", {"DisplayName": "Changed Later"})["Customer"]
    backend.write(R, "estimate", {"Id": "1", "SyncToken": "0"}, "delete")
    answer = backend.cdc(R, "customer,Estimate", since)
    customers, estimates = answer["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in customers["Customer"]] == [created["Id"]]
    assert customers["startPosition"] == 1 and customers["maxResults"] == 1
    stub = estimates["Estimate"][0]
    assert stub["status"] == "Deleted" and stub["Id"] == "1" and stub["domain"] == "QBO"
    assert "LastUpdatedTime" in stub["MetaData"]


def test_cdc_with_no_changes_gives_empty_responses(backend: Backend, clock: Any) -> None:
    clock.advance(10)
    answer = backend.cdc(R, "invoice", iso(clock))
    assert answer == {"CDCResponse": [{"QueryResponse": [{}]}]}


def test_cdc_includes_seeded_objects_and_inactive_ones(backend: Backend, clock: Any) -> None:
    answer = backend.cdc(R, "customer", iso(clock, -60))
    rows = answer["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert len(rows) == 12 and any(r["Active"] is False for r in rows)


def test_cdc_caps_at_1000_objects(backend: Backend, clock: Any) -> None:
    since = iso(clock)
    for n in range(1001):
        backend.write(R, "item", {"Name": f"Item {n}"})
    rows = backend.cdc(R, "item", since)["CDCResponse"][0]["QueryResponse"][0]["Item"]
    assert len(rows) == 1000


@pytest.mark.parametrize(
    ("entities", "since", "expected"),
    [
        ("customer,vendor", None, "2170"),
        ("", None, "2020"),
        ("customer", "not a date", "2010"),
        ("customer", "old", "4002"),
    ],
)
def test_cdc_bad_input(
    backend: Backend, clock: Any, entities: str, since: str | None, expected: str
) -> None:
    when = since or iso(clock, -60)
    if since == "old":
        when = (datetime.fromtimestamp(clock.now, UTC) - timedelta(days=31)).isoformat()
    assert fault(backend.cdc, R, entities, when).errors[0].code == expected


def test_cdc_accepts_30_days_and_naive_times(backend: Backend, clock: Any) -> None:
    edge = (datetime.fromtimestamp(clock.now, UTC) - timedelta(days=29, hours=23)).isoformat()
    assert backend.cdc(R, "customer", edge)["CDCResponse"]
    assert backend.cdc(R, "customer", "2026-01-14T10:00:00")["CDCResponse"]
    assert backend.cdc(R, "customer", "2026-01-14")["CDCResponse"]


# snapshots


def test_snapshot_is_json_and_restores_everything(backend: Backend, clock: Any) -> None:
    backend.add_company("77", seed="empty")
    backend.write(R, "estimate", {"Id": "1", "SyncToken": "0"}, "delete")
    data = json.loads(json.dumps(backend.snapshot()))
    other = Backend(clock=clock)
    other.restore(data)
    assert other.realm_ids() == [R, "77"]
    assert other.read(R, "invoice", "1") == backend.read(R, "invoice", "1")
    assert isinstance(other.read(R, "invoice", "1")["Invoice"]["Balance"], Decimal)
    assert other.snapshot() == backend.snapshot()
    assert other.write(R, "customer", {"DisplayName": "After Restore"})["Customer"]["Id"] == "13"
    since = (datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=1)).isoformat()
    estimates = other.cdc(R, "estimate", since)["CDCResponse"][0]["QueryResponse"][0]["Estimate"]
    assert any(e.get("status") == "Deleted" for e in estimates)


def test_restore_of_garbage_is_a_fault_and_keeps_state(backend: Backend) -> None:
    before = backend.snapshot()
    for bad in ({}, {"version": 1, "realms": {"1": {}}}, [], {"version": 99, "realms": {}}):
        assert fault(backend.restore, bad).errors[0].code == "2010"  # type: ignore[arg-type]
    assert backend.snapshot() == before


def test_cdc_changed_since_without_offset_is_the_companys_local_time(
    backend: Backend, clock: Any
) -> None:
    # Intuit's DateTime type: "Local time zone: YYYY-MM-DDTHH:MM:SS" (no offset = the company's
    # zone; Pacific for the emulator's companies). python-quickbooks sends exactly this form.
    clock.now = datetime(2026, 1, 15, 20, 0, tzinfo=UTC).timestamp()  # 12:00 in Pacific (PST)
    backend.write(R, "customer", {"DisplayName": "Noon Pacific"})

    def names(since: str) -> list[str]:
        responses = backend.cdc(R, "customer", since)["CDCResponse"][0]["QueryResponse"]
        return [c.get("DisplayName") for c in responses[0].get("Customer", [])]

    assert "Noon Pacific" in names("2026-01-15T11:59:00")  # 19:59 UTC: before the change
    assert "Noon Pacific" not in names("2026-01-15T12:01:00")  # 20:01 UTC: after it
    assert "Noon Pacific" in names("2026-01-15T19:59:00Z")
    assert "Noon Pacific" not in names("2026-01-15T12:01:00-08:00")
