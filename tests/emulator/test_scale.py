"""Emulator writes cost what they touch, not the size of the company (issue 11)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.faults import QBOFault

R = "9130000000000"


class CountingDict(dict[str, Any]):
    """A realm's storage for one entity that counts whole-collection scans."""

    scans = 0

    def __iter__(self) -> Any:
        CountingDict.scans += 1
        return super().__iter__()

    def values(self) -> Any:
        CountingDict.scans += 1
        return super().values()

    def items(self) -> Any:
        CountingDict.scans += 1
        return super().items()


def line(amount: str = "10.00") -> list[dict[str, Any]]:
    return [
        {
            "Amount": amount,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount},
        }
    ]


def seed(backend: Backend, customers: int, invoices: int) -> None:
    backend.add_company(R, seed="empty")
    backend.write(R, "Item", {"Name": "Labour", "UnitPrice": "10"})
    for n in range(customers):
        backend.write(R, "Customer", {"DisplayName": f"Customer {n}"})
    for n in range(invoices):
        backend.write(
            R, "Invoice", {"CustomerRef": {"value": str(1 + n % customers)}, "Line": line()}
        )


def test_writes_scan_no_collection_of_the_company() -> None:
    backend = Backend()
    seed(backend, 300, 300)
    realm = backend._realm(R)
    for entity in ("Customer", "Item", "Invoice", "Estimate", "Payment"):
        realm.objects[entity] = CountingDict(realm.objects.get(entity, {}))
    CountingDict.scans = 0

    backend.write(R, "Customer", {"DisplayName": "Someone New"})
    with pytest.raises(QBOFault):
        backend.write(R, "Customer", {"DisplayName": "customer 7 "})
    estimate = backend.write(R, "Estimate", {"CustomerRef": {"value": "3"}, "Line": line()})
    invoice = backend.write(
        R,
        "Invoice",
        {
            "CustomerRef": {"value": "3"},
            "Line": line(),
            "LinkedTxn": [{"TxnId": estimate["Estimate"]["Id"], "TxnType": "Estimate"}],
        },
    )["Invoice"]
    with pytest.raises(QBOFault):
        backend.write(
            R, "Invoice", {"CustomerRef": {"value": "3"}, "Line": line(), "DocNumber": "1001"}
        )
    backend.write(
        R,
        "Payment",
        {
            "CustomerRef": {"value": "3"},
            "TotalAmt": "4.00",
            "Line": [
                {"Amount": "4.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    current = backend.read(R, "Invoice", invoice["Id"])["Invoice"]
    backend.write(R, "Invoice", {"Id": current["Id"], "SyncToken": current["SyncToken"]}, "void")

    assert CountingDict.scans == 0
    # its seeded invoice of 10.00; the new one is void and its payment is unapplied again
    assert backend.read(R, "Customer", "3")["Customer"]["Balance"] == 10


def test_the_indexes_follow_updates_deletes_and_restores() -> None:
    backend = Backend()
    seed(backend, 3, 0)
    first = backend.read(R, "Customer", "1")["Customer"]
    backend.write(
        R,
        "Customer",
        {"Id": "1", "SyncToken": first["SyncToken"], "DisplayName": "Renamed", "sparse": True},
    )
    backend.write(R, "Customer", {"DisplayName": "Customer 0"})  # the old name is free again
    with pytest.raises(QBOFault):
        backend.write(R, "Customer", {"DisplayName": "RENAMED"})
    draft = backend.write(
        R, "Invoice", {"CustomerRef": {"value": "2"}, "Line": line(), "DocNumber": "A-1"}
    )
    backend.write(R, "Invoice", {"Id": draft["Invoice"]["Id"], "SyncToken": "0"}, "delete")
    backend.write(R, "Invoice", {"CustomerRef": {"value": "2"}, "Line": line(), "DocNumber": "a-1"})

    restored = Backend()
    restored.restore(backend.snapshot())
    with pytest.raises(QBOFault):
        restored.write(R, "Customer", {"DisplayName": "renamed"})
    with pytest.raises(QBOFault):
        restored.write(
            R, "Invoice", {"CustomerRef": {"value": "2"}, "Line": line(), "DocNumber": "A-1"}
        )


def seconds_to_seed(customers: int) -> float:
    started = time.perf_counter()
    seed(Backend(), customers, customers // 2)
    return time.perf_counter() - started


def test_seeding_grows_linearly() -> None:
    """10x the company costs about 10x the time; a scan per write would make it ~100x."""
    small = min(seconds_to_seed(1_000) for _ in range(2))
    large = seconds_to_seed(10_000)
    assert large < small * 35, (small, large)


def test_queries_answer_in_id_order_whatever_order_a_snapshot_kept() -> None:
    backend = Backend()
    seed(backend, 12, 0)
    data = backend.snapshot()
    customers = data["realms"][R]["objects"]["Customer"]
    data["realms"][R]["objects"]["Customer"] = dict(reversed(list(customers.items())))
    for state in (backend, Backend()):
        if state is not backend:
            state.restore(data)
        rows = state.query(R, "select * from Customer startposition 3 maxresults 4")
        assert [c["Id"] for c in rows["QueryResponse"]["Customer"]] == ["3", "4", "5", "6"]
