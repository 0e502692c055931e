"""Batch: chunking to 30, per-item results in input order, one requestid per chunk."""

from __future__ import annotations

import json

import pytest

from qb_mcp.errors import DuplicateNameError, InvalidArgumentError, NotFoundError
from qb_mcp.qbo.batch import BatchOp
from tests.qbo.pipeline_support import RecordingTransport, make_client, roomy_emulator

pytestmark = pytest.mark.anyio


async def test_items_are_chunked_by_thirty_and_answered_in_order() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    items = [BatchOp.create("Customer", {"DisplayName": f"Batch {n:03}"}) for n in range(65)]
    async with make_client(emulator, transport=transport) as client:
        results = await client.batch(items)
    assert [r.entity["DisplayName"] for r in results if r.entity] == [
        f"Batch {n:03}" for n in range(65)
    ]
    assert all(r.ok for r in results)
    assert [r.bid for r in results] == [str(n) for n in range(65)]
    sizes = [len(json.loads(s.content)["BatchItemRequest"]) for s in transport.writes()]
    assert sorted(sizes) == [5, 30, 30]
    ids = {s.params["requestid"][0] for s in transport.writes()}
    assert len(ids) == 3 and all(len(i) <= 36 for i in ids)


async def test_a_failed_item_gets_its_own_error_and_the_rest_succeed() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        taken = await client.create("Customer", {"DisplayName": "Batch Taken"})
        results = await client.batch(
            [
                BatchOp.create("Customer", {"DisplayName": "Batch Fresh"}),
                BatchOp.create("Customer", {"DisplayName": "Batch Taken"}),
                BatchOp.update("Customer", "999999", {"Notes": "x"}, sync_token="0"),
                BatchOp.update("Customer", taken["Id"], {"Notes": "batched"}, sync_token="0"),
                BatchOp.select("select * from Customer where DisplayName = 'Batch Taken'"),
            ]
        )
    assert [r.ok for r in results] == [True, False, False, True, True]
    assert isinstance(results[1].error, DuplicateNameError)
    assert isinstance(results[2].error, NotFoundError)
    assert results[3].entity is not None and results[3].entity["Notes"] == "batched"
    assert results[4].entity is not None
    assert [c["Id"] for c in results[4].entity["Customer"]] == [taken["Id"]]


async def test_a_dropped_batch_answer_is_replayed_not_redone() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    emulator.chaos.drop_responses(count=1)
    items = [BatchOp.create("Customer", {"DisplayName": f"Drop Batch {n}"}) for n in range(10)]
    async with make_client(emulator, transport=transport) as client:
        results = await client.batch(items)
        count = await client.query(
            "select count(*) from Customer where DisplayName like 'Drop Batch%'"
        )
    assert all(r.ok for r in results)
    assert count["totalCount"] == 10
    ids = [s.params["requestid"][0] for s in transport.writes()]
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_the_same_batch_again_replays_the_recorded_answer() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    items = [BatchOp.create("Customer", {"DisplayName": "Once Only"})]
    async with make_client(emulator, transport=transport) as client:
        first = await client.batch(items)
        second = await client.batch(items)
    assert first[0].entity == second[0].entity
    assert len(transport.writes()) == 1


@pytest.mark.parametrize(
    "bad",
    [
        BatchOp.create("Vendorz", {"DisplayName": "x"}),
        BatchOp.create("Customer", {}),
        BatchOp.update("Customer", "", {"Notes": "x"}, sync_token="0"),
        BatchOp.update("Customer", "1", {"Notes": "x"}, sync_token="zero"),
        BatchOp.delete("Customer", "1", sync_token="0"),
        BatchOp.select("  "),
        "not an op",
    ],
)
async def test_one_bad_item_stops_the_whole_batch_before_sending(bad: object) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    items = [BatchOp.create("Customer", {"DisplayName": "Fine"}), bad]
    async with make_client(emulator, transport=transport) as client:
        with pytest.raises(InvalidArgumentError):
            await client.batch(items)  # type: ignore[list-item]
    assert transport.sent == []


async def test_an_empty_batch_sends_nothing() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        assert await client.batch([]) == []
    assert transport.sent == []


async def test_a_batch_of_queries_reads_fresh_data_every_time() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    lookup = [BatchOp.select("select * from Customer where DisplayName = 'Fresh Read'")]
    async with make_client(emulator, transport=transport) as client:
        before = await client.batch(lookup)
        await client.create("Customer", {"DisplayName": "Fresh Read"})
        after = await client.batch(lookup)
    assert before[0].entity == {}
    assert after[0].entity is not None and len(after[0].entity["Customer"]) == 1
    batch_sends = [s for s in transport.writes() if s.path.endswith("/batch")]
    assert len(batch_sends) == 2
    assert all("requestid" not in s.params for s in batch_sends), "reads carry no requestid"


async def test_a_payment_is_voided_in_a_batch_by_update_with_options_data_void() -> None:
    # node-quickbooks#150: a batch voids a Payment with operation "update", optionsData "void";
    # an Invoice keeps operation "void".
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": "60.00",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    async with make_client(emulator, transport=transport) as client:
        invoice = await client.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [line]})
        payment = await client.create(
            "Payment",
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": "60.00",
                "Line": [
                    {
                        "Amount": "60.00",
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
        [result] = await client.batch(
            [BatchOp.void("Payment", payment["Id"], sync_token=payment["SyncToken"])]
        )
        after = await client.get("Invoice", invoice["Id"])
    assert result.ok and result.entity is not None and result.entity["TotalAmt"] == 0
    assert after["Balance"] == 60
    [item] = json.loads(transport.writes()[-1].content)["BatchItemRequest"]
    assert item["operation"] == "update" and item["optionsData"] == "void"
    assert item["Payment"]["sparse"] is True
