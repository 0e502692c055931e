"""Any input to the emulator's OAuth endpoints gets an OAuth answer, never a 500 or a grant."""

from __future__ import annotations

import anyio
import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from qb_mcp.emulator.oauth import OAuthServer

REALM = "9341453050298"
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
form_values = st.dictionaries(
    st.sampled_from(["grant_type", "code", "redirect_uri", "refresh_token", "client_id", "x"]),
    st.text(max_size=40),
    max_size=5,
)


def run(method: str, path: str, **kw: object) -> httpx2.Response:
    server = OAuthServer(
        clock=lambda: 1_800_000_000.0, client_id="app", default_realm=lambda: REALM
    )

    async def go() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=Starlette(routes=server.routes()))
        async with httpx2.AsyncClient(transport=transport, base_url="http://e") as c:
            return await c.request(method, path, **kw)  # type: ignore[arg-type]

    response = anyio.run(go)
    assert server.snapshot()["grants"] == {}
    return response


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), authorization=header_text)
def test_token_endpoint_never_fails_on_raw_bytes(body: bytes, authorization: str) -> None:
    r = run(
        "POST",
        "/oauth2/v1/tokens/bearer",
        content=body,
        headers={"Authorization": authorization.encode("latin-1")},
    )
    assert r.status_code in (400, 401)
    assert "error" in r.json()


@settings(max_examples=150, deadline=None)
@given(form=form_values)
def test_token_endpoint_never_grants_on_random_forms(form: dict[str, str]) -> None:
    r = run("POST", "/oauth2/v1/tokens/bearer", data=form, auth=("app", "any"))
    assert r.status_code in (400, 401)


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=200))
def test_revoke_never_fails_on_raw_bytes(body: bytes) -> None:
    r = run("POST", "/v2/oauth2/tokens/revoke", content=body, auth=("app", "x"))
    assert r.status_code in (200, 400)


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["client_id", "response_type", "scope", "redirect_uri", "state", "realmId", "x"]
        ),
        st.text(max_size=60),
        max_size=6,
    )
)
def test_authorize_answers_a_page_or_a_redirect(params: dict[str, str]) -> None:
    r = run("GET", "/connect/oauth2", params=params)
    assert r.status_code in (302, 400)


@settings(max_examples=150, deadline=None)
@given(
    scope=st.text(max_size=60),
    state=st.text(max_size=60),
    realm=st.text(max_size=20),
)
def test_authorize_with_a_valid_client_handles_any_scope_state_and_realm(
    scope: str, state: str, realm: str
) -> None:
    params = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": "http://localhost:1/cb",
        "scope": f"com.intuit.quickbooks.accounting {scope}",
        "state": state,
        "realmId": realm,
    }
    r = run("GET", "/connect/oauth2", params=params)
    assert r.status_code in (302, 400)
    if r.status_code == 302:
        assert r.headers["location"].startswith("http://localhost:1/cb?code=")
