"""Fault injection as a client meets it: dropped connections, 500/503, forced 429, latency."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from qb_mcp.emulator import Emulator
from tests.emulator.conftest import state_of

pytestmark = pytest.mark.anyio


async def count(client: httpx2.AsyncClient, base: str, name: str) -> int:
    response = await client.get(
        f"{base}/query",
        params={"query": f"select count(*) from Customer where DisplayName = '{name}'"},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["QueryResponse"].get("totalCount", 0))


async def test_a_dropped_response_still_committed_the_write(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    emulator.chaos.drop_responses(count=1)
    with pytest.raises(httpx2.ReadError):
        await client.post(f"{base}/customer", json={"DisplayName": "Dropped Co"})
    assert await count(client, base, "Dropped Co") == 1


async def test_a_retry_with_the_same_requestid_after_a_drop_gets_the_answer(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    emulator.chaos.drop_responses(count=1)
    url = f"{base}/customer?requestid=drop-1"
    with pytest.raises(httpx2.ReadError):
        await client.post(url, json={"DisplayName": "Retry Co"})
    retried = await client.post(url, json={"DisplayName": "Retry Co"})
    assert retried.status_code == 200
    assert retried.json()["Customer"]["DisplayName"] == "Retry Co"
    assert await count(client, base, "Retry Co") == 1


async def test_drops_apply_to_posts_only(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.chaos.drop_responses(count=1)
    read = await client.get(f"{base}/companyinfo/{realm_id}")
    assert read.status_code == 200
    with pytest.raises(httpx2.ReadError):
        await client.post(f"{base}/customer", json={"DisplayName": "Post Only Co"})


async def test_an_injected_500_changes_nothing(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    emulator.chaos.fail_requests(500, count=1)
    before = state_of(emulator)
    response = await client.post(f"{base}/customer", json={"DisplayName": "Five Hundred Co"})
    assert response.status_code == 500
    assert response.json()["Fault"]["Error"][0]["code"] == "10000"
    assert state_of(emulator) == before
    again = await client.post(f"{base}/customer", json={"DisplayName": "Five Hundred Co"})
    assert again.status_code == 200


async def test_an_injected_503_is_the_load_balancers_page(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.chaos.fail_requests(503, count=1)
    response = await client.get(f"{base}/companyinfo/{realm_id}")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert b"503 Service Temporarily Unavailable" in response.content


async def test_forced_throttling_answers_the_xml_429(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.chaos.throttle(count=2)
    statuses = [(await client.get(f"{base}/companyinfo/{realm_id}")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    throttled = await client.get(f"{base}/companyinfo/{realm_id}")
    assert throttled.status_code == 200


async def test_the_429_body_is_intuits_xml(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.chaos.throttle(count=1)
    response = await client.get(f"{base}/companyinfo/{realm_id}")
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/xml")
    assert b'<Error code="3001">' in response.content
    assert b'Fault type="SERVICE"' in response.content


async def test_latency_makes_a_client_time_out(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.chaos.set_latency(30)
    # httpx2.ASGITransport enforces no timeouts itself, so the caller's deadline is the test.
    with pytest.raises(TimeoutError), anyio.fail_after(0.05):
        await client.get(f"{base}/companyinfo/{realm_id}")


async def test_seeded_rates_give_the_same_run_twice(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    async def run() -> list[int]:
        emulator.chaos.clear()
        emulator.chaos.seed(11)
        emulator.chaos.throttle(rate=0.5)
        return [(await client.get(f"{base}/companyinfo/{realm_id}")).status_code for _ in range(20)]

    first = await run()
    assert first == await run()
    assert {200, 429} <= set(first)


async def test_chaos_is_set_over_the_admin_api(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    response = await client.post("/_emulator/chaos", json={"drop": {"count": 1}})
    assert response.status_code == 200
    assert response.json()["drop"]["count"] == 1
    with pytest.raises(httpx2.ReadError):
        await client.post(f"{base}/customer", json={"DisplayName": "Admin Drop Co"})
    assert (await client.get("/_emulator/chaos")).json()["drop"]["count"] == 0


async def test_bad_chaos_settings_are_400_and_change_nothing(
    emulator: Emulator, client: httpx2.AsyncClient
) -> None:
    await client.post("/_emulator/chaos", json={"latency": 0.5})
    for body in ({"latency": -2}, {"fail": {"status": 418}}, {"nonsense": 1}):
        response = await client.post("/_emulator/chaos", json=body)
        assert response.status_code == 400
        assert "error" in response.json()
    not_json = await client.post(
        "/_emulator/chaos", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert emulator.chaos.latency == 0.5


async def test_delete_turns_chaos_off(emulator: Emulator, client: httpx2.AsyncClient) -> None:
    emulator.chaos.throttle(count=5)
    response = await client.delete("/_emulator/chaos")
    assert response.status_code == 200
    assert response.json()["throttle"]["count"] == 0
