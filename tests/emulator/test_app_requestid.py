"""`requestid`: a repeated write is replayed from memory, never done twice."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from qb_mcp.emulator import Emulator
from qb_mcp.emulator.replay import Answer, RequestIds, fingerprint
from tests.emulator.conftest import FakeClock, state_of

pytestmark = pytest.mark.anyio


async def count(client: httpx2.AsyncClient, base: str, where: str) -> int:
    response = await client.get(
        f"{base}/query", params={"query": f"select count(*) from Customer where {where}"}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["QueryResponse"].get("totalCount", 0))


def fault_code(response: httpx2.Response) -> str:
    return str(response.json()["Fault"]["Error"][0]["code"])


async def test_a_repeated_requestid_replays_the_first_answer_and_writes_once(
    client: httpx2.AsyncClient, clock: FakeClock, base: str
) -> None:
    body = {"DisplayName": "Replay Co"}
    first = await client.post(f"{base}/customer?requestid=abc-1&minorversion=75", json=body)
    clock.advance(5)
    second = await client.post(f"{base}/customer?requestid=abc-1&minorversion=75", json=body)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content  # the original "time" included
    assert second.headers["intuit_tid"] != first.headers["intuit_tid"]
    assert await count(client, base, "DisplayName = 'Replay Co'") == 1


async def test_a_reused_requestid_with_another_body_is_fault_600(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    await client.post(f"{base}/customer?requestid=abc-2", json={"DisplayName": "First Co"})
    before = state_of(emulator)
    response = await client.post(
        f"{base}/customer?requestid=abc-2", json={"DisplayName": "Second Co"}
    )
    assert response.status_code == 400
    assert fault_code(response) == "600"
    assert state_of(emulator) == before


async def test_a_reused_requestid_on_another_entity_is_fault_600(
    client: httpx2.AsyncClient, base: str
) -> None:
    await client.post(f"{base}/customer?requestid=abc-3", json={"DisplayName": "Path Co"})
    response = await client.post(f"{base}/item?requestid=abc-3", json={"DisplayName": "Path Co"})
    assert fault_code(response) == "600"


async def test_a_requestid_over_50_characters_is_refused_without_writing(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    before = state_of(emulator)
    response = await client.post(
        f"{base}/customer?requestid={'x' * 51}", json={"DisplayName": "Long Id Co"}
    )
    assert response.status_code == 400
    assert fault_code(response) == "2030"
    assert state_of(emulator) == before


async def test_a_failed_write_can_succeed_when_retried_with_its_id(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    taken = await client.post(f"{base}/customer", json={"DisplayName": "Taken Name"})
    body = {"DisplayName": "Taken Name"}
    refused = await client.post(f"{base}/customer?requestid=retry-1", json=body)
    assert fault_code(refused) == "6240"
    customer = taken.json()["Customer"]
    renamed = await client.post(
        f"{base}/customer",
        json={
            "Id": customer["Id"],
            "SyncToken": customer["SyncToken"],
            "sparse": True,
            "DisplayName": "Other Name",
        },
    )
    assert renamed.status_code == 200, renamed.text
    retried = await client.post(f"{base}/customer?requestid=retry-1", json=body)
    assert retried.status_code == 200, retried.text
    assert retried.json()["Customer"]["DisplayName"] == "Taken Name"


async def test_an_injected_failure_is_not_remembered(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    emulator.chaos.fail_requests(500, count=1)
    body = {"DisplayName": "Flaky Co"}
    failed = await client.post(f"{base}/customer?requestid=flaky-1", json=body)
    assert failed.status_code == 500
    retried = await client.post(f"{base}/customer?requestid=flaky-1", json=body)
    assert retried.status_code == 200
    assert await count(client, base, "DisplayName = 'Flaky Co'") == 1


async def test_requestids_are_per_realm(emulator: Emulator, base: str) -> None:
    other = "4620816365000000001"
    emulator.backend.add_company(other, seed="empty")
    body = {"DisplayName": "Twin Co"}
    for realm in (base.rsplit("/", 1)[1], other):
        token = emulator.issue_tokens(realm).access_token
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=emulator.app),
            base_url="http://emulator",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ) as client:
            response = await client.post(f"/v3/company/{realm}/customer?requestid=twin", json=body)
            assert response.status_code == 200, response.text
            assert await count(client, f"/v3/company/{realm}", "DisplayName = 'Twin Co'") == 1


async def test_batches_are_replayed_too(client: httpx2.AsyncClient, base: str) -> None:
    batch: dict[str, Any] = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Replay Co"}}
        ]
    }
    first = await client.post(f"{base}/batch?requestid=batch-1", json=batch)
    second = await client.post(f"{base}/batch?requestid=batch-1", json=batch)
    assert first.status_code == 200, first.text
    assert second.content == first.content
    assert await count(client, base, "DisplayName = 'Batch Replay Co'") == 1


async def test_requestid_is_ignored_on_reads(
    client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    first = await client.get(f"{base}/companyinfo/{realm_id}?requestid=read-1")
    created = await client.post(f"{base}/customer?requestid=read-1", json={"DisplayName": "R"})
    assert first.status_code == created.status_code == 200


def test_the_fingerprint_ignores_requestid_and_minorversion_only() -> None:
    base = fingerprint("POST", "/v3/company/1/customer", [("requestid", "a")], b"{}")
    assert base == fingerprint(
        "POST", "/v3/company/1/customer", [("requestid", "b"), ("minorversion", "75")], b"{}"
    )
    assert base != fingerprint("POST", "/v3/company/1/customer", [], b"{ }")
    assert base != fingerprint("POST", "/v3/company/1/customer", [("operation", "delete")], b"{}")
    assert base != fingerprint("POST", "/v3/company/1/invoice", [], b"{}")


def test_only_successful_answers_are_remembered() -> None:
    ids = RequestIds()
    ids.remember("1", "a", "print", Answer(400, "application/json", b"{}"))
    assert ids.lookup("1", "a", "print") is None
    ids.remember("1", "a", "print", Answer(200, "application/json", b"{}"))
    assert ids.lookup("1", "a", "print") == Answer(200, "application/json", b"{}")


def test_the_least_recently_used_ids_are_forgotten_first() -> None:
    ids = RequestIds(max_per_realm=2)
    answer = Answer(200, "application/json", b"{}")
    ids.remember("1", "a", "p", answer)
    ids.remember("1", "b", "p", answer)
    assert ids.lookup("1", "a", "p") is not None  # "a" is now the most recent
    ids.remember("1", "c", "p", answer)
    assert ids.lookup("1", "b", "p") is None
    assert ids.lookup("1", "a", "p") is not None
    assert ids.count() == 2
