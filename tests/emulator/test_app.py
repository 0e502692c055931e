"""The emulator's HTTP layer: routes, headers, auth, faults, and bad input that changes nothing."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig
from tests.emulator.conftest import FakeClock, in_process_client, state_of

pytestmark = pytest.mark.anyio

TID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}\Z")


def fault_code(response: httpx2.Response) -> str:
    return str(response.json()["Fault"]["Error"][0]["code"])


async def create_customer(client: httpx2.AsyncClient, base: str, name: str) -> dict[str, Any]:
    response = await client.post(f"{base}/customer", json={"DisplayName": name})
    assert response.status_code == 200, response.text
    customer: dict[str, Any] = response.json()["Customer"]
    return customer


async def test_answers_carry_time_and_a_fresh_intuit_tid(
    client: httpx2.AsyncClient, base: str, realm_id: str
) -> None:
    first = await client.get(f"{base}/companyinfo/{realm_id}?minorversion=75")
    second = await client.get(f"{base}/companyinfo/{realm_id}?minorversion=75")
    assert first.status_code == 200
    assert "CompanyInfo" in first.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[-+]\d\d:\d\d", first.json()["time"])
    assert TID.match(first.headers["intuit_tid"])
    assert first.headers["intuit_tid"] != second.headers["intuit_tid"]


async def test_faults_carry_an_intuit_tid_too(client: httpx2.AsyncClient, base: str) -> None:
    response = await client.get(f"{base}/nothing-here/1")
    assert TID.match(response.headers["intuit_tid"])


async def test_entity_segment_is_case_insensitive(client: httpx2.AsyncClient, base: str) -> None:
    created = await create_customer(client, base, "Case Test Co")
    for segment in ("customer", "Customer", "CUSTOMER"):
        response = await client.get(f"{base}/{segment}/{created['Id']}")
        assert response.status_code == 200
        assert response.json()["Customer"]["DisplayName"] == "Case Test Co"


async def test_reads_writes_queries_and_cdc_are_routed(
    client: httpx2.AsyncClient, base: str
) -> None:
    created = await create_customer(client, base, "Routing Co")
    read = await client.get(f"{base}/customer/{created['Id']}")
    assert read.json()["Customer"]["Id"] == created["Id"]
    by_get = await client.get(
        f"{base}/query", params={"query": "select * from Customer where DisplayName = 'Routing Co'"}
    )
    by_post = await client.post(
        f"{base}/query",
        content=b"select * from Customer where DisplayName = 'Routing Co'",
        headers={"Content-Type": "application/text"},
    )
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.json()["QueryResponse"] == by_post.json()["QueryResponse"]
    assert by_get.json()["QueryResponse"]["Customer"][0]["Id"] == created["Id"]
    cdc = await client.get(
        f"{base}/cdc", params={"entities": "Customer", "changedSince": "2026-01-14T00:00:00Z"}
    )
    assert cdc.status_code == 200
    assert "CDCResponse" in cdc.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/v3/company"),
        ("GET", "/v3/company/{realm}"),
        ("POST", "/v3/company/{realm}/widget"),
        ("GET", "/v3/company/{realm}/widget/1"),
        ("GET", "/v3/company/{realm}/customer"),  # a read needs an id
        ("PUT", "/v3/company/{realm}/customer"),
        ("DELETE", "/v3/company/{realm}/customer/1"),
        ("PATCH", "/v3/company/{realm}/invoice"),
        ("POST", "/v3/company/{realm}/customer/1"),
        ("GET", "/v3/company/{realm}/batch"),
        ("POST", "/v3/company/{realm}/cdc"),
        ("POST", "/v3/company/{realm}/invoice/1/pdf"),  # a PDF is only read
        ("GET", "/v3/company/{realm}/invoice/1/print"),
    ],
)
async def test_unknown_paths_and_methods_get_fault_500(
    client: httpx2.AsyncClient, realm_id: str, method: str, path: str
) -> None:
    response = await client.request(
        method, path.format(realm=realm_id), json={} if method != "GET" else None
    )
    assert response.status_code == 400
    body = response.json()
    assert body["Fault"]["type"] == "ValidationFault"
    assert body["Fault"]["Error"][0]["code"] == "500"
    assert body["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    assert "time" in body


async def test_a_missing_token_is_the_gateway_401(emulator: Emulator, base: str) -> None:
    async with in_process_client(emulator) as anonymous:
        response = await anonymous.get(f"{base}/customer/1")
    assert response.status_code == 401
    body = response.json()
    assert body["fault"]["error"][0]["code"] == "3200"
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert isinstance(body["time"], int)


async def test_an_expired_token_is_refused(
    client: httpx2.AsyncClient, clock: FakeClock, base: str
) -> None:
    clock.advance(3601)
    response = await client.get(f"{base}/customer/1")
    assert response.status_code == 401


async def test_a_token_for_another_realm_is_refused(
    emulator: Emulator, client: httpx2.AsyncClient
) -> None:
    emulator.backend.add_company("4620816365000000000", seed="empty")
    response = await client.get("/v3/company/4620816365000000000/companyinfo/4620816365000000000")
    assert response.status_code == 401


async def test_an_unknown_realm_is_403_3100_without_auth(clock: FakeClock) -> None:
    emulator = Emulator(EmulatorConfig(require_auth=False), clock=clock)
    async with in_process_client(emulator) as client:
        response = await client.get("/v3/company/123/companyinfo/123")
    assert response.status_code == 403
    assert response.json()["fault"]["error"][0]["code"] == "3100"


async def test_auth_can_be_switched_off(clock: FakeClock, base: str, realm_id: str) -> None:
    emulator = Emulator(EmulatorConfig(require_auth=False), clock=clock)
    async with in_process_client(emulator) as client:
        response = await client.get(f"{base}/companyinfo/{realm_id}")
    assert response.status_code == 200


@pytest.mark.parametrize("minorversion", ["75", "4", "999", "abc", ""])
async def test_any_minorversion_is_served(
    client: httpx2.AsyncClient, base: str, realm_id: str, minorversion: str
) -> None:
    response = await client.get(
        f"{base}/companyinfo/{realm_id}", params={"minorversion": minorversion}
    )
    assert response.status_code == 200


async def test_json_is_answered_even_without_accept_json(
    emulator: Emulator, base: str, realm_id: str
) -> None:
    token = emulator.issue_tokens().access_token
    async with in_process_client(emulator, token) as client:
        response = await client.get(
            f"{base}/companyinfo/{realm_id}", headers={"Accept": "application/xml"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


async def test_money_is_written_as_json_numbers(client: httpx2.AsyncClient, base: str) -> None:
    customer = await create_customer(client, base, "Money Co")
    response = await client.post(
        f"{base}/invoice",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 100.10,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": "1"},
                        "Qty": 1,
                        "UnitPrice": 100.10,
                    },
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    invoice = json.loads(response.content, parse_float=Decimal)["Invoice"]
    assert isinstance(invoice["TotalAmt"], Decimal)
    assert invoice["TotalAmt"] == Decimal("100.10")
    assert isinstance(invoice["Balance"], Decimal)


async def test_companyinfo_of_another_id_is_not_found(
    client: httpx2.AsyncClient, base: str
) -> None:
    response = await client.get(f"{base}/companyinfo/1")
    assert response.status_code == 400
    assert fault_code(response) == "610"


@pytest.mark.parametrize(
    "params",
    [{"entities": "Customer"}, {"changedSince": "2026-01-14T00:00:00Z"}, {}],
)
async def test_cdc_without_its_parameters_is_2020(
    client: httpx2.AsyncClient, base: str, params: dict[str, str]
) -> None:
    response = await client.get(f"{base}/cdc", params=params)
    assert response.status_code == 400
    assert fault_code(response) == "2020"


async def test_a_get_query_without_query_is_2020(client: httpx2.AsyncClient, base: str) -> None:
    response = await client.get(f"{base}/query")
    assert response.status_code == 400
    assert fault_code(response) == "2020"


# ---- bad input: QBO's fault, and nothing changes ----------------------------------------------

BAD_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("malformed JSON", {"content": b'{"DisplayName": "x"', "ctype": "application/json"}),
    ("a JSON array", {"content": b'[{"DisplayName": "x"}]', "ctype": "application/json"}),
    ("a JSON string", {"content": b'"DisplayName"', "ctype": "application/json"}),
    ("not UTF-8", {"content": b'{"DisplayName": "\xff"}', "ctype": "application/json"}),
    (
        "XML",
        {
            "content": b"<Customer><DisplayName>x</DisplayName></Customer>",
            "ctype": "application/xml",
        },
    ),
    ("form data", {"content": b"DisplayName=x", "ctype": "application/x-www-form-urlencoded"}),
    ("no content type", {"content": b'{"DisplayName": "x"}', "ctype": None}),
    (
        "an oversized body",
        {
            "content": b'{"DisplayName": "' + b"x" * (10 * 1024 * 1024) + b'"}',
            "ctype": "application/json",
        },
    ),
]


@pytest.mark.parametrize(("what", "request_spec"), BAD_WRITES, ids=[w for w, _ in BAD_WRITES])
@pytest.mark.parametrize("endpoint", ["customer", "batch", "customer?operation=delete"])
async def test_unreadable_bodies_get_2010_and_change_nothing(
    emulator: Emulator,
    client: httpx2.AsyncClient,
    base: str,
    endpoint: str,
    what: str,
    request_spec: dict[str, Any],
) -> None:
    before = state_of(emulator)
    headers = {"Content-Type": request_spec["ctype"]} if request_spec["ctype"] else {}
    response = await client.post(
        f"{base}/{endpoint}", content=request_spec["content"], headers=headers
    )
    assert response.status_code == 400, what
    assert fault_code(response) == "2010"
    assert state_of(emulator) == before


async def test_an_unknown_operation_is_refused_and_changes_nothing(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    customer = await create_customer(client, base, "Operation Co")
    before = state_of(emulator)
    response = await client.post(
        f"{base}/customer?operation=explode",
        json={"Id": customer["Id"], "SyncToken": customer["SyncToken"]},
    )
    assert response.status_code == 400
    assert fault_code(response) == "500"
    assert state_of(emulator) == before


async def test_a_query_with_the_wrong_content_type_is_refused(
    client: httpx2.AsyncClient, base: str
) -> None:
    response = await client.post(f"{base}/query", json={"query": "select * from Customer"})
    assert response.status_code == 400
    assert fault_code(response) == "2010"


async def test_a_bad_query_is_4000_and_changes_nothing(
    emulator: Emulator, client: httpx2.AsyncClient, base: str
) -> None:
    before = state_of(emulator)
    response = await client.get(f"{base}/query", params={"query": "select * from Customer where"})
    assert response.status_code == 400
    assert fault_code(response) == "4000"
    assert state_of(emulator) == before


async def test_an_unexpected_error_is_qbo_system_fault_10000(
    client: httpx2.AsyncClient, clock: FakeClock, base: str
) -> None:
    clock.break_next_read()  # the first component to read the clock fails, as a bug would
    response = await client.get(f"{base}/customer/1")
    assert response.status_code == 500
    body = response.json()
    assert body["Fault"]["type"] == "SystemFault"
    assert body["Fault"]["Error"][0]["code"] == "10000"


@pytest.mark.parametrize("entity_id", ["abc", "-1", "0", "9" * 200, "%20", "1.5"])
async def test_reads_of_bad_ids_are_faults_not_errors(
    emulator: Emulator, client: httpx2.AsyncClient, base: str, entity_id: str
) -> None:
    before = state_of(emulator)
    response = await client.get(f"{base}/customer/{entity_id}")
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] in {"610", "2030"}
    assert state_of(emulator) == before


async def test_a_sample_query_with_url_encoded_backslashes_works(
    client: httpx2.AsyncClient, base: str
) -> None:
    query = r"select * from Customer where DisplayName = 'O\'Brien Plumbing'"
    response = await client.post(
        f"{base}/query", content=query.encode(), headers={"Content-Type": "application/text"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["QueryResponse"]["Customer"][0]["DisplayName"] == "O'Brien Plumbing"
