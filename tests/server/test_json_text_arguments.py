"""Text that looks like JSON reaches the tools exactly as the client sent it, in both eras.

The SDK decodes JSON text given for any parameter not annotated exactly `str`; our tools keep
that only for parameters that take no string (a list or an object sent as JSON text, a number
as text). A spy on `run_tool` records the arguments the tools receive, so each test checks what
arrived, not only what came back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator, EmulatorConfig
from qb_mcp.qbo.limiter import RealmLimiter
from qb_mcp.server import build_server
from qb_mcp.tools import base
from tests.server.conftest import MODES, TEST_LIMITS, error_text

FAULT_BODY = {
    "Fault": {
        "Error": [
            {
                "Message": "Duplicate Name Exists Error",
                "Detail": "The name supplied already exists. : Id=58",
                "code": "6240",
                "element": "",
            }
        ],
        "type": "ValidationFault",
    },
    "time": "2026-11-24T09:00:00.000-08:00",
}

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
# Strings a client may mean as text, each of them valid JSON.
JSON_LOOKING_TEXT = st.one_of(
    st.sampled_from(
        [
            "null",
            "true",
            "false",
            "0",
            "42",
            "-1.5",
            "1e400",
            "[]",
            "{}",
            '{"job": 42}',
            '["a", "b"]',
            '"quoted"',
            ' {"padded": true} ',
            json.dumps(FAULT_BODY),
        ]
    ),
    JSON_VALUES.map(json.dumps),
)


class Harness:
    """A server over the emulator, a client session in one era, and the arguments each call
    handed to `run_tool`."""

    def __init__(self, portal: BlockingPortal, client: Client, emulator: Emulator) -> None:
        self.portal = portal
        self.client = client
        self.emulator = emulator
        self.schemas: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The result, and the arguments the tool received."""
        self.received.clear()
        result = self.portal.call(self.client.call_tool, tool, arguments)
        assert len(self.received) == 1, (tool, arguments, error_text(result))
        return result, self.received[0]

    def state(self) -> str:
        return json.dumps(self.emulator.backend.snapshot(), sort_keys=True, default=str)


@pytest.fixture(scope="module", params=MODES)
def harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    home: Path = tmp_path_factory.mktemp("json-text") / "home"
    # Every example calls every tool: QuickBooks' 500 requests a minute would make it wait.
    emulator = Emulator(EmulatorConfig(requests_per_window=1_000_000, batch_per_window=1_000_000))
    server = build_server(
        Settings(home=home, environment="emulator"),
        emulator=emulator,
        limiter=RealmLimiter(TEST_LIMITS),
    )
    real_run_tool = base.run_tool
    with (
        pytest.MonkeyPatch.context() as patch,
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(Client(server, mode=request.param)) as client,
    ):
        found = Harness(portal, client, emulator)

        async def spying_run_tool(spec: Any, ctx: Any, arguments: dict[str, Any]) -> Any:
            found.received.append(dict(arguments))
            return await real_run_tool(spec, ctx, arguments)

        patch.setattr(base, "run_tool", spying_run_tool)
        for tool in portal.call(client.list_tools).tools:
            found.schemas[tool.name] = tool.input_schema
        yield found


def takes_text(schema: dict[str, Any]) -> bool:
    """Whether a parameter's schema accepts a string (its type, one of its types, or one of its
    options)."""
    declared = schema.get("type")
    if declared == "string" or (isinstance(declared, list) and "string" in declared):
        return True
    return any(takes_text(option) for option in schema.get("anyOf", []))


def text_parameters(schemas: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for tool, schema in sorted(schemas.items()):
        for name, parameter in sorted(schema.get("properties", {}).items()):
            if takes_text(parameter):
                found.append((tool, name))
    return found


# Arguments that make a call valid apart from the parameter under test, so that the text goes
# as deep as it can (most of these ids exist in the emulator's demo company).
CONTEXT: dict[str, dict[str, Any]] = {
    "create_estimate": {"customer_id": "1", "lines": [{"item_id": "1", "quantity": "1"}]},
    "record_payment": {"customer_id": "1", "amount": "1.00", "leave_credit": True},
    "query": {"query": "SELECT * FROM Customer"},
    "convert_estimate": {"estimate_id": "1"},
}


def test_every_text_parameter_of_every_tool_is_found(harness: Harness) -> None:
    # A guard for the property test below: it covers a parameter only if this finds it.
    found = set(text_parameters(harness.schemas))
    assert {
        ("explain_fault", "fault"),
        ("create_estimate", "memo"),
        ("record_payment", "memo"),
        ("record_payment", "amount"),
        ("upsert_customer", "notes"),
        ("find_customer", "name"),
        ("query", "query"),
    } <= found
    assert len(found) >= 40


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=JSON_LOOKING_TEXT)
def test_json_looking_text_in_every_text_parameter_arrives_unchanged(
    harness: Harness, text: str
) -> None:
    for tool, name in text_parameters(harness.schemas):
        arguments = {**CONTEXT.get(tool, {}), name: text}
        result, received = harness.call(tool, arguments)
        assert received[name] == text, (tool, name)
        assert type(received[name]) is str, (tool, name)
        if result.is_error:
            message = error_text(result)
            assert message.startswith(f"Error executing tool {tool}: "), message
            assert "Fix:" in message, message
        else:
            assert result.structured_content is not None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=JSON_LOOKING_TEXT, as_json_text=st.booleans())
