"""Property tests: whatever a client sends, the API answers QBO's fault or a result, never a crash,
and a refused request changes nothing."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from tests.emulator.conftest import FakeClock, in_process_client, state_of

BASE = f"/v3/company/{DEMO_REALM_ID}"
FIELDS = ["DisplayName", "Id", "SyncToken", "sparse", "Line", "CustomerRef", "TotalAmt", "Amount",
          "GivenName", "Active", "TxnDate", "LinkedTxn", "BatchItemRequest", "bId", "operation",
          "Customer", "Invoice", "Query", "value", "Qty", "UnitPrice", "ItemRef", "DetailType",
          "SalesItemLineDetail", "TxnId", "TxnType"]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["1", "0", "", "Services", "SalesItemLineDetail", "Invoice", "create"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)

# One emulator for every example: building one seeds a company, which is not free. Examples that
# succeed change it, which is fine: the property is about refusals and crashes.
EMULATOR = Emulator(
    EmulatorConfig(requests_per_window=10**9, batch_per_window=10**9), clock=FakeClock()
)
TOKEN = EMULATOR.issue_tokens().access_token
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def send(method: str, url: str, **kwargs: Any) -> tuple[httpx2.Response, bool]:
    """The answer, and whether the business state is unchanged."""

    async def go() -> tuple[httpx2.Response, bool]:
        before = state_of(EMULATOR)
        async with in_process_client(EMULATOR, TOKEN) as client:
            response = await client.request(method, url, **kwargs)
        return response, state_of(EMULATOR) == before

    return anyio.run(go)


def check(response: httpx2.Response, unchanged: bool) -> None:
    assert response.status_code in (200, 400), response.text
    body = response.json()
    if response.status_code == 400:
        assert isinstance(body["Fault"]["Error"][0]["code"], str)
        assert unchanged, f"a refused request changed the state: {response.text}"


@SETTINGS
@given(
    entity=st.sampled_from(
        ["customer", "item", "estimate", "invoice", "payment", "salesreceipt", "companyinfo"]
    ),
    operation=st.sampled_from([None, "delete", "void", "update", "update&include=void"]),
    body=json_values,
)
def test_any_json_body_gets_a_result_or_a_fault(
    entity: str, operation: str | None, body: Any
) -> None:
    url = f"{BASE}/{entity}" + (f"?operation={operation}" if operation else "")
    response, unchanged = send("POST", url, content=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"})  # fmt: skip
    check(response, unchanged)


@SETTINGS
@given(body=json_values)
def test_any_batch_body_gets_a_result_or_a_fault(body: Any) -> None:
    response, unchanged = send("POST", f"{BASE}/batch", content=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json"})  # fmt: skip
    check(response, unchanged)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_bytes_get_a_result_or_a_fault(raw: bytes) -> None:
    response, unchanged = send(
        "POST", f"{BASE}/customer", content=raw, headers={"Content-Type": "application/json"}
    )
    check(response, unchanged)


@SETTINGS
@given(
    query=st.text(max_size=80)
    | st.builds(
        "select {} from {} {}".format,
        st.sampled_from(["*", "count(*)", "Id", "*,"]),
        st.sampled_from(["Customer", "Invoice", "Vendor", "customer", ""]),
        st.text(max_size=40),
    )
)
def test_any_query_gets_a_result_or_a_fault(query: str) -> None:
    response, unchanged = send("GET", f"{BASE}/query", params={"query": query})
    check(response, unchanged)
    assert unchanged


@SETTINGS
@given(
    segments=st.lists(
        st.text(
            alphabet=st.characters(
                min_codepoint=0x21, blacklist_categories=["Cs"], blacklist_characters="/?#%\x7f"
            ),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=3,
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
)
def test_any_path_gets_a_result_or_a_fault(segments: list[str], method: str) -> None:
    response, unchanged = send(
        method,
        f"{BASE}/" + "/".join(segments),
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    check(response, unchanged)
