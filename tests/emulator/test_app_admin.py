"""The admin API under /_emulator/: reset, state, realms, tokens, webhooks."""

from __future__ import annotations

import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig
from tests.emulator.conftest import FakeClock, in_process_client, state_of

pytestmark = pytest.mark.anyio


async def test_reset_puts_the_seed_back_and_keeps_tokens(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    seeded = state_of(emulator)
    created = await client.post(f"{base}/customer", json={"DisplayName": "Reset Me"})
    assert created.status_code == 200
    emulator.chaos.throttle(count=3)
    response = await client.post("/_emulator/reset")
    assert response.status_code == 200
    assert state_of(emulator) == seeded
    assert emulator.chaos.state()["throttle"]["count"] == 0
    gone = await client.get(f"{base}/customer/{created.json()['Customer']['Id']}")
    assert gone.status_code == 400  # the token still works; the customer is gone


async def test_state_summarises_realms_and_counts(
    client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    before = (await client.get("/_emulator/state")).json()
    await client.post(f"{base}/customer", json={"DisplayName": "Counted Co"})
    after = (await client.get("/_emulator/state")).json()
    realm = next(r for r in after["realms"] if r["realmId"] == realm_id)
    old = next(r for r in before["realms"] if r["realmId"] == realm_id)
    assert realm["counts"]["Customer"] == old["counts"]["Customer"] + 1
    assert old["counts"]["Item"] >= 1
    assert old["counts"]["CreditMemo"] == 2 and old["counts"]["RefundReceipt"] == 0  # the seed
    assert after["webhooks"] == {"configured": False, "deliveries": 0}
    assert after["limits"]["requestsPerWindow"] == 500


async def test_a_new_realm_can_be_added_and_used(
    emulator: Emulator, client: httpx2.AsyncClient
) -> None:
    added = await client.post(
        "/_emulator/realms", json={"realmId": "4620816365111111111", "seed": "empty"}
    )
    assert added.status_code == 201
    tokens = await client.post("/_emulator/tokens", json={"realmId": "4620816365111111111"})
    assert tokens.status_code == 200
    assert tokens.json()["realmId"] == "4620816365111111111"
    async with in_process_client(emulator, tokens.json()["access_token"]) as other:
        info = await other.get("/v3/company/4620816365111111111/companyinfo/4620816365111111111")
    assert info.status_code == 200


async def test_a_realm_id_is_chosen_when_none_is_given(
    emulator: Emulator, client: httpx2.AsyncClient
) -> None:
    added = await client.post("/_emulator/realms", json={"companyName": "Second Company"})
    assert added.status_code == 201
    assert emulator.backend.has_company(added.json()["realmId"])


@pytest.mark.parametrize(
    "body",
    [
        b'{"realmId": "9341453050298"}',  # the demo realm exists already
        b'{"realmId": "abc"}',
        b'{"realmId": 12}',
        b'{"seed": "full"}',
        b'{"companyName": "   "}',
        b'{"colour": "red"}',
        b"[1]",
        b"{",
    ],
)
async def test_bad_realm_requests_are_400_and_add_nothing(
    emulator: Emulator, client: httpx2.AsyncClient, body: bytes
) -> None:
    before = emulator.backend.realm_ids()
    response = await client.post(
        "/_emulator/realms", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert emulator.backend.realm_ids() == before


async def test_tokens_default_to_the_demo_company(
    emulator: Emulator, realm_id: str, base: str
) -> None:
    async with in_process_client(emulator) as anonymous:
        tokens = await anonymous.post("/_emulator/tokens")
        assert tokens.status_code == 200
        body = tokens.json()
        assert body["realmId"] == realm_id
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        info = await anonymous.get(
            f"{base}/companyinfo/{realm_id}",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    assert info.status_code == 200


@pytest.mark.parametrize("body", [{"realmId": "404"}, {"realmId": 5}, {"realm": "x"}])
async def test_tokens_for_a_bad_realm_are_400(client: httpx2.AsyncClient, body: object) -> None:
    response = await client.post("/_emulator/tokens", json=body)
    assert response.status_code == 400
    assert "error" in response.json()


async def test_the_webhook_log_is_empty_when_not_configured(client: httpx2.AsyncClient) -> None:
    response = await client.get("/_emulator/webhooks")
    assert response.json() == {"configured": False, "deliveries": []}


async def test_webhooks_are_delivered_and_logged(clock: FakeClock, realm_id: str) -> None:
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
        created = await client.post(
            f"/v3/company/{realm_id}/customer", json={"DisplayName": "Hooked Co"}
        )
        assert created.status_code == 200
        assert emulator.webhooks is not None
        await emulator.webhooks.drained()
        log = (await client.get("/_emulator/webhooks")).json()
    assert log["configured"] is True
    assert log["deliveries"][0]["status"] == 200
    assert created.json()["Customer"]["Id"] in log["deliveries"][0]["body"]
    assert received[0].headers["intuit-signature"] == log["deliveries"][0]["signature"]


def test_a_webhook_url_needs_a_verifier_token(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="webhook_verifier_token"):
        Emulator(EmulatorConfig(webhook_url="http://listener.test/hook"), clock=clock)
