"""The request pipeline against the in-process emulator: headers, tokens, retries, faults."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx2
import pytest

from qb_mcp.config import Settings
from qb_mcp.errors import (
    AuthenticationError,
    ConfigError,
    InvalidArgumentError,
    NotFoundError,
    ServerError,
    TransportError,
    ValidationError,
)
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.limiter import Limits, RealmLimiter, limiter_for
from qb_mcp.qbo.query import Query
from qb_mcp.qbo.retry import RetryPolicy
from qb_mcp.qbo.token_source import StaticTokenSource
from tests.qbo.pipeline_support import (
    REALM,
    RecordingTransport,
    Sleeps,
    make_client,
    roomy_emulator,
)
from tests.qbo.virtual_time import VirtualTime

pytestmark = pytest.mark.anyio


class RefreshingTokens:
    """A token source whose first token QuickBooks does not know; refreshing gets a real one
    from the emulator (the auth layer's job in production)."""

    def __init__(self, emulator: object, first: str = "expired-token-4f1c2a9b") -> None:
        self._emulator = emulator
        self.token = first
        self.refreshes: list[str] = []

    async def access_token(self, realm_id: str) -> str:
        return self.token

    async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
        self.refreshes.append(rejected_token)
        self.token = self._emulator.issue_tokens(realm_id).access_token  # type: ignore[attr-defined]
        return self.token


async def test_every_request_carries_token_json_and_minorversion() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    token = emulator.issue_tokens(REALM).access_token
    async with make_client(
        emulator, transport=transport, token_source=StaticTokenSource({REALM: token})
    ) as client:
        await client.company_info()
        await client.query("select * from Customer")
        await client.create("Customer", {"DisplayName": "Header Check"})
    assert len(transport.sent) == 3
    for sent in transport.sent:
        assert sent.headers["authorization"] == f"Bearer {token}"
        assert sent.headers["accept"] == "application/json"
        assert sent.params["minorversion"] == ["75"]
        assert sent.path.startswith(f"/v3/company/{REALM}/")


async def test_intuit_tid_of_the_last_answer_is_kept() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        await client.company_info()
        first = client.last_intuit_tid
        await client.company_info()
        assert first and client.last_intuit_tid and first != client.last_intuit_tid


async def test_errors_carry_the_intuit_tid() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get("Customer", "999999")
    assert caught.value.intuit_tid is not None
    assert caught.value.intuit_tid == client.last_intuit_tid


async def test_money_goes_out_as_json_numbers_and_comes_back_as_decimal() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        invoice = await client.create(
            "Invoice",
            {
                "CustomerRef": {"value": "1"},
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Amount": "100.10",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": "1"},
                            "Qty": 2,
                            "UnitPrice": Decimal("50.05"),
                        },
                    }
                ],
            },
        )
    assert b'"Amount":100.10' in transport.writes()[0].content
    assert invoice["TotalAmt"] == Decimal("100.10")
    assert isinstance(invoice["TotalAmt"], Decimal)


async def test_a_rejected_token_is_refreshed_once_and_the_request_retried() -> None:
    emulator = roomy_emulator()
    tokens = RefreshingTokens(emulator)
    async with make_client(emulator, token_source=tokens) as client:
        info = await client.company_info()
    assert info["Id"] or info["CompanyName"]
    assert tokens.refreshes == ["expired-token-4f1c2a9b"]


async def test_a_second_rejection_is_final() -> None:
    emulator = roomy_emulator()

    class NeverValid(RefreshingTokens):
        async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
            self.refreshes.append(rejected_token)
            return "still-not-valid-7d3e"

    tokens = NeverValid(emulator)
    async with make_client(emulator, token_source=tokens) as client:
        with pytest.raises(AuthenticationError):
            await client.company_info()
    assert tokens.refreshes == ["expired-token-4f1c2a9b"]


async def test_no_token_appears_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    emulator = roomy_emulator()
    secret = "tok-SECRET-9c2f1e8d7b6a"

    class Leaky(RefreshingTokens):
        async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
            return secret + "-refreshed"

    sleeps = Sleeps()
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with make_client(
        emulator, token_source=Leaky(emulator, first=secret), sleeps=sleeps
    ) as client:
        try:
            await client.create("Customer", {"DisplayName": "Never Written"})
        except AuthenticationError as exc:
            errors.append(exc)
        emulator.chaos.fail_requests(503, count=10)
        client._tokens = StaticTokenSource({REALM: secret})  # a valid-looking, unknown token
        try:
            await client.get("Customer", "1")
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    text = caplog.text + "".join(f"{e!s}{e!r}{e.args!r}{vars(e)!r}" for e in errors)
    assert "SECRET" not in text
    assert "authorization" not in caplog.text.lower()


