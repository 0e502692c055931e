"""The MCP protocol around the tools: prompt arguments, -32602 for bad prompt and resource
requests, completions from the company's data, and logging as `notifications/message`, in both
protocol eras."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, LoggingMessageNotificationParams, PromptReference
from mcp.types import ResourceTemplateReference as TemplateRef

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from tests.server.conftest import TEST_LIMITS, connect
from tests.server.test_tools import CONTACT

pytestmark = [
    pytest.mark.anyio,
    # MCP logging is deprecated as of 2026-07-28 (SEP-2577) but kept, in the SDK and here.
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


async def test_every_prompt_argument_has_a_description(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        prompts = (await s.client.list_prompts()).prompts
    for prompt in prompts:
        for argument in prompt.arguments or []:
            assert argument.description, f"{prompt.name}.{argument.name}"


async def test_an_unknown_prompt_is_invalid_params_without_a_traceback(
    settings: Settings, emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(settings, emulator, mode) as s:
        with pytest.raises(MCPError) as raised:
            await s.client.get_prompt("no_such_prompt", {})
    assert raised.value.error.code == INVALID_PARAMS
    assert "no_such_prompt" in raised.value.error.message
    assert "quote_to_cash" in raised.value.error.message  # says what exists
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_missing_prompt_argument_is_invalid_params_naming_it(
    settings: Settings, emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(settings, emulator, mode) as s:
        with pytest.raises(MCPError) as raised:
            await s.client.get_prompt("quote_to_cash", {"customer": "Rosa Diaz"})
    assert raised.value.error.code == INVALID_PARAMS
    assert "work" in raised.value.error.message
    assert "customer" not in raised.value.error.message.split(":", 1)[1].split("(")[0]
    assert not [r for r in caplog.records if r.exc_info]


async def test_an_unknown_resource_is_invalid_params(
    settings: Settings, emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(settings, emulator, mode) as s:
        with pytest.raises(MCPError) as raised:
            await s.client.read_resource("qbo://nothing/here")
    assert raised.value.error.code == INVALID_PARAMS
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_prompt_renders_its_optional_arguments(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        got = await s.client.get_prompt(
            "collect_payment", {"customer": "Rosa Diaz", "amount": "150.00", "invoice": "1037"}
        )
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "Rosa Diaz" in text and "150.00" in text and "Invoice: 1037" in text


# ---- completions ---------------------------------------------------------------------------------


async def test_customer_names_complete_from_the_company(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        await s.call("upsert_customer", CONTACT)
        found = await s.client.complete(
            PromptReference(name="quote_to_cash"), {"name": "customer", "value": "ros"}
        )
    assert CONTACT["display_name"] in found.completion.values
    assert all("ros" in value.casefold() for value in found.completion.values)


async def test_open_invoice_numbers_complete_for_the_chosen_customer(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        customer = (await s.call("upsert_customer", CONTACT))["customer"]
        estimate = await s.call(
            "create_estimate",
            {
                "customer_id": customer["id"],
                "lines": [{"item_name": "Design", "quantity": 1, "unit_price": "75.00"}],
            },
        )
        invoice = (await s.call("convert_estimate", {"estimate_id": estimate["id"]}))["invoice"]
        found = await s.client.complete(
            PromptReference(name="collect_payment"),
            {"name": "invoice", "value": ""},
            context_arguments={"customer": CONTACT["display_name"]},
        )
        estimates = await s.client.complete(
            PromptReference(name="quote_to_cash"),
            {"name": "estimate", "value": ""},
            context_arguments={"customer": CONTACT["display_name"]},
        )
    assert found.completion.values == [invoice["doc_number"]]
    assert estimates.completion.values == [estimate["doc_number"]]


async def test_fault_codes_complete_with_the_ones_met_first(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        await s.fail("query", {"query": "SELECT * FROM Invoice WHERE Colour = 'red'"})
        found = await s.client.complete(
            PromptReference(name="debug_integration"), {"name": "error", "value": ""}
        )
        six = await s.client.complete(
            PromptReference(name="debug_integration"), {"name": "error", "value": "61"}
        )
    assert found.completion.values[0] == "4001"  # the query fault just met
    assert six.completion.values and all("61" in v for v in six.completion.values)


async def test_event_ids_complete_for_the_events_template(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        await s.call("upsert_customer", CONTACT)
        changes = await s.call("recent_changes", {"catch_up": True})
        found = await s.client.complete(
            TemplateRef(uri="qbo://events/{event_id}"), {"name": "event_id", "value": ""}
        )
    ids = [change["event_id"] for change in changes["changes"]]
    assert ids and set(found.completion.values) == set(ids[: len(found.completion.values)])


async def test_an_argument_with_nothing_to_offer_completes_empty(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        found = await s.client.complete(
            PromptReference(name="quote_to_cash"), {"name": "work", "value": "des"}
        )
    assert found.completion.values == []


# ---- logging -------------------------------------------------------------------------------------


class Logs:
    def __init__(self) -> None:
        self.received: list[LoggingMessageNotificationParams] = []

    async def __call__(self, params: LoggingMessageNotificationParams) -> None:
        self.received.append(params)

    def messages(self) -> list[str]:
        return [str(p.data["message"]) for p in self.received]  # type: ignore[index]


def _client(settings: Settings, emulator: Emulator, logs: Logs, **options: Any) -> Client:
    server = build_server(settings, emulator=emulator, limiter=RealmLimiter(TEST_LIMITS))
    return Client(server, logging_callback=logs, **options)


async def test_a_legacy_client_gets_the_quickbooks_requests_at_the_level_it_set(
    settings: Settings, emulator: Emulator
) -> None:
    logs = Logs()
    async with _client(settings, emulator, logs, mode="legacy") as client:
        await client.call_tool("find_customer", {"name": "Rosa"})
        assert logs.received == []  # nothing until a level is set
        await client.set_logging_level("debug")
        # By id: a read QuickBooks answers (a name lookup this soon is answered from the index).
        await client.call_tool("find_customer", {"customer_id": "1"})
    requests = [m for m in logs.messages() if "intuit_tid" in m]
    assert requests, logs.messages()
    assert all(p.logger and p.logger.startswith("qb_mcp") for p in logs.received)
    assert {p.level for p in logs.received} <= {"debug", "info", "warning", "error", "critical"}


async def test_a_legacy_client_at_warning_gets_no_debug_records(
    settings: Settings, emulator: Emulator
) -> None:
    logs = Logs()
    async with _client(settings, emulator, logs, mode="legacy") as client:
        await client.set_logging_level("warning")
        await client.call_tool("find_customer", {"name": "Rosa"})
    assert logs.received == []


async def test_a_modern_client_opts_in_per_request(settings: Settings, emulator: Emulator) -> None:
    logs = Logs()
    async with _client(settings, emulator, logs, mode="auto", log_level="debug") as client:
        await client.call_tool("find_customer", {"name": "Rosa"})
    assert [m for m in logs.messages() if "intuit_tid" in m]


async def test_a_modern_client_that_did_not_opt_in_gets_nothing(
    settings: Settings, emulator: Emulator
) -> None:
    logs = Logs()
    async with _client(settings, emulator, logs, mode="auto") as client:
        await client.call_tool("find_customer", {"name": "Rosa"})
    assert logs.received == []


async def test_a_modern_client_cannot_set_a_level(settings: Settings, emulator: Emulator) -> None:
    # 2026-07-28 removed logging/setLevel; the per-request opt-in replaces it.
    async with _client(settings, emulator, Logs(), mode="auto") as client:
        with pytest.raises(MCPError):
            await client.set_logging_level("debug")


async def test_forwarded_logs_carry_no_token_or_secret(
    settings: Settings, emulator: Emulator
) -> None:
    logs = Logs()
    leaky = logging.getLogger("qb_mcp.test_leak")

    async with _client(settings, emulator, logs, mode="legacy") as client:
        await client.set_logging_level("debug")
        server_log_call = client.call_tool("find_customer", {"name": "Rosa"})
        leaky.warning("Authorization: Bearer abc.def.ghi refresh_token=RT123456 ok")
        await server_log_call
    assert all("abc.def" not in m and "RT123456" not in m for m in logs.messages())


async def test_a_retry_reaches_the_client_as_a_log_message(
    settings: Settings, emulator: Emulator
) -> None:
    logs = Logs()
    emulator.chaos.fail_requests(503, count=1)
    async with _client(settings, emulator, logs, mode="legacy") as client:
        await client.set_logging_level("info")
        found = await client.call_tool("find_customer", {"name": "Amy"})
    assert not found.is_error
    retries = [p.data for p in logs.received if "retrying in" in p.data["message"]]  # type: ignore[index]
    assert retries and all(p.level == "info" for p in logs.received)
    assert retries[0]["wait"] == "retry" and retries[0]["wait_seconds"] >= 0  # type: ignore[index]


async def test_errors_keep_their_code_when_logs_are_forwarded(
    settings: Settings, emulator: Emulator
) -> None:
    async with _client(settings, emulator, Logs(), mode="legacy") as client:
        await client.set_logging_level("debug")
        with pytest.raises(MCPError) as raised:
            await client.get_prompt("no_such_prompt", {})
    assert raised.value.error.code == INVALID_PARAMS
