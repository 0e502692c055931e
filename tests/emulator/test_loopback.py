"""Issue 2's acceptance tests, over real loopback HTTP against the emulator under uvicorn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from tests.emulator.conftest import FakeClock, served

pytestmark = pytest.mark.anyio

BASE = f"/v3/company/{DEMO_REALM_ID}"
REDIRECT = "http://localhost:8765/callback"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(client_id="app-id", client_secret="app-secret")


@pytest.fixture
def url(emulator: Emulator) -> Iterator[str]:
    with served(emulator) as base_url:
        yield base_url


async def token_from_the_token_endpoint(http: httpx2.AsyncClient) -> str:
    """The authorization-code flow, as a real app does it (the emulator consents at once)."""
    authorize = await http.get(
        "/connect/oauth2",
        params={
            "client_id": "app-id",
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": REDIRECT,
            "state": "xyz",
        },
    )
    assert authorize.status_code == 302
    callback = parse_qs(urlsplit(authorize.headers["location"]).query)
    assert callback["state"] == ["xyz"]
    assert callback["realmId"] == [DEMO_REALM_ID]
    tokens = await http.post(
        "/oauth2/v1/tokens/bearer",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"][0],
            "redirect_uri": REDIRECT,
        },
        auth=("app-id", "app-secret"),
    )
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


@pytest.fixture
async def api(url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=url, timeout=10) as http:
        token = await token_from_the_token_endpoint(http)
        http.headers["Authorization"] = f"Bearer {token}"
        http.headers["Accept"] = "application/json"
        yield http


def money(response: httpx2.Response, entity: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
    return dict(body[entity])


async def test_a_query_finds_a_seeded_name_with_an_apostrophe(api: httpx2.AsyncClient) -> None:
    response = await api.get(
        f"{BASE}/query",
        params={
            "query": r"select * from Customer where DisplayName = 'O\'Brien Plumbing'",
            "minorversion": "75",
        },
    )
    assert response.status_code == 200, response.text
    rows = response.json()["QueryResponse"]["Customer"]
    assert [row["DisplayName"] for row in rows] == ["O'Brien Plumbing"]


async def test_create_then_sparse_update_and_a_stale_synctoken_gets_5010(
    api: httpx2.AsyncClient,
) -> None:
    created = money(
        await api.post(f"{BASE}/customer", json={"DisplayName": "Loopback Co"}), "Customer"
    )
    assert created["SyncToken"] == "0"
    update = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Loop Ltd"}
    updated = money(await api.post(f"{BASE}/customer", json=update), "Customer")
    assert updated["SyncToken"] == "1"
    assert updated["CompanyName"] == "Loop Ltd"
    stale = await api.post(f"{BASE}/customer", json={**update, "CompanyName": "Too Late"})
    assert stale.status_code == 400
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"


async def test_an_estimate_becomes_an_invoice_that_is_paid_to_zero(
    api: httpx2.AsyncClient,
) -> None:
    customer = money(
        await api.post(f"{BASE}/customer", json={"DisplayName": "Quote To Cash Co"}), "Customer"
    )
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 150.00,
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 3, "UnitPrice": 50.00},
    }
    customer_ref = {"value": customer["Id"]}
    estimate = money(
        await api.post(f"{BASE}/estimate", json={"CustomerRef": customer_ref, "Line": [line]}),
        "Estimate",
    )
    invoice = money(
        await api.post(
            f"{BASE}/invoice",
            json={
                "CustomerRef": customer_ref,
                "Line": [line],
                "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
            },
        ),
        "Invoice",
    )
    assert invoice["Balance"] == invoice["TotalAmt"] == Decimal("150.00")
    linked = money(await api.get(f"{BASE}/estimate/{estimate['Id']}"), "Estimate")
    assert {"TxnId": invoice["Id"], "TxnType": "Invoice"} in linked["LinkedTxn"]
    payment = {
        "TotalAmt": 150.00,
        "CustomerRef": customer_ref,
        "Line": [{"Amount": 150.00, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    money(await api.post(f"{BASE}/payment", json=payment), "Payment")
    paid = money(await api.get(f"{BASE}/invoice/{invoice['Id']}"), "Invoice")
    assert paid["Balance"] == Decimal("0")
    assert money(await api.get(f"{BASE}/customer/{customer['Id']}"), "Customer")["Balance"] == 0


async def test_a_repeated_requestid_writes_once(api: httpx2.AsyncClient) -> None:
    body = {"DisplayName": "Once Only Co"}
    first = await api.post(f"{BASE}/customer?requestid=loopback-1&minorversion=75", json=body)
    second = await api.post(f"{BASE}/customer?requestid=loopback-1&minorversion=75", json=body)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    found = await api.get(
        f"{BASE}/query",
        params={"query": "select count(*) from Customer where DisplayName = 'Once Only Co'"},
    )
    assert found.json()["QueryResponse"]["totalCount"] == 1


async def test_eleven_concurrent_requests_get_a_429_with_the_xml_body(
    emulator: Emulator, api: httpx2.AsyncClient
) -> None:
    emulator.chaos.set_latency(0.3)
    responses: list[httpx2.Response] = []

    async def one() -> None:
        responses.append(await api.get(f"{BASE}/companyinfo/{DEMO_REALM_ID}"))

    async with anyio.create_task_group() as tasks:
        for _ in range(11):
            tasks.start_soon(one)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429]
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.headers["content-type"].startswith("application/xml")
    assert b'<Error code="3001">' in throttled.content


async def test_more_than_the_per_minute_budget_gets_429(
    emulator: Emulator, api: httpx2.AsyncClient, clock: FakeClock
) -> None:
    emulator.limiter.requests_per_window = 20
    statuses = [
        (await api.get(f"{BASE}/companyinfo/{DEMO_REALM_ID}")).status_code for _ in range(21)
    ]
    assert statuses == [200] * 20 + [429]
    clock.advance(60)
    assert (await api.get(f"{BASE}/companyinfo/{DEMO_REALM_ID}")).status_code == 200


async def test_a_dropped_response_looks_like_a_reset_connection(
    emulator: Emulator, api: httpx2.AsyncClient
) -> None:
    emulator.chaos.drop_responses(count=1)
    with pytest.raises(httpx2.TransportError):
        await api.post(f"{BASE}/customer", json={"DisplayName": "Cut Off Co"})
    found = await api.get(
        f"{BASE}/query",
        params={"query": "select count(*) from Customer where DisplayName = 'Cut Off Co'"},
    )
    assert found.json()["QueryResponse"]["totalCount"] == 1


async def test_latency_makes_a_real_client_time_out(emulator: Emulator, url: str) -> None:
    emulator.chaos.set_latency(1)
    token = emulator.issue_tokens().access_token
    async with httpx2.AsyncClient(
        base_url=url, timeout=0.2, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        with pytest.raises(httpx2.TimeoutException):
            await http.get(f"{BASE}/companyinfo/{DEMO_REALM_ID}")