async def test_server_errors_are_retried_with_backoff() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.fail_requests(503, count=2)
    async with make_client(emulator, sleeps=sleeps) as client:
        info = await client.company_info()
    assert info
    assert sleeps.delays == [0.5, 1.0]  # jitter pinned at its maximum


async def test_code_10000_is_retried() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.fail_requests(500, count=1)
    async with make_client(emulator, sleeps=sleeps) as client:
        await client.company_info()
    assert sleeps.delays == [0.5]


async def test_throttling_is_waited_out_a_minute_at_a_time() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.throttle(count=3)
    async with make_client(emulator, sleeps=sleeps) as client:
        await client.company_info()
    # Intuit asks for 60 s after a 3001 (plus our jitter, 5 s at its top with jitter=1.0).
    assert sleeps.delays == [65.0, 65.0, 65.0]


async def test_throttling_past_its_allowance_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    from qb_mcp.errors import ThrottledError

    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.throttle(count=10)
    caplog.set_level(logging.INFO, logger="qb_mcp.qbo.client")
    async with make_client(emulator, sleeps=sleeps) as client:
        with pytest.raises(ThrottledError):
            await client.company_info()
    assert len(sleeps.delays) == RetryPolicy().max_throttle_waits
    # Each wait is announced, with the wait as data for forwarding to the MCP client.
    notices = [r for r in caplog.records if getattr(r, "qbo_wait_reason", None) == "throttled"]
    assert [r.qbo_wait_seconds for r in notices] == sleeps.delays  # type: ignore[attr-defined]
    assert all(r.levelno == logging.INFO and "throttled" in r.getMessage() for r in notices)


async def test_throttles_do_not_use_up_the_retries_of_other_failures() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.throttle(count=3)
    async with make_client(
        emulator, sleeps=sleeps, retry=RetryPolicy(max_attempts=2, jitter=lambda: 1.0, sleep=sleeps)
    ) as client:
        await client.company_info()
        emulator.chaos.fail_requests(503, count=1)
        await client.company_info()
    assert sleeps.delays == [65.0, 65.0, 65.0, 0.5]


async def test_retries_stop_at_the_maximum_attempts() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    emulator.chaos.fail_requests(503, count=10)
    transport = RecordingTransport(emulator)
    retry = RetryPolicy(max_attempts=3, jitter=lambda: 1.0, sleep=sleeps)
    async with make_client(emulator, transport=transport, retry=retry) as client:
        with pytest.raises(ServerError) as caught:
            await client.company_info()
    assert caught.value.status_code == 503
    assert len(transport.sent) == 3
    assert len(sleeps.delays) == 2


async def test_validation_faults_are_never_retried() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport, sleeps=sleeps) as client:
        with pytest.raises(ValidationError):
            await client.query("select * from Customer where PrimaryPhone = '555'")
    assert len(transport.sent) == 1
    assert sleeps.delays == []


async def test_connection_failures_become_transport_errors() -> None:
    async def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    sleeps = Sleeps()
    client = QBOClient(
        realm_id=REALM,
        token_source=StaticTokenSource({REALM: "t"}),
        base_url="http://127.0.0.1:9",
        transport=httpx2.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=2, jitter=lambda: 1.0, sleep=sleeps),
    )
    async with client:
        with pytest.raises(TransportError, match="connection to QuickBooks failed"):
            await client.company_info()
    assert sleeps.delays == [0.5]


async def test_two_clients_of_one_realm_share_one_limiter() -> None:
    tokens = StaticTokenSource({"4620816365000000001": "t"})
    options = {"realm_id": "4620816365000000001", "token_source": tokens, "base_url": "http://x"}
    async with QBOClient(**options) as first, QBOClient(**options) as second:  # type: ignore[arg-type]
        assert first.limiter is second.limiter is limiter_for("4620816365000000001")


async def test_get_and_query_read_objects() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        created = await client.create("Customer", {"DisplayName": "Read Me"})
        read = await client.get("customer", created["Id"])
        found = await client.query(Query.select("Customer").where("DisplayName", "=", "Read Me"))
    assert read["DisplayName"] == "Read Me"
    assert [row["Id"] for row in found["Customer"]] == [created["Id"]]


