"""QBO's limits over HTTP: the per-minute budget, batch calls and concurrency give the XML 429."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig
from tests.emulator.conftest import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(requests_per_window=5, batch_per_window=2, max_in_flight=10)


def is_xml_throttle(response: httpx2.Response) -> bool:
    return (
        response.status_code == 429
        and response.headers["content-type"].startswith("application/xml")
        and b"ThrottleExceeded" in response.content
    )


async def test_more_than_the_budget_per_window_is_throttled(
    client: httpx2.AsyncClient, clock: FakeClock, base: str, realm_id: str
) -> None:
    url = f"{base}/companyinfo/{realm_id}"
    responses = [await client.get(url) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert is_xml_throttle(responses[-1])
    clock.advance(60)
    assert (await client.get(url)).status_code == 200


async def test_batch_calls_have_their_own_budget(client: httpx2.AsyncClient, base: str) -> None:
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Customer"}]}
    statuses = [(await client.post(f"{base}/batch", json=batch)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_admin_and_oauth_routes_are_not_limited(
    client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    for _ in range(5):
        await client.get(f"{base}/companyinfo/{realm_id}")
    for _ in range(10):
        assert (await client.get("/_emulator/state")).status_code == 200
        assert (await client.get("/.well-known/openid_configuration")).status_code == 200
    assert (await client.get(f"{base}/companyinfo/{realm_id}")).status_code == 429


async def test_unauthenticated_requests_do_not_use_the_budget(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emulator.app), base_url="http://emulator"
    ) as anonymous:
        for _ in range(10):
            assert (await anonymous.get(f"{base}/companyinfo/{realm_id}")).status_code == 401
    assert (await client.get(f"{base}/companyinfo/{realm_id}")).status_code == 200


async def test_the_eleventh_concurrent_request_is_throttled(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    emulator.limiter.requests_per_window = 500
    emulator.chaos.set_latency(0.2)  # keeps ten requests in flight while the eleventh arrives
    statuses: list[int] = []
    bodies: list[httpx2.Response] = []

    async def one() -> None:
        response = await client.get(f"{base}/companyinfo/{realm_id}")
        statuses.append(response.status_code)
        bodies.append(response)

    async with anyio.create_task_group() as tasks:
        for _ in range(11):
            tasks.start_soon(one)
    assert sorted(statuses) == [200] * 10 + [429]
    assert any(is_xml_throttle(r) for r in bodies)
    assert emulator.limiter.in_flight(realm_id) == 0
