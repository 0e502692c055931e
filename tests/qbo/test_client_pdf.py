"""`QBOClient.pdf`: a sales form's bytes through the same pipeline as JSON answers."""

from __future__ import annotations

import pytest

from qb_mcp.errors import InvalidArgumentError, NotFoundError
from qb_mcp.qbo.token_source import StaticTokenSource
from tests.qbo.pipeline_support import (
    REALM,
    RecordingTransport,
    Sleeps,
    make_client,
    roomy_emulator,
)

pytestmark = pytest.mark.anyio


async def test_the_pdf_is_asked_for_as_a_pdf_and_comes_back_as_bytes() -> None:
    emulator = roomy_emulator()
    transport = RecordingTransport(emulator)
    token = emulator.issue_tokens(REALM).access_token
    async with make_client(
        emulator, transport=transport, token_source=StaticTokenSource({REALM: token})
    ) as client:
        invoice = (await client.query("select * from Invoice"))["Invoice"][0]
        pdf = await client.pdf("invoice", invoice["Id"])
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    sent = transport.sent[-1]
    assert (sent.method, sent.path) == ("GET", f"/v3/company/{REALM}/invoice/{invoice['Id']}/pdf")
    assert sent.headers["accept"] == "application/pdf"
    assert sent.params["minorversion"] == ["75"]


async def test_a_failed_pdf_request_is_retried_like_any_other() -> None:
    emulator = roomy_emulator()
    sleeps = Sleeps()
    async with make_client(emulator, sleeps=sleeps) as client:
        invoice = (await client.query("select * from Invoice"))["Invoice"][0]
        emulator.chaos.fail_requests(503, count=2)
        pdf = await client.pdf("Invoice", invoice["Id"])
    assert pdf.startswith(b"%PDF-")
    assert sleeps.delays == [0.5, 1.0]


async def test_a_missing_invoice_is_quickbooks_not_found_fault() -> None:
    async with make_client(roomy_emulator()) as client:
        with pytest.raises(NotFoundError):
            await client.pdf("Invoice", "9999")
        with pytest.raises(InvalidArgumentError):
            await client.pdf("Customer", "1")  # not a sales form