async def test_query_all_pages_through_every_row() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        for n in range(7):
            await client.create("Customer", {"DisplayName": f"Pager {n}"})
        counted = await client.query("select count(*) from Customer")
        rows = [row async for row in client.query_all(Query.select("Customer"), page_size=3)]
    assert len(rows) == counted["totalCount"]
    assert len({row["Id"] for row in rows}) == len(rows)
    assert {f"Pager {n}" for n in range(7)} <= {row["DisplayName"] for row in rows}


async def test_change_data_capture_returns_changed_objects() -> None:
    emulator = roomy_emulator()
    async with make_client(emulator) as client:
        created = await client.create("Customer", {"DisplayName": "Changed Lately"})
        changes = await client.cdc(["customer", "Invoice"], datetime.now(UTC) - timedelta(hours=1))
    assert created["Id"] in {row["Id"] for row in changes["Customer"]}
    assert "Invoice" in changes


@pytest.mark.parametrize(
    "since",
    [
        datetime.now(UTC) - timedelta(days=31),
        datetime.now(UTC) + timedelta(hours=1),
        datetime.now() - timedelta(days=1),  # naive: no time zone
    ],
)
async def test_change_data_capture_refuses_bad_times_before_sending(since: datetime) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        with pytest.raises(InvalidArgumentError):
            await client.cdc(["Customer"], since)
    assert transport.sent == []


@pytest.mark.parametrize(
    ("entity", "entity_id"),
    [("Customer", ""), ("Customer", "  "), ("Vendorz", "1"), ("Customer", "1/../2")],
)
async def test_bad_reads_are_refused_before_sending(entity: str, entity_id: str) -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        with pytest.raises(InvalidArgumentError):
            await client.get(entity, entity_id)
        with pytest.raises(InvalidArgumentError):
            await client.query("   ")
    assert transport.sent == []


def test_a_non_numeric_realm_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="realm"):
        QBOClient(realm_id="abc", token_source=StaticTokenSource({}), base_url="http://x")


async def test_query_all_refuses_a_bad_page_size_before_sending() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    async with make_client(emulator, transport=transport) as client:
        with pytest.raises(InvalidArgumentError):
            [row async for row in client.query_all(Query.select("Customer"), page_size=1001)]
    assert transport.sent == []


async def test_the_client_can_be_built_from_settings() -> None:
    emulator = roomy_emulator()
    settings = Settings(environment="emulator", realm_id=REALM)
    tokens = StaticTokenSource({REALM: emulator.issue_tokens(REALM).access_token})
    client = QBOClient.from_settings(
        settings, token_source=tokens, transport=httpx2.ASGITransport(app=emulator.app)
    )
    async with client:
        assert (await client.company_info())["CompanyName"]


def test_settings_give_the_production_url_and_refuse_a_missing_realm() -> None:
    tokens = StaticTokenSource({})
    client = QBOClient.from_settings(Settings(realm_id="123"), token_source=tokens)
    assert str(client._http.base_url).startswith("https://quickbooks.api.intuit.com")
    with pytest.raises(ConfigError, match="QBO_REALM_ID"):
        QBOClient.from_settings(Settings(), token_source=tokens)
    with pytest.raises(ConfigError, match="QBO_API_BASE_URL"):
        QBOClient.from_settings(Settings(environment="emulator", realm_id="1"), token_source=tokens)


async def test_the_token_is_taken_after_the_limiter_wait_not_before() -> None:
    time = VirtualTime()
    emulator = roomy_emulator()
    taken_at: list[float] = []

    class RecordingTokens(StaticTokenSource):
        async def access_token(self, realm_id: str) -> str:
            taken_at.append(time.clock())
            return await super().access_token(realm_id)

    tokens = RecordingTokens({REALM: emulator.issue_tokens(REALM).access_token})
    one_a_minute = RealmLimiter(
        Limits(requests_per_window=1, window_seconds=60.0), clock=time.clock, sleep=time.sleep
    )
    start = time.clock()
    async with make_client(emulator, token_source=tokens, limiter=one_a_minute) as client:
        await asyncio.gather(client.company_info(), client.company_info())
    assert len(taken_at) == 2
    assert taken_at[0] == start
    assert taken_at[1] >= start + 60.0, "the second token must be fetched after its long wait"
