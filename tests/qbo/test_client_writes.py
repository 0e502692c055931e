"""Writes: requestid and the ledger, updates with stale-object recovery, delete/void/deactivate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.errors import (
    ConflictError,
    DuplicateNameError,
    InvalidArgumentError,
    StaleObjectError,
    TransportError,
)
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.store import Database, open_database
from qb_mcp.store.ledger import Ledger
from tests.qbo.pipeline_support import (
    Clock,
    RecordingTransport,
    Sleeps,
    make_client,
    roomy_emulator,
)

pytestmark = pytest.mark.anyio

DAY = 86_400.0


def invoice_body(amount: str = "40.00") -> dict[str, Any]:
    return {
        "CustomerRef": {"value": "1"},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": amount,
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount},
            }
        ],
    }


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path / "db.sqlite3")
    try:
        yield database
    finally:
        await database.close()


async def count_named(client: Any, name: str) -> int:
    answer = await client.query(f"select count(*) from Customer where DisplayName = '{name}'")
    return int(answer.get("totalCount", 0))


async def test_a_create_is_recorded_before_and_after_it_is_sent(database: Database) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        created = await client.create("Customer", {"DisplayName": "Ledgered"})
    request_id = transport.writes()[0].params["requestid"][0]
    entry = await Ledger(database).get(client.realm_id, request_id)
    assert entry is not None and entry.status == "done"
    assert entry.response is not None and created["Id"] in entry.response


async def test_a_dropped_answer_is_settled_by_resending_the_same_requestid(
    database: Database,
) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    emulator.chaos.drop_responses(count=1)
    async with make_client(emulator, transport=transport, database=database) as client:
        created = await client.create("Customer", {"DisplayName": "Dropped Once"})
        assert await count_named(client, "Dropped Once") == 1
    ids = [sent.params["requestid"][0] for sent in transport.writes()]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert created["DisplayName"] == "Dropped Once"


async def test_a_503_retry_reuses_the_requestid() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    emulator.chaos.fail_requests(503, count=1)
    async with make_client(emulator, transport=transport) as client:
        await client.create("Invoice", invoice_body())
    ids = [sent.params["requestid"][0] for sent in transport.writes()]
    assert len(ids) == 2 and ids[0] == ids[1] and len(ids[0]) == 36


async def test_the_same_write_again_replays_without_sending(database: Database) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        first = await client.create("Invoice", invoice_body())
        second = await client.create("Invoice", invoice_body())
    assert first == second
    assert len(transport.writes()) == 1


async def test_a_derived_key_stops_replaying_after_a_day(database: Database) -> None:
    emulator = roomy_emulator()
    clock = Clock()
    async with make_client(emulator, database=database, clock=clock) as client:
        first = await client.create("Invoice", invoice_body())
        clock.now += DAY + 1
        second = await client.create("Invoice", invoice_body())
    assert first["Id"] != second["Id"]


async def test_an_explicit_key_replays_for_good(database: Database) -> None:
    emulator = roomy_emulator()
    clock = Clock()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database, clock=clock) as client:
        first = await client.create("Invoice", invoice_body(), idempotency_key="order-77")
        clock.now += 400 * DAY
        second = await client.create("Invoice", invoice_body(), idempotency_key="order-77")
    assert first == second
    assert [sent.params["requestid"][0] for sent in transport.writes()] == ["order-77"]


async def test_an_explicit_key_reused_for_another_write_is_refused(database: Database) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        await client.create("Invoice", invoice_body("40.00"), idempotency_key="order-78")
        with pytest.raises(InvalidArgumentError, match="already used for a different request"):
            await client.create("Invoice", invoice_body("41.00"), idempotency_key="order-78")
    assert len(transport.writes()) == 1


async def test_a_write_left_pending_by_a_crash_is_settled_by_the_next_attempt(
    database: Database,
) -> None:
    emulator = roomy_emulator()
    emulator.chaos.drop_responses(count=1)
    one_try = RetryPolicy(max_attempts=1, sleep=Sleeps())
    async with make_client(emulator, database=database, retry=one_try) as crashed:
        with pytest.raises(TransportError):
            await crashed.create("Customer", {"DisplayName": "Crash Survivor"})
    pending = await Ledger(database).pending()
    assert [entry.operation for entry in pending] == ["create"]
    # A new process (a new client on the same database) asks for the same write.
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        created = await client.create("Customer", {"DisplayName": "Crash Survivor"})
        assert await count_named(client, "Crash Survivor") == 1
    assert created["DisplayName"] == "Crash Survivor"
    assert transport.writes()[0].params["requestid"][0] == pending[0].request_id
    assert await Ledger(database).pending() == []


async def test_a_refused_write_is_sent_under_a_new_id_next_time(database: Database) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        taken = await client.create("Customer", {"DisplayName": "Taken Name"})
        with pytest.raises(DuplicateNameError):
            await client.create("Customer", {"DisplayName": "Taken Name", "Notes": "second"})
        await client.update("Customer", taken["Id"], {"DisplayName": "Renamed Away"})
        created = await client.create("Customer", {"DisplayName": "Taken Name", "Notes": "second"})
    ids = [s.params["requestid"][0] for s in transport.writes()]
    assert ids[1] != ids[-1]  # the refused id is not re-sent: generation 1 instead
    assert created["Notes"] == "second"


async def test_sparse_update_reads_the_sync_token_first() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        created = await client.create("Customer", {"DisplayName": "Sparse", "Notes": "keep"})
        updated = await client.update("Customer", created["Id"], {"CompanyName": "Sparse Ltd"})
    assert updated["SyncToken"] == str(int(created["SyncToken"]) + 1)
    assert (updated["CompanyName"], updated["Notes"]) == ("Sparse Ltd", "keep")
    body = transport.writes()[-1].content
    assert b'"sparse":true' in body and b'"Notes"' not in body


async def test_a_stale_update_is_reapplied_when_its_fields_are_untouched() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        seen = await client.create("Customer", {"DisplayName": "Stale A", "Notes": "n0"})
        await client.update("Customer", seen["Id"], {"CompanyName": "Someone Else Inc"})
        updated = await client.update("Customer", seen["Id"], {"Notes": "n1"}, expected=seen)
    assert (updated["Notes"], updated["CompanyName"]) == ("n1", "Someone Else Inc")
    assert updated["SyncToken"] == str(int(seen["SyncToken"]) + 2)


async def test_a_stale_update_whose_field_changed_is_a_conflict() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        seen = await client.create("Customer", {"DisplayName": "Stale B", "Notes": "n0"})
        await client.update("Customer", seen["Id"], {"Notes": "theirs"})
        with pytest.raises(ConflictError) as caught:
            await client.update("Customer", seen["Id"], {"Notes": "ours"}, expected=seen)
        current = await client.get("Customer", seen["Id"])
    assert caught.value.changed == ("Notes",)
    assert "Notes" in str(caught.value)
    assert current["Notes"] == "theirs"


async def test_a_stale_token_without_what_was_seen_is_reported() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        seen = await client.create("Customer", {"DisplayName": "Stale C"})
        await client.update("Customer", seen["Id"], {"Notes": "x"})
        with pytest.raises(StaleObjectError):
            await client.update(
                "Customer", seen["Id"], {"Notes": "y"}, sync_token=seen["SyncToken"]
            )


async def test_deactivate_makes_a_customer_inactive() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        created = await client.create("Customer", {"DisplayName": "Gone Quiet"})
        result = await client.deactivate("Customer", created["Id"])
    assert result["Active"] is False


async def test_delete_removes_an_estimate() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        estimate = await client.create("Estimate", invoice_body())
        deleted = await client.delete("Estimate", estimate["Id"])
    assert deleted["status"] == "Deleted" and deleted["Id"] == estimate["Id"]


async def test_void_zeroes_an_invoice() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        invoice = await client.create("Invoice", invoice_body("75.00"))
        voided = await client.void("Invoice", invoice["Id"])
    assert voided["TotalAmt"] == Decimal("0")
    assert "Voided" in voided.get("PrivateNote", "")


async def test_void_of_a_payment_is_the_sparse_update_with_include_void() -> None:
    # Intuit's Payment reference, "Void a payment": operation=void is the Invoice form, and the
    # emulator refuses it for a Payment as QuickBooks does (QuickBooks-V3-PHP-SDK#357/#479).
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        invoice = await client.create("Invoice", invoice_body("75.00"))
        payment = await client.create(
            "Payment",
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": "25.00",
                "Line": [
                    {
                        "Amount": "25.00",
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
        voided = await client.void("Payment", payment["Id"])
        after = await client.get("Invoice", invoice["Id"])
    assert voided["TotalAmt"] == Decimal("0") and voided["PrivateNote"].startswith("Voided")
    assert after["Balance"] == Decimal("75.00")
    sent = transport.writes()[-1]
    assert sent.path.endswith("/payment")
    assert sent.params["operation"] == ["update"] and sent.params["include"] == ["void"]
    assert json.loads(sent.content) == {
        "Id": payment["Id"],
        "SyncToken": payment["SyncToken"],
        "sparse": True,
    }


async def test_void_of_an_invoice_stays_operation_void() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        invoice = await client.create("Invoice", invoice_body("75.00"))
        await client.void("Invoice", invoice["Id"])
    sent = transport.writes()[-1]
    assert sent.params["operation"] == ["void"] and "include" not in sent.params


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.create("Customer", {"DisplayName": "F", "Balance": 1.5}), "float"),
        (lambda c: c.create("Invoice", invoice_body("10.005")), "decimal places"),
        (lambda c: c.create("Invoice", invoice_body("-5.00")), "negative"),
        (
            lambda c: c.create(
                "Invoice",
                {
                    **invoice_body(),
                    "Line": [
                        {
                            **invoice_body()["Line"][0],
                            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": -2},
                        }
                    ],
                },
            ),
            "negative",
        ),
        (lambda c: c.create("Vendorz", {"DisplayName": "x"}), "unknown QuickBooks entity"),
        (lambda c: c.create("CompanyInfo", {"CompanyName": "x"}), "cannot be written"),
        (lambda c: c.create("Customer", {"Id": "5", "DisplayName": "x"}), "update"),
        (lambda c: c.update("Customer", "", {"Notes": "x"}), "entity_id"),
        (lambda c: c.update("Customer", "1", {}), "empty"),
        (lambda c: c.update("Customer", "1", {"SyncToken": "3"}), "SyncToken"),
        (lambda c: c.update("Customer", "1", {"Notes": "x"}, sync_token="abc"), "sync_token"),
        (lambda c: c.delete("Customer", "1"), "deactivate"),
        (lambda c: c.void("Estimate", "1"), "cannot be voided"),
        (lambda c: c.deactivate("Invoice", "1"), "transaction"),
        (lambda c: c.create("Customer", {"DisplayName": "x"}, idempotency_key="x" * 37), "36"),
    ],
)
async def test_bad_writes_are_refused_before_anything_is_sent(
    call: Any, message: str, database: Database
) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        with pytest.raises(InvalidArgumentError, match=message):
            await call(client)
    assert transport.sent == []
    assert await database.fetchall("SELECT * FROM idempotency_ledger") == []


async def test_an_explicit_key_survives_a_stale_object_reapply(database: Database) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, database=database) as client:
        seen = await client.create("Customer", {"DisplayName": "Stale Keyed"})
        await client.update("Customer", seen["Id"], {"CompanyName": "Other Co"})
        updated = await client.update(
            "Customer", seen["Id"], {"Notes": "keyed"}, expected=seen, idempotency_key="note-1"
        )
        again = await client.update(
            "Customer", seen["Id"], {"Notes": "keyed"}, expected=seen, idempotency_key="note-1"
        )
    assert updated["Notes"] == "keyed"
    assert again == updated  # replayed: the explicit key names one write, whatever the token
    keyed = [s.params["requestid"][0] for s in transport.writes()][2:]
    assert keyed[0] == "note-1" and len(keyed) == 2 and keyed[1] != "note-1"