def test_text_inside_lines_and_contacts_arrives_unchanged_even_when_they_come_as_json_text(
    harness: Harness, text: str, as_json_text: bool
) -> None:
    lines: Any = [{"item_id": "1", "quantity": "1", "description": text}]
    contacts: Any = [{"display_name": "Json Text Person", "notes": text}]
    if as_json_text:
        lines, contacts = json.dumps(lines), json.dumps(contacts)
    _, received = harness.call("create_estimate", {"customer_id": "1", "lines": lines})
    assert received["lines"][0]["description"] == text
    _, received = harness.call("upsert_customers", {"contacts": contacts})
    assert received["contacts"][0]["notes"] == text


def test_a_pasted_json_fault_body_is_explained(harness: Harness) -> None:
    result, received = harness.call("explain_fault", {"fault": json.dumps(FAULT_BODY)})
    assert received["fault"] == json.dumps(FAULT_BODY)
    assert not result.is_error, error_text(result)
    assert result.structured_content["explanation"]["codes"] == ["6240"]


def test_a_fault_body_given_as_a_json_object_is_explained(harness: Harness) -> None:
    result, _ = harness.call("explain_fault", {"fault": FAULT_BODY})
    assert not result.is_error, error_text(result)
    assert result.structured_content["explanation"]["codes"] == ["6240"]


def test_the_text_null_is_explained_not_taken_as_no_fault(harness: Harness) -> None:
    result, received = harness.call("explain_fault", {"fault": "null"})
    assert received == {"fault": "null"}
    assert not result.is_error, error_text(result)
    assert result.structured_content["explanation"] is not None
    assert result.structured_content["recent_faults"] == []


def test_a_memo_that_looks_like_json_is_written_as_text(harness: Harness) -> None:
    result, _ = harness.call(
        "create_estimate",
        {
            "customer_id": "1",
            "lines": [{"item_id": "1", "quantity": "2"}],
            "memo": '{"job": 42}',
            "idempotency_key": "json-memo-1",
        },
    )
    assert not result.is_error, error_text(result)
    assert result.structured_content["memo"] == '{"job": 42}'
    estimate_id = result.structured_content["id"]
    realms = harness.emulator.backend.snapshot()["realms"].values()
    written = [realm["objects"]["Estimate"][estimate_id] for realm in realms]
    assert written[0]["CustomerMemo"] == {"value": '{"job": 42}'}


def test_lists_objects_and_numbers_sent_as_json_text_are_still_decoded(harness: Harness) -> None:
    lines = [{"item_id": "1", "quantity": "3", "unit_price": "10.05"}]
    result, received = harness.call(
        "create_estimate",
        {"customer_id": "1", "lines": json.dumps(lines), "idempotency_key": "json-lines-1"},
    )
    assert received["lines"] == lines
    assert not result.is_error, error_text(result)
    assert result.structured_content["total"] == "30.15"

    result, received = harness.call("find_customer", {"name": "Amy", "limit": "1"})
    assert received["limit"] == 1
    assert not result.is_error, error_text(result)
    assert len(result.structured_content["matches"]) == 1

    result, received = harness.call(
        "upsert_customer",
        {"display_name": "Json Address Co", "billing_address": '{"city": "Reno"}'},
    )
    assert received["billing_address"] == {"city": "Reno"}
    assert not result.is_error, error_text(result)


def test_an_amount_sent_as_text_keeps_every_digit(harness: Harness) -> None:
    # Decoded as JSON it would be a float; the schema takes text, so it stays text.
    before = harness.state()
    result, received = harness.call(
        "record_payment", {"customer_id": "1", "amount": "0.1000000000000000055511151231257827"}
    )
    assert received["amount"] == "0.1000000000000000055511151231257827"
    assert result.is_error
    assert "amount" in error_text(result)
    assert harness.state() == before


def test_a_structured_parameter_given_text_that_is_not_its_type_is_refused(
    harness: Harness,
) -> None:
    # "null" for the lines is neither a list nor no lines: it is refused as it was sent.
    before = harness.state()
    result, received = harness.call("create_estimate", {"customer_id": "1", "lines": "null"})
    assert received["lines"] == "null"
    assert result.is_error
    assert "lines" in error_text(result)
    assert harness.state() == before
