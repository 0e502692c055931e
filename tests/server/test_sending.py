"""send_invoice through a real MCP client session, both eras."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from tests.server.conftest import connect, error_text

pytestmark = pytest.mark.anyio


def _invoice(emulator: Emulator, customer: str) -> dict[str, Any]:
    rows = emulator.backend.query(DEMO_REALM_ID, "SELECT * FROM Invoice")["QueryResponse"][
        "Invoice"
    ]
    return next(r for r in rows if r["CustomerRef"]["name"] == customer)


async def test_an_invoice_is_sent_once_then_again_only_when_asked(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    invoice = _invoice(emulator, "Søren Kierkegaard")
    async with connect(settings, emulator, mode) as s:
        sent = await s.call("send_invoice", {"id": invoice["Id"], "email": "soren@example.dk"})
        before = s.state()
        again = await s.call("send_invoice", {"doc_number": invoice["DocNumber"]})
        assert s.state() == before
        resent = await s.call("send_invoice", {"id": invoice["Id"], "resend": True})
        writes = (await s.resource("qbo://audit/recent"))["writes"]
    assert sent["already_sent"] is False and sent["email_status"] == "EmailSent"
    assert sent["sent_to"] == "soren@example.dk" and sent["delivery_time"]
    assert again["already_sent"] is True
    assert resent["already_sent"] is False
    stored = emulator.backend.read(DEMO_REALM_ID, "Invoice", invoice["Id"])["Invoice"]
    assert stored["DeliveryInfo"]["DeliveryType"] == "Email"
    assert stored["BillEmail"] == {"Address": "soren@example.dk"}
    assert [w["entity"] for w in writes if w["tool"] == "send_invoice"] == ["Invoice", "Invoice"]


async def test_no_address_or_a_bad_one_is_refused_and_nothing_changes(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    # Dylan Sollfrank has no e-mail address, so neither has his invoice.
    invoice = emulator.backend.write(
        DEMO_REALM_ID,
        "Invoice",
        {
            "CustomerRef": {"value": "8"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 10,
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ],
        },
    )["Invoice"]
    async with connect(settings, emulator, mode) as s:
        before = s.state()
        no_address = await s.fail("send_invoice", {"id": invoice["Id"]})
        bad = await s.fail("send_invoice", {"id": invoice["Id"], "email": "not an address"})
        assert s.state() == before
    assert "email" in no_address.lower() and "Fix:" in no_address
    assert "email" in bad


def test_the_emulator_answers_the_send_as_intuits_reference_shows() -> None:
    emulator = Emulator()
    invoice = _invoice(emulator, "Amy's Bird Sanctuary")
    answer = emulator.backend.send(
        DEMO_REALM_ID, "invoice", invoice["Id"], None, "2026-01-01T00:00:00-08:00"
    )
    sent = answer["Invoice"]
    assert sent["EmailStatus"] == "EmailSent"
    assert sent["DeliveryInfo"] == {
        "DeliveryType": "Email",
        "DeliveryTime": "2026-01-01T00:00:00-08:00",
    }
    assert int(sent["SyncToken"]) == int(invoice["SyncToken"]) + 1


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(["id", "doc_number", "email", "resend"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.sampled_from(["1", "3", "a@b.co", "x"]),
            st.text(max_size=8),
        ),
        max_size=3,
    )
)
def test_any_arguments_give_a_result_or_a_tool_error_that_writes_nothing(
    arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("sending") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool("send_invoice", arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
                assert s.state() == before, arguments
            else:
                assert result.structured_content is not None

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
